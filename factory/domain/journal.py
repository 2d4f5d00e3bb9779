"""The commune's double-entry journal, in integer cents.

Every entry balances: its debits add up to its credits, and each posting is a debit or a credit of more
than zero. A balance is debit − credit, so income, liabilities and a surplus show as negative balances.
A correction is never an edit: `reverse` makes the entry that undoes one, posted in a later period.

A period closes with `close_entries`: rent charged to each co-op's receivable; the bond service paid (the
interest an expense, the principal repaid off bonds payable); upkeep paid; the dividends declared out of
retained surplus; and income and expenses closed into retained surplus. The period's result is
rents − bond service − upkeep + the deficit carried in (<= 0): repaying principal is not an expense, but rent
must earn it before any surplus is paid out, so the closing entry sets the principal aside from the surplus
into `commune_capital` (the commune's own stake in its machines). After closing, retained surplus holds
exactly the deficit carried out (a credit of `carried_out`, which is <= 0), or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CASH = "cash"
RENT_INCOME = "rent_income"
UPKEEP = "upkeep"
BOND_INTEREST = "bond_interest"
BONDS_PAYABLE = "bonds_payable"
DIVIDENDS_PAYABLE = "dividends_payable"
RETAINED = "retained_surplus"  # a deficit carried forward shows here as a debit
CAPITAL = "commune_capital"  # bond principal repaid out of rent


def receivable(coop_slug: str) -> str:
    """The account of what one co-op owes in rent."""
    return f"rents_receivable:{coop_slug}"


def payable_to(member_id: int) -> str:
    """The account of the dividends owed to one member."""
    return f"{DIVIDENDS_PAYABLE}:{member_id}"


@dataclass(frozen=True)
class Posting:
    """One line of an entry: exactly one of debit and credit is more than zero (ValueError otherwise)."""

    account: str
    debit: int = 0
    credit: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.account, str) or not self.account:
            raise ValueError("a posting needs an account")
        for value in (self.debit, self.credit):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"amounts are int cents, not {type(value).__name__}")
        if self.debit < 0 or self.credit < 0 or (self.debit > 0) == (self.credit > 0):
            raise ValueError(f"{self.account}: a posting is a debit or a credit of more than zero, "
                             f"not debit {self.debit}, credit {self.credit}")


@dataclass(frozen=True)
class Entry:
    """A balanced transaction: at least two postings, total debits == total credits (ValueError otherwise)."""

    memo: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "postings", tuple(self.postings))
        if len(self.postings) < 2:
            raise ValueError("an entry needs at least two postings")
        debits = sum(p.debit for p in self.postings)
        credits = sum(p.credit for p in self.postings)
        if debits != credits:
            raise ValueError(f"unbalanced: debits {debits}, credits {credits}")


def reverse(entry: Entry, memo: str) -> Entry:
    """The entry that undoes `entry`: the same postings with debit and credit swapped."""
    return Entry(memo, tuple(Posting(p.account, debit=p.credit, credit=p.debit) for p in entry.postings))


def balances(entries: Iterable[Entry]) -> dict[str, int]:
    """Per account touched, debit − credit."""
    totals: dict[str, int] = {}
    for entry in entries:
        for p in entry.postings:
            totals[p.account] = totals.get(p.account, 0) + p.debit - p.credit
    return totals


@dataclass(frozen=True)
class PeriodFigures:
    """A period's totals in cents: rents charged, bond service due (interest + principal), upkeep, and the
    deficit carried in from the period before (<= 0; ValueError if positive)."""

    rents: int
    bond_service: int
    upkeep: int
    carried_in: int

    def __post_init__(self) -> None:
        if self.carried_in > 0:
            raise ValueError(f"only a deficit is carried in (<= 0), not {self.carried_in}")

    @property
    def surplus(self) -> int:
        """The period's own surplus (negative: deficit): rents − bond service − upkeep."""
        return self.rents - self.bond_service - self.upkeep

    @property
    def result(self) -> int:
        """The surplus after making good the deficit carried in."""
        return self.surplus + self.carried_in

    @property
    def payout(self) -> int:
        """What is divided among the members: a positive result, else 0."""
        return max(self.result, 0)

    @property
    def carried_out(self) -> int:
        """The deficit carried to the next period (<= 0), else 0."""
        return min(self.result, 0)


def close_entries(figures: PeriodFigures, rent_by_coop: Mapping[str, int], interest: int, principal: int,
                  upkeep: int, dividends: Mapping[int, int]) -> list[Entry]:
    """The period's entries, each balanced; amounts of zero make no posting and an entry with nothing to
    post is left out. The parts must add up to `figures` (rents, interest + principal = bond service,
    upkeep, dividends = payout): ValueError naming the one that does not. A negative rent (a co-op's
    correction) credits its receivable."""
    _agree("rents", sum(rent_by_coop.values()), figures.rents)
    _agree("bond service", interest + principal, figures.bond_service)
    _agree("upkeep", upkeep, figures.upkeep)
    _agree("dividends", sum(dividends.values()), figures.payout)
    if any(cents < 0 for cents in dividends.values()):
        raise ValueError("a dividend cannot be negative")
    rents = figures.rents
    drafts = [
        ("rent charged", [*(_line(receivable(slug), cents) for slug, cents in sorted(rent_by_coop.items())),
                          _line(RENT_INCOME, -rents)]),
        ("bond service", [_line(BOND_INTEREST, interest), _line(BONDS_PAYABLE, principal),
                          _line(CASH, -(interest + principal))]),
        ("upkeep", [_line(UPKEEP, upkeep), _line(CASH, -upkeep)]),
        ("dividends declared", [_line(RETAINED, figures.payout),
                                *(_line(payable_to(member), -cents) for member, cents in sorted(dividends.items()))]),
        ("period closed into retained surplus", [
            _line(RENT_INCOME, rents), _line(BOND_INTEREST, -interest), _line(UPKEEP, -upkeep),
            _line(CAPITAL, -principal), _line(RETAINED, -figures.surplus)]),
    ]
    entries = []
    for memo, lines in drafts:
        postings = tuple(p for p in lines if p is not None)
        if postings:
            entries.append(Entry(memo, postings))
    return entries


def _line(account: str, cents: int) -> Posting | None:
    """A debit for a positive amount, a credit for a negative one, nothing for zero."""
    if cents > 0:
        return Posting(account, debit=cents)
    if cents < 0:
        return Posting(account, credit=-cents)
    return None


def _agree(what: str, parts: int, total: int) -> None:
    if parts != total:
        raise ValueError(f"{what}: the parts add up to {parts}, the figures say {total}")
