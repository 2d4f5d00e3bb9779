"""A bond series' repayment schedule: a monthly annuity (French amortisation), in integer cents.

With r = annual_rate / 12 and n months, the payment is P·r / (1 − (1 + r)^−n), rounded half-up to the
cent, the same every month. Each month's interest is the balance before it times r, rounded half-up; the
rest of the payment repays principal. The last instalment repays the whole remaining balance (plus its
interest), so the balance ends at exactly 0 and the principals add up to P. At 0 % the principal is
repaid in equal parts, the remainder cents with the last one.

Instalments fall due monthly from the first due date, on the same day of the month, or the month's last
day when the month is shorter (a series due on the 31st is due Feb 28 or 29, then Mar 31).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from factory.domain.errors import InvalidInput

MAX_TERM_MONTHS = 600


@dataclass(frozen=True)
class Instalment:
    """One month of a schedule, in cents; `balance` is the principal still owed after it."""

    number: int
    due: date
    payment: int
    interest: int
    principal: int
    balance: int


def schedule(principal: int, annual_rate: Decimal, term_months: int, first_due: date) -> list[Instalment]:
    """The series' instalments, numbered from 1. Refused (InvalidInput): a principal that is not a whole
    number of cents above zero ("principal"), a rate outside 0 <= rate < 1 ("interest_rate", a Decimal
    fraction: 0.06 for 6 %), a term outside 1..600 months ("term_months")."""
    _check(principal, annual_rate, term_months)
    rate = Decimal(annual_rate)
    dues = [_add_months(first_due, k) for k in range(term_months)]
    if rate == 0:
        return _equal_parts(principal, term_months, dues)
    with localcontext() as wide:
        wide.prec = 50
        monthly = rate / 12
        payment = _cents(principal * monthly / (1 - (1 + monthly) ** -term_months))
        balance, rows = principal, []
        for number, due in enumerate(dues, start=1):
            interest = _cents(balance * monthly)
            repaid = balance if number == term_months else min(payment - interest, balance)
            balance -= repaid
            rows.append(Instalment(number, due, interest + repaid, interest, repaid, balance))
    return rows


def due_in(schedule: Sequence[Instalment], first_day: date, last_day: date) -> list[Instalment]:
    """The instalments due from `first_day` to `last_day`, both included, in schedule order."""
    return [row for row in schedule if first_day <= row.due <= last_day]


def balance_on(schedule: Sequence[Instalment], day: date, principal: int) -> int:
    """The principal still owed at the end of `day`: `principal` less every instalment due on or before it."""
    return principal - sum(row.principal for row in schedule if row.due <= day)


def _add_months(start: date, months: int) -> date:
    """`start` moved by whole months, on its own day of the month or the month's last day if shorter."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _equal_parts(principal: int, term_months: int, dues: list[date]) -> list[Instalment]:
    part = principal // term_months
    balance, rows = principal, []
    for number, due in enumerate(dues, start=1):
        repaid = balance if number == term_months else part
        balance -= repaid
        rows.append(Instalment(number, due, repaid, 0, repaid, balance))
    return rows


def _cents(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _check(principal: object, annual_rate: object, term_months: object) -> None:
    if not isinstance(principal, int) or isinstance(principal, bool) or principal <= 0:
        raise InvalidInput("the principal must be more than zero cents", field="principal", code="not_positive")
    if isinstance(annual_rate, bool) or not isinstance(annual_rate, Decimal | int):
        raise InvalidInput("give the interest rate as a decimal fraction (0.06 for 6 %)", field="interest_rate",
                           code="not_decimal")
    if not Decimal(annual_rate).is_finite() or not 0 <= annual_rate < 1:
        raise InvalidInput("the interest rate must be at least 0 and below 1 (0.06 for 6 %)",
                           field="interest_rate", code="out_of_range")
    if not isinstance(term_months, int) or isinstance(term_months, bool) or not 1 <= term_months <= MAX_TERM_MONTHS:
        raise InvalidInput(f"the term must be 1 to {MAX_TERM_MONTHS} months", field="term_months",
                           code="out_of_range")
