from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domain.errors import InvalidInput
from factory.domain.money import cents_for_minutes, decimal_text, format_cents, split_equally, to_cents

D = Decimal


# --- to_cents ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "cents"), [
    ("12.50", 1250), ("12.5", 1250), ("0.01", 1), ("-3.05", -305), ("+7", 700), (".5", 50), ("1234.", 123400),
    (" 4.20 ", 420), ("0.120", 12), (D("1234.56"), 123456), (D("-0.01"), -1), (D("1E+3"), 100000), (42, 4200),
    (-2, -200), (0, 0), ("12345678901234567890123456789.99", 1234567890123456789012345678999),
])
def test_decimal_euros_become_exact_integer_cents(amount, cents):
    assert to_cents(amount) == cents
    assert type(to_cents(amount)) is int


@pytest.mark.parametrize("amount", ["0.125", "1.001", D("0.005"), D("-12.345")])
def test_an_amount_finer_than_a_cent_is_refused(amount):
    with pytest.raises(InvalidInput) as raised:
        to_cents(amount)
    assert raised.value.field == "amount" and raised.value.code == "too_many_decimals"


@pytest.mark.parametrize("amount", [D("NaN"), D("Infinity"), D("-Infinity"), D("sNaN"), "NaN", "inf", "1e3",
                                    "1,234.50", "12 EUR", "€12", "", "  ", "-", ".", 1.5, True, None, [1]])
def test_what_is_not_a_finite_decimal_number_is_refused_on_the_amount_field(amount):
    with pytest.raises(InvalidInput) as raised:
        to_cents(amount)
    assert raised.value.field == "amount"


# --- format_cents ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("cents", "currency", "text"), [
    (123450, "EUR", "€1,234.50"), (-305, "EUR", "\u2212€3.05"), (0, "EUR", "€0.00"), (5, "EUR", "€0.05"),
    (-5, "eur", "\u2212€0.05"), (123456789, "EUR", "€1,234,567.89"), (123450, "CHF", "1,234.50 CHF"),
    (-99, "chf", "\u22120.99 CHF"), (100, "SEK", "1.00 SEK"),
])
def test_cents_are_shown_with_thousands_and_a_proper_minus_sign(cents, currency, text):
    assert format_cents(cents, currency) == text


def test_euros_are_the_default_currency():
    assert format_cents(100) == "€1.00"


def test_formatting_refuses_anything_but_int_cents():
    for value in (1.5, D("1"), "100", True):
        with pytest.raises(TypeError):
            format_cents(value)  # type: ignore[arg-type]


# --- split_equally -----------------------------------------------------------------------------------------

def test_the_remainder_cents_go_one_each_to_the_lowest_member_ids():
    assert split_equally(1001, [30, 10, 20]) == {10: 334, 20: 334, 30: 333}
    assert split_equally(2, [7, 3, 5]) == {3: 1, 5: 1, 7: 0}


def test_an_even_total_is_split_evenly_and_returned_in_id_order():
    parts = split_equally(900, [3, 1, 2])
    assert parts == {1: 300, 2: 300, 3: 300}
    assert list(parts) == [1, 2, 3]


def test_nothing_among_no_members_is_nothing():
    assert split_equally(0, []) == {}


def test_a_surplus_with_no_member_to_pay_it_to_is_refused():
    with pytest.raises(ValueError, match="no member"):
        split_equally(1, [])


def test_a_member_listed_twice_is_refused():
    with pytest.raises(ValueError, match="only once"):
        split_equally(100, [1, 2, 1])


def test_a_negative_total_is_refused():
    with pytest.raises(ValueError, match="negative"):
        split_equally(-1, [1])


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=10**12),
       st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=60, unique=True))
def test_split_parts_always_sum_to_the_total_and_differ_by_at_most_a_cent(total, members):
    parts = split_equally(total, members)
    assert sorted(parts) == sorted(members)
    assert sum(parts.values()) == total
    assert max(parts.values()) - min(parts.values()) <= 1
    # the bigger parts are the lowest ids
    ordered = [parts[m] for m in sorted(members)]
    assert ordered == sorted(ordered, reverse=True)


# --- cents_for_minutes -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("rate", "minutes", "cents"), [
    (1200, 60, 1200), (1200, 90, 1800), (1200, 1, 20), (1000, 1, 17),  # 16.67 → 17
    (30, 1, 1),  # 0.5 cent rounds up
    (90, 1, 2),  # 1.5 → 2
    (29, 1, 0),  # 0.483 → 0
    (1000, 0, 0), (0, 500, 0), (4550, 45, 3413),  # 3412.5 → 3413
])
def test_rent_for_minutes_is_rounded_half_up_to_the_cent(rate, minutes, cents):
    assert cents_for_minutes(rate, minutes) == cents


def test_rent_for_negative_minutes_or_rate_is_refused():
    with pytest.raises(ValueError):
        cents_for_minutes(1000, -1)
    with pytest.raises(ValueError):
        cents_for_minutes(-1000, 1)


@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=0, max_value=10**6))
def test_rent_for_minutes_is_within_half_a_cent_of_the_exact_amount(rate, minutes):
    exact = D(rate) * minutes / 60
    assert abs(cents_for_minutes(rate, minutes) - exact) <= D("0.5")


@pytest.mark.parametrize(("cents", "text"), [(1250, "12.50"), (-5, "-0.05"), (0, "0.00"), (100000, "1000.00"),
                                             (-123456, "-1234.56")])
def test_cents_are_written_as_plain_decimals_for_exports_and_the_api(cents, text):
    assert decimal_text(cents) == text
