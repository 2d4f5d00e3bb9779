import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domain.journal import (
    BOND_INTEREST,
    BONDS_PAYABLE,
    CAPITAL,
    CASH,
    RENT_INCOME,
    RETAINED,
    UPKEEP,
    Entry,
    PeriodFigures,
    Posting,
    balances,
    close_entries,
    payable_to,
    receivable,
    reverse,
)
from factory.domain.money import split_equally


def entry(*lines: tuple[str, int], memo: str = "test") -> Entry:
    """Postings from (account, signed cents): positive a debit, negative a credit."""
    return Entry(memo, tuple(Posting(a, debit=c) if c > 0 else Posting(a, credit=-c) for a, c in lines))


def opening(carried_in: int) -> list[Entry]:
    """The earlier periods' net effect: a deficit left in retained surplus, paid from cash."""
    return [entry((RETAINED, -carried_in), (CASH, carried_in))] if carried_in else []


def close(rents: dict[str, int], interest: int, principal: int, upkeep: int, carried_in: int = 0,
          members: tuple[int, ...] = (1, 2, 3)) -> tuple[PeriodFigures, list[Entry]]:
    figures = PeriodFigures(sum(rents.values()), interest + principal, upkeep, carried_in)
    dividends = split_equally(figures.payout, members) if figures.payout else {}
    return figures, close_entries(figures, rents, interest, principal, upkeep, dividends)


# --- accounts, postings and entries ------------------------------------------------------------------------

def test_the_account_names_are_stable_strings():
    assert receivable("wood-coop") == "rents_receivable:wood-coop"
    assert payable_to(42) == "dividends_payable:42"
    assert (CASH, RENT_INCOME, UPKEEP, BOND_INTEREST, BONDS_PAYABLE, RETAINED) == (
        "cash", "rent_income", "upkeep", "bond_interest", "bonds_payable", "retained_surplus")


@pytest.mark.parametrize(("debit", "credit"), [(0, 0), (5, 5), (-5, 0), (0, -5), (-5, 10)])
def test_a_posting_is_exactly_one_of_a_debit_and_a_credit_above_zero(debit, credit):
    with pytest.raises(ValueError):
        Posting(CASH, debit=debit, credit=credit)


def test_a_posting_amount_is_int_cents():
    with pytest.raises(TypeError):
        Posting(CASH, debit=1.5)  # type: ignore[arg-type]


def test_an_unbalanced_entry_is_refused_with_both_totals():
    with pytest.raises(ValueError, match="unbalanced: debits 100, credits 90"):
        Entry("x", (Posting(CASH, debit=100), Posting(UPKEEP, credit=90)))


def test_an_entry_needs_two_postings():
    with pytest.raises(ValueError, match="two postings"):
        Entry("x", (Posting(CASH, debit=100),))


def test_an_entry_keeps_its_postings_as_a_tuple():
    made = Entry("x", [Posting(CASH, debit=1), Posting(UPKEEP, credit=1)])  # type: ignore[arg-type]
    assert isinstance(made.postings, tuple)


def test_a_reversal_swaps_debits_and_credits_and_cancels_the_entry():
    original = entry((UPKEEP, 500), (BOND_INTEREST, 200), (CASH, -700), memo="march")
    undo = reverse(original, "correct march")
    assert undo.memo == "correct march"
    assert undo.postings == (Posting(UPKEEP, credit=500), Posting(BOND_INTEREST, credit=200), Posting(CASH, debit=700))
    assert set(balances([original, undo]).values()) == {0}


def test_balances_are_debit_minus_credit_per_account():
    assert balances([entry((CASH, 1000), (RENT_INCOME, -1000)), entry((UPKEEP, 300), (CASH, -300))]) == {
        CASH: 700, RENT_INCOME: -1000, UPKEEP: 300}


# --- period figures ----------------------------------------------------------------------------------------

def test_a_surplus_after_the_deficit_carried_in_is_paid_out():
    figures = PeriodFigures(rents=10000, bond_service=4000, upkeep=1000, carried_in=-2000)
    assert (figures.surplus, figures.result, figures.payout, figures.carried_out) == (5000, 3000, 3000, 0)


def test_a_deficit_is_carried_forward_and_nothing_is_paid_out():
    figures = PeriodFigures(rents=3000, bond_service=4000, upkeep=1000, carried_in=-500)
    assert (figures.result, figures.payout, figures.carried_out) == (-2500, 0, -2500)


def test_a_surplus_that_only_makes_good_part_of_the_deficit_carries_the_rest():
    figures = PeriodFigures(rents=9000, bond_service=4000, upkeep=1000, carried_in=-6000)
    assert (figures.surplus, figures.payout, figures.carried_out) == (4000, 0, -2000)


def test_only_a_deficit_can_be_carried_in():
    with pytest.raises(ValueError):
        PeriodFigures(0, 0, 0, 1)


# --- closing a period --------------------------------------------------------------------------------------

def test_a_period_in_deficit_declares_no_dividends():
    _, entries = close({"wood": 60000, "clay": 40000}, interest=6000, principal=97280, upkeep=5000)
    assert [e.memo for e in entries] == ["rent charged", "bond service", "upkeep",
                                         "period closed into retained surplus"]


def test_closing_a_period_with_a_surplus_books_rent_service_upkeep_dividends_and_the_close():
    _, entries = close({"wood": 160000, "clay": 40000}, interest=6000, principal=97280, upkeep=5000)
    memos = {e.memo: e for e in entries}
    assert memos["rent charged"].postings == (Posting(receivable("clay"), debit=40000),
                                              Posting(receivable("wood"), debit=160000),
                                              Posting(RENT_INCOME, credit=200000))
    assert memos["bond service"].postings == (Posting(BOND_INTEREST, debit=6000),
                                              Posting(BONDS_PAYABLE, debit=97280), Posting(CASH, credit=103280))
    assert memos["upkeep"].postings == (Posting(UPKEEP, debit=5000), Posting(CASH, credit=5000))
    # 200,000 − 103,280 − 5,000 = 91,720 among three members: 30,574, 30,573, 30,573
    assert memos["dividends declared"].postings == (Posting(RETAINED, debit=91720),
                                                    Posting(payable_to(1), credit=30574),
                                                    Posting(payable_to(2), credit=30573),
                                                    Posting(payable_to(3), credit=30573))
    after = balances(entries)
    assert after[RENT_INCOME] == after[BOND_INTEREST] == after[UPKEEP] == after[RETAINED] == 0
    assert after[CAPITAL] == -97280 and after[BONDS_PAYABLE] == 97280 and after[CASH] == -108280


def test_a_deficit_stays_in_retained_surplus_after_closing():
    figures, entries = close({"wood": 50000}, interest=6000, principal=50000, upkeep=4000, carried_in=-1500)
    assert figures.carried_out == -11500
    assert balances(opening(-1500) + entries)[RETAINED] == 11500  # a debit: the deficit carried out


def test_a_quiet_period_makes_no_entries():
    assert close({}, 0, 0, 0)[1] == []


def test_a_negative_rent_correction_credits_the_coops_receivable():
    _, entries = close({"wood": 10000, "clay": -2500}, interest=0, principal=0, upkeep=0, members=(1,))
    assert entries[0].postings == (Posting(receivable("clay"), credit=2500), Posting(receivable("wood"), debit=10000),
                                   Posting(RENT_INCOME, credit=7500))


@pytest.mark.parametrize(("rents", "interest", "principal", "upkeep", "dividends", "what"), [
    ({"wood": 100}, 0, 0, 0, {1: 100}, "rents"),
    ({"wood": 1000}, 10, 0, 0, {1: 1000}, "bond service"),
    ({"wood": 1000}, 0, 0, 5, {1: 1000}, "upkeep"),
    ({"wood": 1000}, 0, 0, 0, {1: 999}, "dividends"),
])
def test_close_entries_refuses_parts_that_do_not_add_up_to_the_figures(rents, interest, principal, upkeep,
                                                                        dividends, what):
    figures = PeriodFigures(rents=1000, bond_service=0, upkeep=0, carried_in=0)
    with pytest.raises(ValueError, match=what):
        close_entries(figures, rents, interest, principal, upkeep, dividends)


cents = st.integers(min_value=0, max_value=10**9)


@settings(max_examples=300)
@given(rents=st.dictionaries(st.sampled_from(["wood", "clay", "metal", "textile"]),
                             st.integers(min_value=-10**6, max_value=10**9), max_size=4),
       interest=cents, principal=cents, upkeep=cents, carried_in=st.integers(min_value=-10**9, max_value=0),
       members=st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=20, unique=True))
def test_every_close_balances_and_leaves_retained_surplus_at_the_deficit_carried_out(
        rents, interest, principal, upkeep, carried_in, members):
    figures, entries = close(rents, interest, principal, upkeep, carried_in, tuple(members))
    for made in entries:  # Entry checks itself; check again from the outside
        assert sum(p.debit for p in made.postings) == sum(p.credit for p in made.postings)
        assert len(made.postings) >= 2
    after = balances(opening(carried_in) + entries)
    assert sum(after.values()) == 0
    assert -after.get(RETAINED, 0) == figures.carried_out
    assert after.get(RENT_INCOME, 0) == after.get(BOND_INTEREST, 0) == after.get(UPKEEP, 0) == 0
    paid = sum(-after.get(payable_to(m), 0) for m in members)
    assert paid == figures.payout
