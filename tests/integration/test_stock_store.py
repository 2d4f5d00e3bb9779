"""The stock store on SQLite and PostgreSQL: moves change the derived figures as factory.domain.stock says,
the history always adds up to them, stock never goes below zero but by an adjustment, the database keeps
moves append-only, quantities stay exact, kanban cards are pulled once per shortage, and reservations made
at the same moment never over-reserve."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

import factory.db
from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.stock import Balance, InsufficientStock, Move, Reason, check, effect
from factory.models import Design, Job, Operation, ProductionOrder, Replenishment, RoutingStep, Site, StockMove
from factory.services.replenishment import cancel_card, expected_arrival, mark_ordered, mark_received, set_reorder_rule
from factory.services.sites import get_site
from factory.services.stock import (
    MaterialDraft,
    balance,
    balances,
    consume,
    create_material,
    get_material,
    list_materials,
    move_history,
    record_move,
    release,
    reserve,
    reserved_for,
    transfer,
    update_material,
)
from tests.integration.conftest import count, make_commune_with_site, make_coop

D = Decimal
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
JOIN_TIMEOUT_S = 120
_numbers = itertools.count(1)


# --- builders ------------------------------------------------------------------------------------------

def make_material(session, slug: str = "petg", unit: str = "g", name: str | None = None):
    return create_material(session, MaterialDraft(slug, name or slug.upper(), unit))


def make_stock(session, slug: str = "petg", *sites: str):
    """Sites (default `north`) and a material in grams; the material."""
    for site in sites or ("north",):
        make_commune_with_site(session, site)
    return make_material(session, slug)


def make_operations(session, how_many: int = 1) -> list[int]:
    """Operations of one job of one order (the orders service is not needed for the stock store)."""
    coop = make_coop(session, f"coop-{next(_numbers)}")
    step = RoutingStep(position=1, name="print", machine_kind="fdm_printer", minutes_per_unit=D("30"))
    design = Design(slug=f"stool-{coop.id}", name="Stool", licence="CERN-OHL-S-2.0",
                    source_url="https://example.org/stool", version="1", steps=[step])
    operations = [Operation(step=step, position=n + 1, duration_minutes=30) for n in range(how_many)]
    order = ProductionOrder(coop_id=coop.id, design=design, design_version="1", quantity=how_many,
                            needed_by=date(2027, 1, 1), placed_by="test",
                            jobs=[Job(number=1, quantity=how_many, operations=operations)])
    session.add(order)
    session.commit()
    return [operation.id for operation in operations]


def move(reason: str, quantity: str, note: str = "") -> Move:
    return Move(Reason(reason), D(quantity), note)


def book(session, reason: str, quantity: str, note: str = "", *, material: str = "petg", site: str = "north"):
    return record_move(session, material, site, move(reason, quantity, note), by="sam", now=NOW)


def site_id(session, slug: str = "north") -> int:
    return get_site(session, slug).id


def figures(session, material: str = "petg", site: str = "north") -> tuple[Decimal, Decimal, Decimal]:
    found = balance(session, get_material(session, material).id, site_id(session, site))
    return found.on_hand, found.reserved, found.available


def cards(session, status: str | None = None) -> list[Replenishment]:
    session.expire_all()
    query = select(Replenishment).order_by(Replenishment.id)
    if status is not None:
        query = query.where(Replenishment.status == status)
    return list(session.scalars(query))


# --- each move's effect --------------------------------------------------------------------------------

def test_each_move_changes_on_hand_reserved_and_available_as_the_domain_says(session):
    material = make_stock(session)
    steps = [("received", "10", "", "10", "0"), ("reserved", "4", "", "10", "4"), ("released", "1", "", "10", "3"),
             ("consumed", "2", "", "8", "1"), ("adjusted", "-0.5", "recount", "7.5", "1"),
             ("adjusted", "0.25", "found a spool", "7.75", "1"), ("scrapped", "0.75", "", "7", "1")]
    for reason, quantity, note, on_hand, reserved in steps:
        stored = book(session, reason, quantity, note)
        assert (stored.on_hand_delta, stored.reserved_delta) == effect(move(reason, quantity, note))
        assert (stored.reason, stored.material_id, stored.by) == (reason, material.id, "sam")
        assert figures(session) == (D(on_hand), D(reserved), D(on_hand) - D(reserved))


def test_transfer_books_an_out_and_an_in_move_sharing_the_out_moves_id(session):
    make_stock(session, "petg", "north", "south")
    book(session, "received", "10")
    book(session, "reserved", "3")
    out_row, in_row = transfer(session, "petg", "north", "south", D("4.5"), by="sam", note="for the stools", now=NOW)
    assert (out_row.reason, in_row.reason) == ("transferred_out", "transferred_in")
    assert out_row.transfer_id == in_row.transfer_id == out_row.id
    assert (out_row.site.slug, in_row.site.slug) == ("north", "south")
    assert figures(session) == (D("5.5"), D(3), D("2.5"))
    assert figures(session, site="south") == (D("4.5"), D(0), D("4.5"))


def test_transfer_of_more_than_is_available_stores_neither_move(session):
    make_stock(session, "petg", "north", "south")
    book(session, "received", "10")
    book(session, "reserved", "8")
    with pytest.raises(InsufficientStock) as refused:
        transfer(session, "petg", "north", "south", D(3), by="sam", now=NOW)
    session.rollback()
    assert refused.value.details()["available"] == "2.000"
    assert count(session, StockMove) == 2


def test_transfer_to_the_same_site_is_refused(session):
    make_stock(session)
    with pytest.raises(InvalidInput) as refused:
        transfer(session, "petg", "north", "north", D(1), by="sam", now=NOW)
    assert refused.value.field == "to_site"


def test_a_transfer_reason_alone_is_refused_by_record_move(session):
    make_stock(session)
    with pytest.raises(InvalidInput) as refused:
        book(session, "transferred_in", "5")
    assert refused.value.code == "use_transfer"


# --- the history adds up -------------------------------------------------------------------------------

SIMPLE = ["received", "reserved", "released", "consumed", "scrapped"]
MOVES = st.lists(st.one_of(
    st.tuples(st.sampled_from(SIMPLE), st.decimals(D("0.001"), D(40), places=3)),
    st.tuples(st.just("adjusted"), st.decimals(D(-40), D(40), places=3).filter(lambda q: q != 0)),
), max_size=10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=MOVES)
def test_history_always_sums_to_the_derived_figures(session, moves):
    if count(session, Site) == 0:
        make_commune_with_site(session, "north")
    material = make_material(session, f"m-{next(_numbers)}")  # a fresh material per example: no shared stock
    accepted: list[Move] = []
    for reason, quantity in moves:
        attempt = Move(Reason(reason), quantity, "count" if reason == "adjusted" else "")
        try:
            check(Balance.of(accepted), attempt)
        except InsufficientStock as expected:
            with pytest.raises(InsufficientStock) as refused:
                record_move(session, material.slug, "north", attempt, by="sam")
            session.rollback()
            assert refused.value.code == expected.code
            continue
        record_move(session, material.slug, "north", attempt, by="sam")
        accepted.append(attempt)
    derived = balance(session, material.id, site_id(session))
    history = move_history(session, material.slug, "north")
    assert derived == Balance.of(accepted)
    assert derived == Balance(sum((row.on_hand_delta for row in history), D(0)),
                              sum((row.reserved_delta for row in history), D(0)))
    assert derived == Balance.of(Move(Reason(row.reason), row.quantity, row.note) for row in history)
    assert len(history) == len(accepted)


# --- never below zero but by an adjustment -------------------------------------------------------------

@pytest.mark.parametrize(("reason", "quantity", "code"), [
    ("scrapped", "3.001", "insufficient_stock"),
    ("reserved", "3.5", "insufficient_stock"),
    ("consumed", "2", "not_reserved"),
    ("released", "1.001", "not_reserved"),
])
def test_a_move_the_stock_cannot_cover_is_a_409_and_nothing_is_stored(session, reason, quantity, code):
    make_stock(session)
    book(session, "received", "3")
    book(session, "reserved", "1")
    with pytest.raises(InsufficientStock) as refused:
        book(session, reason, quantity)
    session.rollback()
    assert (refused.value.status, refused.value.code, refused.value.field) == (409, code, "quantity")
    assert refused.value.details() == {"on_hand": "3.000", "reserved": "1.000", "available": "2.000",
                                       "asked": f"{D(quantity).quantize(D('0.001')):f}"}
    assert count(session, StockMove) == 2
    assert figures(session) == (D(3), D(1), D(2))


def test_an_adjustment_with_a_note_may_take_stock_below_zero(session):
    make_stock(session)
    book(session, "received", "2")
    book(session, "adjusted", "-5", "the last count was wrong")
    assert figures(session) == (D(-3), D(0), D(-3))
    with pytest.raises(InsufficientStock):
        book(session, "scrapped", "1")


def test_an_adjustment_without_a_note_is_refused(session):
    make_stock(session)
    with pytest.raises(InvalidInput) as refused:
        book(session, "adjusted", "-5", "  ")
    assert refused.value.field == "note"


# --- append-only in the database -----------------------------------------------------------------------

@pytest.mark.parametrize("statement", ["UPDATE stock_move SET quantity = 99 WHERE id = :id",
                                       "DELETE FROM stock_move WHERE id = :id"])
def test_the_database_refuses_to_change_or_delete_a_stock_move(session, statement):
    make_stock(session)
    stored = book(session, "received", "5")
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement), {"id": stored.id})
    session.rollback()
    assert session.scalar(select(StockMove.quantity).where(StockMove.id == stored.id)) == D(5)


# --- exact quantities ----------------------------------------------------------------------------------

def test_quantities_are_exact_decimals(session):
    make_stock(session)
    book(session, "received", "0.1")
    book(session, "received", "0.2")
    assert figures(session)[0] == D("0.3")
    assert f"{figures(session)[0]:f}" == "0.300"
    assert session.scalars(select(StockMove.quantity).order_by(StockMove.id)).all() == [D("0.100"), D("0.200")]
    book(session, "received", "999999999.999")
    book(session, "received", "0.001")
    assert f"{figures(session)[0]:f}" == "1000000000.300"


def test_more_than_three_decimals_are_refused(session):
    make_stock(session)
    with pytest.raises(InvalidInput) as refused:
        book(session, "received", "0.0001")
    assert (refused.value.field, refused.value.code) == ("quantity", "too_many_decimals")


# --- reorder points and kanban cards -------------------------------------------------------------------

def test_falling_below_the_reorder_point_opens_one_card_and_receiving_it_closes_the_loop(session):
    make_stock(session)
    book(session, "received", "600")
    set_reorder_rule(session, "petg", "north", D(500), D(1000))
    assert cards(session) == []
    book(session, "scrapped", "200")
    [card] = cards(session)
    assert (card.status, card.quantity, card.shortfall) == ("open", D(1000), D(100))
    book(session, "scrapped", "50")
    assert len(cards(session)) == 1

    expected = NOW + timedelta(days=3)
    mark_ordered(session, card.id, expected_at=expected, by="sam", note="from the filament co-op", now=NOW)
    assert expected_arrival(session, card.material_id, card.site_id) == expected
    book(session, "scrapped", "10")
    assert [c.status for c in cards(session)] == ["ordered"]

    mark_received(session, card.id, by="sam", now=NOW + timedelta(days=2))
    assert figures(session) == (D(1340), D(0), D(1340))
    [received] = move_history(session, "petg", limit=1)
    assert (received.reason, received.quantity) == ("received", D(1000))
    assert [c.status for c in cards(session)] == ["received"]
    assert expected_arrival(session, card.material_id, card.site_id) is None

    book(session, "scrapped", "900")
    assert [(c.status, c.shortfall) for c in cards(session)] == [("received", D(100)), ("open", D(60))]


def test_a_reservation_that_takes_available_below_the_reorder_point_opens_a_card(session):
    make_stock(session)
    book(session, "received", "300")
    set_reorder_rule(session, "petg", "north", D(100), D(250))
    [operation] = make_operations(session)
    reserve(session, get_material(session, "petg").id, site_id(session), D(250), operation, by="planner", now=NOW,
            commit=True)
    [card] = cards(session, "open")
    assert (card.quantity, card.shortfall) == (D(250), D(50))


def test_a_rule_set_below_the_current_stock_opens_a_card_at_once_and_a_larger_shortfall_orders_more(session):
    make_stock(session)
    book(session, "received", "100")
    set_reorder_rule(session, "petg", "north", "1500", "1000")
    [card] = cards(session, "open")
    assert (card.quantity, card.shortfall) == (D(1400), D(1400))


def test_receiving_a_different_quantity_books_what_arrived(session):
    make_stock(session)
    set_reorder_rule(session, "petg", "north", D(10), D(20))
    book(session, "received", "5")
    [card] = cards(session, "open")
    mark_received(session, card.id, by="sam", quantity="18.5", now=NOW)
    assert figures(session)[0] == D("23.5")


def test_a_card_cannot_be_ordered_for_the_past_nor_received_twice(session):
    make_stock(session)
    set_reorder_rule(session, "petg", "north", D(10), D(20))
    [card] = cards(session, "open")
    with pytest.raises(InvalidInput) as refused:
        mark_ordered(session, card.id, expected_at=NOW - timedelta(hours=1), by="sam", now=NOW)
    assert refused.value.field == "expected_at"
    mark_received(session, card.id, by="sam", now=NOW)
    with pytest.raises(Conflict):
        mark_received(session, card.id, by="sam", now=NOW)
    session.rollback()
    with pytest.raises(NotFound):
        cancel_card(session, 10**12, by="sam")
    assert count(session, StockMove) == 1


def test_a_cancelled_card_is_replaced_by_the_next_move_below_the_reorder_point(session):
    make_stock(session)
    book(session, "received", "5")
    set_reorder_rule(session, "petg", "north", D(10), D(20))
    [card] = cards(session, "open")
    cancel_card(session, card.id, by="sam", note="ordered by phone")
    assert cards(session, "open") == []
    book(session, "scrapped", "1")
    assert [c.shortfall for c in cards(session, "open")] == [D(6)]


# --- reservations for operations -----------------------------------------------------------------------

def test_release_gives_back_only_what_is_still_reserved_for_the_operation(session):
    material = make_stock(session)
    north = site_id(session)
    book(session, "received", "20")
    first, second = make_operations(session, 2)
    reserve(session, material.id, north, D(5), first, by="planner", now=NOW)
    reserve(session, material.id, north, D(3), second, by="planner", now=NOW)
    consume(session, material.id, north, first, by="planner", quantity=D(2), now=NOW, commit=True)
    assert reserved_for(session, first) == {(material.id, north): D(3)}

    released = release(session, material.id, north, first, by="planner", now=NOW, commit=True)
    assert (released.reason, released.quantity, released.operation_id) == ("released", D(3), first)
    assert release(session, material.id, north, first, by="planner", now=NOW) is None
    assert reserved_for(session, first) == {}
    assert reserved_for(session, second) == {(material.id, north): D(3)}
    assert figures(session) == (D(18), D(3), D(15))


def test_consume_takes_what_was_reserved_for_the_operation_and_never_more(session):
    material = make_stock(session)
    north = site_id(session)
    book(session, "received", "20")
    first, second = make_operations(session, 2)
    reserve(session, material.id, north, D(2), first, by="planner", now=NOW)
    reserve(session, material.id, north, D(6), second, by="planner", now=NOW, commit=True)
    with pytest.raises(InsufficientStock) as refused:
        consume(session, material.id, north, first, by="planner", quantity=D(3), now=NOW)
    session.rollback()
    assert refused.value.code == "not_reserved"
    consumed = consume(session, material.id, north, second, by="planner", now=NOW, commit=True)
    assert consumed.quantity == D(6)
    assert consume(session, material.id, north, second, by="planner", now=NOW) is None
    assert figures(session) == (D(14), D(2), D(12))


def race(db_url: str, attempts: list) -> list:
    """Each attempt (a function of a session) run by its own thread on its own engine, released at once by a
    barrier; what each returned or raised."""
    engines = [factory.db.make_engine(db_url) for _ in attempts]
    outcomes: list = [None] * len(attempts)
    barrier = threading.Barrier(len(attempts))

    def attempt(index: int) -> None:
        with factory.db.make_sessionmaker(engines[index])() as session:
            try:
                session.connection()  # connect before the start, so the attempts meet at the database
                barrier.wait(timeout=60)
                outcomes[index] = attempts[index](session)
            except Exception as exc:  # every outcome is asserted on by the test
                session.rollback()
                outcomes[index] = exc

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(len(attempts))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        assert not any(thread.is_alive() for thread in threads), "an attempt hung"
    finally:
        for engine in engines:
            engine.dispose()
    return outcomes


def test_concurrent_reservations_never_over_reserve(db_url, session):
    material = make_stock(session)
    north = site_id(session)
    book(session, "received", "10")
    operations = make_operations(session, 12)

    def reserving(operation_id):
        return lambda other: reserve(other, material.id, north, D("1.5"), operation_id, by="planner", commit=True)

    outcomes = race(db_url, [reserving(operation_id) for operation_id in operations])

    won = [outcome for outcome in outcomes if isinstance(outcome, StockMove)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, StockMove)]
    assert all(isinstance(outcome, InsufficientStock) for outcome in refused), refused
    assert len(won) == 6  # 6 x 1.5 = 9 fits in 10, a seventh would not
    on_hand, reserved, available = figures(session)
    assert available >= 0 and reserved == sum((move.quantity for move in won), D(0)) <= on_hand
    assert sum(len(reserved_for(session, operation_id)) for operation_id in operations) == 6


def test_concurrent_moves_below_the_reorder_point_open_one_card(db_url, session):
    make_stock(session)
    book(session, "received", "100")
    set_reorder_rule(session, "petg", "north", D(90), D(50))

    def scrapping(other):
        return record_move(other, "petg", "north", move("scrapped", "5"), by="sam")

    outcomes = race(db_url, [scrapping] * 8)

    assert all(isinstance(outcome, StockMove) for outcome in outcomes), outcomes
    assert [c.status for c in cards(session)] == ["open"]


# --- materials and the inventory page ------------------------------------------------------------------

def test_a_materials_unit_is_fixed_once_it_has_moves(session):
    make_stock(session)
    update_material(session, "petg", MaterialDraft("petg", "PETG black", "kg", "reclaimed", "from offcuts"))
    assert (get_material(session, "petg").unit, get_material(session, "petg").provenance) == ("kg", "reclaimed")
    book(session, "received", "1")
    with pytest.raises(Conflict) as refused:
        update_material(session, "petg", MaterialDraft("petg", "PETG black", "g"))
    session.rollback()
    assert refused.value.field == "unit"
    assert update_material(session, "petg", MaterialDraft("petg", "PETG", "kilograms")).name == "PETG"


def test_materials_are_found_by_slug_and_their_slugs_are_unique(session):
    make_stock(session)
    with pytest.raises(Conflict) as duplicate:
        make_material(session, "petg")
    assert duplicate.value.field == "slug"
    with pytest.raises(NotFound) as missing:
        get_material(session, "clay")
    assert missing.value.field == "material"
    with pytest.raises(InvalidInput) as bad_unit:
        make_material(session, "clay", unit="bucket")
    assert bad_unit.value.field == "unit"
    assert [m.slug for m in list_materials(session)] == ["petg"]


def test_the_inventory_lists_each_material_at_each_site_with_one_query_for_the_figures(session, engine):
    make_stock(session, "petg", "north", "south")
    make_material(session, "clay", unit="kg", name="Clay")
    set_reorder_rule(session, "clay", "south", D(5), D(20))
    book(session, "received", "7")
    book(session, "received", "2.5", material="clay", site="north")
    transfer(session, "petg", "north", "south", D(3), by="sam", now=NOW)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    lines = balances(session)

    sums = [sql for sql in statements if "sum(" in sql.lower()]
    assert len(sums) == 1 and "GROUP BY" in sums[0]
    shown = [(line.material.slug, line.site.slug, line.balance.on_hand, line.low, line.card is not None)
             for line in lines]
    assert shown == [("clay", "north", D("2.5"), False, False), ("clay", "south", D(0), True, True),
                     ("petg", "north", D(4), False, False), ("petg", "south", D(3), False, False)]
    assert [(line.material.slug, line.site.slug) for line in balances(session, "south")] == [
        ("clay", "south"), ("petg", "south")]
    assert session.scalar(select(func.count()).select_from(StockMove)) == 4
