from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domain.bonds import Instalment, balance_on, due_in, schedule
from factory.domain.errors import InvalidInput

D = Decimal

# €12,000.00 at 6 % a year over 12 months, due on the 31st. Worked by hand: r = 0.005,
# payment = 12000 × 0.005 / (1 − 1.005^−12) = 60 / 0.0580947 = 1032.7984 → €1,032.80; each month's interest
# is the balance before it × 0.005 rounded half-up (11,027.20 × 0.005 = 55.136 → 55.14; 9,066.99 × 0.005 =
# 45.33495 → 45.33); the last month repays the remaining 1,027.64 plus 5.14 interest.
SIX_PERCENT = [  # (due, payment, interest, principal, balance) in cents
    (date(2025, 1, 31), 103280, 6000, 97280, 1102720),
    (date(2025, 2, 28), 103280, 5514, 97766, 1004954),
    (date(2025, 3, 31), 103280, 5025, 98255, 906699),
    (date(2025, 4, 30), 103280, 4533, 98747, 807952),
    (date(2025, 5, 31), 103280, 4040, 99240, 708712),
    (date(2025, 6, 30), 103280, 3544, 99736, 608976),
    (date(2025, 7, 31), 103280, 3045, 100235, 508741),
    (date(2025, 8, 31), 103280, 2544, 100736, 408005),
    (date(2025, 9, 30), 103280, 2040, 101240, 306765),
    (date(2025, 10, 31), 103280, 1534, 101746, 205019),
    (date(2025, 11, 30), 103280, 1025, 102255, 102764),
    (date(2025, 12, 31), 103278, 514, 102764, 0),
]

# €5,000.00 at 4.5 % over 6 months, due on the 15th: r = 0.00375, 1.00375^6 = 1.0227120,
# payment = 18.75 / (1 − 1/1.0227120) = 18.75 / 0.0222077 = 844.30; 4,174.45 × 0.00375 = 15.654 → 15.65;
# 3,345.80 × 0.00375 = 12.54675 → 12.55; last: 841.18 + 3.15.
FOUR_AND_A_HALF = [
    (date(2025, 3, 15), 84430, 1875, 82555, 417445),
    (date(2025, 4, 15), 84430, 1565, 82865, 334580),
    (date(2025, 5, 15), 84430, 1255, 83175, 251405),
    (date(2025, 6, 15), 84430, 943, 83487, 167918),
    (date(2025, 7, 15), 84430, 630, 83800, 84118),
    (date(2025, 8, 15), 84433, 315, 84118, 0),
]

# €1,000.00 at 0 % over 3 months from Jan 31 of a leap year: 333.33, 333.33 and the last 333.34.
ZERO_PERCENT = [
    (date(2024, 1, 31), 33333, 0, 33333, 66667),
    (date(2024, 2, 29), 33333, 0, 33333, 33334),
    (date(2024, 3, 31), 33334, 0, 33334, 0),
]


def rows(table):
    return [Instalment(n, *row) for n, row in enumerate(table, start=1)]


@pytest.mark.parametrize(("principal", "rate", "term", "first_due", "table"), [
    (1200000, D("0.06"), 12, date(2025, 1, 31), SIX_PERCENT),
    (500000, D("0.045"), 6, date(2025, 3, 15), FOUR_AND_A_HALF),
    (100000, D("0"), 3, date(2024, 1, 31), ZERO_PERCENT),
])
def test_a_schedule_matches_its_hand_computed_table(principal, rate, term, first_due, table):
    assert schedule(principal, rate, term, first_due) == rows(table)


def test_twelve_thousand_at_six_percent_pays_1032_80_with_60_euros_interest_first():
    first = schedule(1200000, D("0.06"), 12, date(2025, 1, 1))[0]
    assert (first.payment, first.interest) == (103280, 6000)


def test_a_month_end_due_date_is_clamped_and_comes_back_to_the_31st():
    dues = [row.due for row in schedule(600000, D("0.03"), 5, date(2023, 12, 31))]
    assert dues == [date(2023, 12, 31), date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_a_series_due_on_the_30th_stays_on_the_30th_after_february():
    dues = [row.due for row in schedule(300000, D("0"), 3, date(2025, 1, 30))]
    assert dues == [date(2025, 1, 30), date(2025, 2, 28), date(2025, 3, 30)]


def test_a_zero_rate_schedule_with_too_few_cents_repays_it_all_at_the_end():
    assert [(r.principal, r.balance) for r in schedule(2, D(0), 3, date(2025, 1, 1))] == [(0, 2), (0, 2), (2, 0)]


def test_a_one_month_term_repays_principal_and_one_month_of_interest():
    assert schedule(100000, D("0.12"), 1, date(2025, 5, 1)) == [
        Instalment(1, date(2025, 5, 1), 101000, 1000, 100000, 0)]


@pytest.mark.parametrize(("principal", "rate", "term", "field"), [
    (0, D("0.05"), 12, "principal"), (-100, D("0.05"), 12, "principal"), (100.0, D("0.05"), 12, "principal"),
    (True, D("0.05"), 12, "principal"),
    (1000, D("-0.01"), 12, "interest_rate"), (1000, D("1"), 12, "interest_rate"), (1000, 0.05, 12, "interest_rate"),
    (1000, D("NaN"), 12, "interest_rate"), (1000, "0.05", 12, "interest_rate"),
    (1000, D("0.05"), 0, "term_months"), (1000, D("0.05"), 601, "term_months"),
])
def test_a_schedule_with_an_impossible_term_is_refused_naming_the_field(principal, rate, term, field):
    with pytest.raises(InvalidInput) as raised:
        schedule(principal, rate, term, date(2025, 1, 1))
    assert raised.value.field == field


def test_the_longest_term_is_600_months():
    rows_ = schedule(10**9, D("0.999"), 600, date(2025, 1, 31))
    assert len(rows_) == 600 and rows_[-1].due == date(2074, 12, 31) and rows_[-1].balance == 0


def test_due_in_takes_the_instalments_of_an_inclusive_range():
    rows_ = schedule(1200000, D("0.06"), 12, date(2025, 1, 31))
    assert [r.number for r in due_in(rows_, date(2025, 2, 1), date(2025, 2, 28))] == [2]
    assert [r.number for r in due_in(rows_, date(2025, 1, 31), date(2025, 3, 31))] == [1, 2, 3]
    assert due_in(rows_, date(2025, 2, 1), date(2025, 2, 27)) == []


def test_the_balance_on_a_day_is_what_is_left_after_the_instalments_due_by_then():
    rows_ = schedule(1200000, D("0.06"), 12, date(2025, 1, 31))
    assert balance_on(rows_, date(2025, 1, 30), 1200000) == 1200000
    assert balance_on(rows_, date(2025, 1, 31), 1200000) == 1102720
    assert balance_on(rows_, date(2025, 3, 15), 1200000) == 1004954
    assert balance_on(rows_, date(2030, 1, 1), 1200000) == 0


@settings(max_examples=300, deadline=None)
@given(principal=st.integers(min_value=1, max_value=10**11),
       rate=st.decimals(min_value=0, max_value=D("0.9999"), places=4),
       term=st.integers(min_value=1, max_value=600),
       first_due=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_a_schedule_repays_exactly_its_principal_and_ends_at_zero(principal, rate, term, first_due):
    rows_ = schedule(principal, rate, term, first_due)
    assert len(rows_) == term
    assert sum(r.principal for r in rows_) == principal
    assert rows_[-1].balance == 0
    balance = principal
    for r in rows_:
        assert r.payment == r.interest + r.principal and r.principal >= 0 and r.interest >= 0
        balance -= r.principal
        assert r.balance == balance >= 0
    assert all(a.due < b.due for a, b in zip(rows_, rows_[1:], strict=False))
    assert all(r.due.day == min(first_due.day, r.due.day) for r in rows_)
    if rate > 0:  # a level payment, until the last instalment or until a tiny principal is repaid early
        assert all(r.payment == rows_[0].payment for r in rows_[:-1] if r.balance > 0)
