"""Kanban cards and concurrent stock writes on SQLite and PostgreSQL: a card is pulled once per shortage and
closes its loop when received; reservations made at the same moment never over-reserve."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest

import factory.db
from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.stock import InsufficientStock
from factory.models import StockMove
from factory.services.replenishment import cancel_card, expected_arrival, mark_ordered, mark_received, set_reorder_rule
from factory.services.stock import (
    get_material,
    move_history,
    record_move,
    reserve,
    reserved_for,
)
from tests.integration.conftest import count
from tests.integration.stock_builders import NOW, book, cards, figures, make_operations, make_stock, move, site_id

D = Decimal
JOIN_TIMEOUT_S = 120



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


