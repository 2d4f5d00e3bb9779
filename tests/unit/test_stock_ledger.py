import contextlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domain.errors import Conflict, InvalidInput
from factory.domain.stock import (
    Balance,
    InsufficientStock,
    Move,
    Reason,
    check,
    effect,
    shortfall,
    transfer_moves,
)
from factory.domain.units import Unit

D = Decimal


def move(reason: Reason, quantity: str, note: str = "") -> Move:
    return Move(reason, D(quantity), note)


def balance(on_hand: str, reserved: str = "0") -> Balance:
    return Balance(D(on_hand), D(reserved))


# --- moves and their effects ---------------------------------------------------------------------------

@pytest.mark.parametrize(("reason", "quantity", "on_hand", "reserved"), [
    (Reason.RECEIVED, "5", "5", "0"),
    (Reason.RESERVED, "5", "0", "5"),
    (Reason.RELEASED, "5", "0", "-5"),
    (Reason.CONSUMED, "5", "-5", "-5"),
    (Reason.ADJUSTED, "5", "5", "0"),
    (Reason.ADJUSTED, "-5", "-5", "0"),
    (Reason.TRANSFERRED_OUT, "5", "-5", "0"),
    (Reason.TRANSFERRED_IN, "5", "5", "0"),
    (Reason.SCRAPPED, "5", "-5", "0"),
])
def test_each_reason_moves_on_hand_and_reserved_by_its_rule(reason, quantity, on_hand, reserved):
    assert effect(move(reason, quantity, note="recount")) == (D(on_hand), D(reserved))


def test_the_reason_codes_are_stable_strings():
    assert [r.value for r in Reason] == ["received", "reserved", "released", "consumed", "adjusted",
                                         "transferred_out", "transferred_in", "scrapped"]
    assert Reason.SCRAPPED.label == "Scrapped to melt"


def test_a_reason_read_back_as_text_becomes_the_enum():
    assert Move("received", D(1)).reason is Reason.RECEIVED  # type: ignore[arg-type]


def test_an_unknown_reason_is_refused_on_the_reason_field():
    with pytest.raises(InvalidInput) as raised:
        Move("stolen", D(1))  # type: ignore[arg-type]
    assert raised.value.field == "reason" and raised.value.code == "unknown_reason"


@pytest.mark.parametrize("reason", [r for r in Reason if r is not Reason.ADJUSTED])
@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_only_an_adjustment_may_have_a_quantity_that_is_not_positive(reason, quantity):
    with pytest.raises(InvalidInput) as raised:
        move(reason, quantity)
    assert raised.value.field == "quantity" and raised.value.code == "not_positive"


def test_an_adjustment_needs_a_reason():
    for note in ("", "   "):
        with pytest.raises(InvalidInput, match="an adjustment needs a reason") as raised:
            move(Reason.ADJUSTED, "-2", note)
        assert raised.value.field == "note" and raised.value.code == "note_required"


def test_an_adjustment_of_zero_is_refused():
    with pytest.raises(InvalidInput) as raised:
        move(Reason.ADJUSTED, "0", "nothing")
    assert raised.value.field == "quantity" and raised.value.code == "zero_quantity"


def test_a_float_quantity_is_a_programming_error():
    with pytest.raises(TypeError):
        Move(Reason.RECEIVED, 1.5)  # type: ignore[arg-type]


def test_a_nan_quantity_is_refused():
    with pytest.raises(InvalidInput):
        Move(Reason.RECEIVED, D("NaN"))


def test_a_transfer_is_one_move_out_and_one_move_in():
    out, into = transfer_moves(D("2.5"), note="to the east site")
    assert (out.reason, into.reason) == (Reason.TRANSFERRED_OUT, Reason.TRANSFERRED_IN)
    assert out.quantity == into.quantity == D("2.5") and out.note == into.note == "to the east site"


# --- balances ------------------------------------------------------------------------------------------

def test_the_balance_is_derived_from_the_moves():
    moves = [move(Reason.RECEIVED, "10"), move(Reason.RESERVED, "4"), move(Reason.CONSUMED, "3"),
             move(Reason.RELEASED, "1"), move(Reason.SCRAPPED, "0.5"), move(Reason.ADJUSTED, "-0.25", "spilt")]
    assert Balance.of(moves) == balance("6.25", "0")
    assert Balance.of([]) == Balance() == balance("0")


def test_available_is_on_hand_less_reserved():
    assert balance("10", "4").available == D(6)


def test_receiving_is_always_accepted():
    assert check(Balance(), move(Reason.RECEIVED, "1.5")) == balance("1.5")
    assert check(balance("-3"), move(Reason.TRANSFERRED_IN, "1")) == balance("-2")


def test_reserving_up_to_what_is_available_is_accepted():
    assert check(balance("10", "4"), move(Reason.RESERVED, "6")) == balance("10", "10")


def test_consuming_takes_from_on_hand_what_was_reserved():
    assert check(balance("10", "4"), move(Reason.CONSUMED, "4")) == balance("6", "0")


@pytest.mark.parametrize(("start", "refused", "code"), [
    (balance("10", "4"), move(Reason.RESERVED, "6.001"), "insufficient_stock"),
    (balance("10", "4"), move(Reason.SCRAPPED, "7"), "insufficient_stock"),
    (balance("10", "4"), move(Reason.TRANSFERRED_OUT, "7"), "insufficient_stock"),
    (balance("10", "4"), move(Reason.CONSUMED, "5"), "not_reserved"),
    (balance("10", "4"), move(Reason.RELEASED, "4.5"), "not_reserved"),
    (Balance(), move(Reason.SCRAPPED, "1"), "insufficient_stock"),
    (Balance(), move(Reason.RELEASED, "1"), "not_reserved"),
])
def test_a_move_the_balance_cannot_cover_is_a_conflict_on_the_quantity(start, refused, code):
    with pytest.raises(Conflict) as raised:
        check(start, refused)
    assert isinstance(raised.value, InsufficientStock)
    assert raised.value.code == code and raised.value.field == "quantity" and raised.value.status == 409


def test_a_refusal_tells_the_balance_and_what_was_asked():
    with pytest.raises(InsufficientStock) as raised:
        check(balance("1250", "1000"), move(Reason.RESERVED, "300"), unit=Unit.G)
    assert raised.value.message == "only 250 g available (1,000 g reserved), 300 g asked"
    assert raised.value.details() == {"on_hand": "1250", "reserved": "1000", "available": "250", "asked": "300"}


def test_an_adjustment_may_take_stock_below_zero():
    assert check(balance("2"), move(Reason.ADJUSTED, "-5", "counted: the spool was empty")) == balance("-3")


def test_an_adjustment_may_leave_less_on_hand_than_is_reserved():
    after = check(balance("5", "5"), move(Reason.ADJUSTED, "-2", "cracked sheet"))
    assert after == balance("3", "5") and after.available == D(-2)


def test_below_zero_nothing_may_leave_but_receipts_and_releases_still_help():
    short = balance("3", "5")  # an adjustment found 2 less than was reserved
    for refused in (move(Reason.RESERVED, "1"), move(Reason.SCRAPPED, "1"), move(Reason.TRANSFERRED_OUT, "1"),
                    move(Reason.CONSUMED, "4")):
        with pytest.raises(InsufficientStock):
            check(short, refused)
    assert check(short, move(Reason.RECEIVED, "1")) == balance("4", "5")
    assert check(short, move(Reason.RELEASED, "1")) == balance("3", "4")
    assert check(short, move(Reason.CONSUMED, "3")) == balance("0", "2")


# --- reordering ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "point", "quantity", "order"), [
    (balance("10"), "5", "20", None),
    (balance("5"), "5", "20", None),
    (balance("4.5"), "5", "20", "20"),
    (balance("10", "8"), "5", "20", "20"),
    (balance("-30"), "5", "20", "35"),
    (balance("0"), "5", "0", "5"),
])
def test_a_shortfall_orders_the_reorder_quantity_or_enough_to_reach_the_reorder_point(start, point, quantity,
                                                                                       order):
    expected = None if order is None else D(order)
    assert shortfall(start, D(point), D(quantity)) == expected


@pytest.mark.parametrize("field", ["reorder_point", "reorder_quantity"])
def test_a_negative_reorder_setting_is_refused(field):
    values = {"reorder_point": D(5), "reorder_quantity": D(5)} | {field: D(-1)}
    with pytest.raises(InvalidInput) as raised:
        shortfall(Balance(), **values)
    assert raised.value.field == field


# --- properties over random ledgers --------------------------------------------------------------------

QUANTITIES = st.one_of(st.integers(1, 5).map(D), st.decimals(min_value=D("0.001"), max_value=D(10), places=3))
PLAIN = [Reason.RECEIVED, *(r for r in Reason if r is not Reason.ADJUSTED)]  # receipts twice as often


@st.composite
def ledgers(draw, *, adjustments: bool = True) -> list[Move]:
    """Random moves whose quantities are often exactly what is reserved, available or on hand then, so that
    consumptions, releases and moves that just fit are common (the balance is followed only to bias them)."""
    reasons = PLAIN + ([Reason.ADJUSTED] if adjustments else [])
    ledger: list[Move] = []
    current = Balance()
    for _ in range(draw(st.integers(0, 40))):
        reason = draw(st.sampled_from(reasons))
        fits = [q for q in (current.reserved, current.available, current.on_hand) if q > 0]
        quantity = draw(st.one_of(QUANTITIES, st.sampled_from(fits)) if fits else QUANTITIES)
        if reason is Reason.ADJUSTED:
            entry = Move(reason, quantity * draw(st.sampled_from([1, -1])), "recount")
        else:
            entry = Move(reason, quantity)
        ledger.append(entry)
        with contextlib.suppress(InsufficientStock):
            current = check(current, entry)
    return ledger


def replay(ledger: list[Move]) -> list[tuple[Balance, Move, Balance | InsufficientStock]]:
    """Each move with the balance before it and the balance after, or the refusal."""
    steps: list[tuple[Balance, Move, Balance | InsufficientStock]] = []
    current = Balance()
    for entry in ledger:
        try:
            after: Balance | InsufficientStock = check(current, entry)
        except InsufficientStock as refused:
            after = refused
        steps.append((current, entry, after))
        if isinstance(after, Balance):
            current = after
    return steps


@settings(max_examples=200)
@given(ledgers())
def test_the_accepted_moves_add_up_to_the_step_by_step_balance(ledger):
    steps = replay(ledger)
    accepted = [entry for _, entry, after in steps if isinstance(after, Balance)]
    final = next((after for _, _, after in reversed(steps) if isinstance(after, Balance)), Balance())
    assert Balance.of(accepted) == final
    assert Balance.of(reversed(accepted)) == final


@settings(max_examples=200)
@given(ledgers())
def test_only_an_adjustment_takes_on_hand_or_available_below_zero_or_further_below(ledger):
    for before, entry, after in replay(ledger):
        if isinstance(after, Balance) and entry.reason is not Reason.ADJUSTED:
            assert after.on_hand >= min(before.on_hand, D(0))
            assert after.available >= min(before.available, D(0))


@settings(max_examples=200)
@given(ledgers(adjustments=False))
def test_without_adjustments_on_hand_and_available_never_go_below_zero(ledger):
    for _, _, after in replay(ledger):
        if isinstance(after, Balance):
            assert after.on_hand >= 0 and after.available >= 0


@settings(max_examples=200)
@given(ledgers())
def test_reserved_never_goes_below_zero_and_nothing_is_consumed_that_was_not_reserved(ledger):
    totals = dict.fromkeys(Reason, D(0))
    for _, entry, after in replay(ledger):
        if isinstance(after, Balance):
            assert after.reserved >= 0
            totals[entry.reason] += entry.quantity
    assert totals[Reason.CONSUMED] <= totals[Reason.RESERVED]
    assert totals[Reason.CONSUMED] + totals[Reason.RELEASED] <= totals[Reason.RESERVED]


@settings(max_examples=200)
@given(ledgers())
def test_a_move_is_refused_only_when_it_breaks_a_rule(ledger):
    for before, entry, after in replay(ledger):
        if isinstance(after, InsufficientStock):
            assert entry.reason is not Reason.ADJUSTED
            on_hand_delta, reserved_delta = effect(entry)
            unchecked = Balance(before.on_hand + on_hand_delta, before.reserved + reserved_delta)
            over_reserved = entry.reason in (Reason.RELEASED, Reason.CONSUMED) and entry.quantity > before.reserved
            assert (after.code == "not_reserved") == over_reserved
            assert over_reserved or (unchecked.on_hand < min(before.on_hand, D(0))
                                     or unchecked.available < min(before.available, D(0)))


@given(st.decimals(min_value=-100, max_value=100, places=3), st.decimals(min_value=0, max_value=100, places=3),
       st.decimals(min_value=0, max_value=100, places=3), st.decimals(min_value=0, max_value=100, places=3))
def test_an_order_brings_available_back_to_the_reorder_point_and_is_at_least_the_reorder_quantity(
        on_hand, reserved, point, quantity):
    start = Balance(on_hand, reserved)
    order = shortfall(start, point, quantity)
    if start.available >= point:
        assert order is None
    else:
        assert order is not None and order >= quantity and start.available + order >= point
