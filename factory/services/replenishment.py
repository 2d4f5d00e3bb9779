"""Reorder rules and the life of a kanban card: opened when stock runs low or an operation is short, marked
ordered (with the expected arrival that short operations wait for) and received (booking the delivery)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.stock import Move, Reason
from factory.domain.units import parse_quantity
from factory.models import ReorderRule, Replenishment, utcnow
from factory.services.machine_time import is_row_id
from factory.services.sites import get_site
from factory.services.stock import (
    OPEN_CARDS,
    done,
    get_material,
    material_by_id,
    pull_in_turn,
    take_stock_turn,
    write_move,
)


def set_reorder_rule(session: Session, material_slug: str, site_slug: str, reorder_point: Decimal | str,
                     reorder_quantity: Decimal | str, *, now: datetime | None = None,
                     commit: bool = True) -> ReorderRule:
    """Set when to reorder a material at a site; a card is opened at once if stock is already below it."""
    point = parse_quantity(reorder_point, field="reorder_point")
    quantity = parse_quantity(reorder_quantity, field="reorder_quantity")
    if quantity == 0:
        raise InvalidInput("must be more than zero", field="reorder_quantity", code="not_positive")
    material, site = get_material(session, material_slug), get_site(session, site_slug)
    take_stock_turn(session, material.id, site.id)
    rule = session.get(ReorderRule, (material.id, site.id))
    if rule is None:
        rule = ReorderRule(material_id=material.id, site_id=site.id)
        session.add(rule)
    rule.reorder_point, rule.reorder_quantity = point, quantity
    session.flush()
    pull_in_turn(session, material.id, site.id, now=now)
    done(session, commit)
    return rule


def pull_for_demand(session: Session, material_id: int, site_id: int, missing: Decimal, *,
                    now: datetime | None = None) -> Replenishment | None:
    """An operation is short of `missing`: open a card for at least that (and the reorder quantity, and back
    up to the reorder point, when there is a rule) unless one is open or ordered already."""
    take_stock_turn(session, material_id, site_id)
    if session.scalars(select(Replenishment.id).where(
            Replenishment.material_id == material_id, Replenishment.site_id == site_id,
            Replenishment.status.in_(OPEN_CARDS))).first():
        return None
    rule = session.get(ReorderRule, (material_id, site_id))
    quantity = missing
    if rule is not None:
        quantity = max(missing + rule.reorder_point, rule.reorder_quantity)
    card = Replenishment(material_id=material_id, site_id=site_id, status="open", quantity=quantity,
                         shortfall=missing, created_at=now or utcnow())
    session.add(card)
    session.flush()
    return card


def mark_ordered(session: Session, card_id: int, *, expected_at: datetime, by: str, note: str = "",
                 now: datetime | None = None, commit: bool = True) -> Replenishment:
    now = now or utcnow()
    if expected_at.tzinfo is None or expected_at <= now:
        raise InvalidInput("give the expected arrival as a time in the future", field="expected_at")
    card = _card_in_turn(session, card_id, ("open",), "ordered")
    card.status, card.ordered_at, card.ordered_by, card.expected_at = "ordered", now, by[:32], expected_at
    card.supplier_note = (note or "").strip()
    done(session, commit)
    return card


def mark_received(session: Session, card_id: int, *, by: str, quantity: Decimal | str | None = None,
                  now: datetime | None = None, commit: bool = True) -> Replenishment:
    """Close an open or ordered card and book the `received` move of its quantity (or `quantity`)."""
    now = now or utcnow()
    card = _card_in_turn(session, card_id, OPEN_CARDS, "received")
    amount = card.quantity if quantity is None else parse_quantity(quantity, field="quantity")
    move = Move(Reason.RECEIVED, amount, f"kanban card {card.id}")
    card.status, card.received_at, card.received_by = "received", now, by[:32]
    session.flush()
    write_move(session, material_by_id(session, card.material_id), card.site_id, move, by=by, now=now)
    done(session, commit)
    return card


def cancel_card(session: Session, card_id: int, *, by: str, note: str = "", commit: bool = True) -> Replenishment:
    """Cancel an open or ordered card. No new card is pulled until the next move below the reorder point."""
    card = _card_in_turn(session, card_id, OPEN_CARDS, "cancelled")
    card.status = "cancelled"
    said = f": {note.strip()}" if (note or "").strip() else ""
    card.supplier_note = "\n".join(filter(None, [card.supplier_note, f"Cancelled by {by}{said}"]))
    done(session, commit)
    return card


def expected_arrival(session: Session, material_id: int, site_id: int) -> datetime | None:
    """When the earliest ordered card of the material at the site is expected, if any is ordered."""
    return session.scalar(select(func.min(Replenishment.expected_at)).where(
        Replenishment.material_id == material_id, Replenishment.site_id == site_id,
        Replenishment.status == "ordered"))


def _card_in_turn(session: Session, card_id: int, allowed: tuple[str, ...], action: str) -> Replenishment:
    """The card, read again under its material's stock turn, if its status allows `action`."""
    card = session.get(Replenishment, card_id) if is_row_id(card_id) else None
    if card is None:
        raise NotFound(f"no replenishment card {card_id}", field="card")
    take_stock_turn(session, card.material_id, card.site_id)
    session.refresh(card)
    if card.status not in allowed:
        raise Conflict(f"this card is {card.status}; it cannot be {action}", field="status")
    return card
