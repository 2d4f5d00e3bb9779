"""The stock store on SQLite and PostgreSQL: moves change the derived figures as factory.domain.stock says,
the history always adds up to them, stock never goes below zero but by an adjustment, the database keeps
moves append-only, quantities stay exact, reservations are per operation (kanban cards and races:
test_stock_replenishment.py)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.stock import Balance, InsufficientStock, Move, Reason, check, effect
from factory.models import Site, StockMove
from factory.services.replenishment import set_reorder_rule
from factory.services.stock import (
    MaterialDraft,
    balance,
    balances,
    consume,
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
from tests.integration.conftest import count, make_commune_with_site
from tests.integration.stock_builders import (
    NOW,
    book,
    figures,
    make_material,
    make_operations,
    make_stock,
    move,
    site_id,
)

D = Decimal
_numbers = itertools.count(1)


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
