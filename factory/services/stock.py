"""Materials and their stock per site: moves booked under the material's write turn, reservations for
operations, and demand-pull replenishment (a kanban card when available stock falls below a reorder point).

Every write first takes the material's stock turn (`take_stock_turn`), then reads the balance it checks
against, so of two reservations made at once the second sees the first. On hand, reserved and available are
sums over `stock_move`, never stored; the rules of each move are factory.domain.stock's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.identifiers import check_slug, check_text
from factory.domain.stock import Balance, InsufficientStock, Move, Reason, check, effect, shortfall, transfer_moves
from factory.domain.units import Unit, parse_quantity, parse_unit
from factory.models import DesignMaterial, Material, ReorderRule, Replenishment, Site, StockMove, utcnow
from factory.services.machine_time import is_row_id
from factory.services.sites import get_site
from factory.services.write_turn import take_write_turn

PROVENANCES = ("new", "reclaimed")
OPEN_CARDS = ("open", "ordered")
HISTORY = 200
_STEP = Decimal("0.001")
_THOUSANDTHS = 1000


@dataclass(frozen=True)
class MaterialDraft:
    slug: str
    name: str
    unit: str
    provenance: str = "new"
    description: str = ""


@dataclass(frozen=True)
class StockLine:
    """One material at one site, for the inventory page: its balance, reorder rule and open/ordered card."""

    material: Material
    site: Site
    balance: Balance
    rule: ReorderRule | None = None
    card: Replenishment | None = None

    @property
    def low(self) -> bool:
        return self.rule is not None and self.balance.available < self.rule.reorder_point


# --- materials -----------------------------------------------------------------------------------------

def create_material(session: Session, draft: MaterialDraft, *, commit: bool = True) -> Material:
    slug = check_slug(draft.slug, field="slug")
    if session.scalars(select(Material.id).where(Material.slug == slug)).first() is not None:
        raise Conflict(f"a material {slug!r} already exists", field="slug")
    material = Material(slug=slug)
    _apply(material, draft)
    session.add(material)
    try:
        done(session, commit)
    except IntegrityError:  # the same slug created a moment ago by someone else
        session.rollback()
        raise Conflict(f"a material {slug!r} already exists", field="slug") from None
    return material


def update_material(session: Session, slug: str, draft: MaterialDraft, *, commit: bool = True) -> Material:
    """Change a material's name, unit, provenance or description; its slug stays. The unit is fixed once
    the material has stock moves (they are quantities in it)."""
    material = get_material(session, slug)
    unit = parse_unit(draft.unit, field="unit")
    if unit.value != material.unit:
        take_stock_turn(session, material.id)
        if session.scalars(select(StockMove.id).where(StockMove.material_id == material.id)).first():
            raise Conflict(f"{material.name} has stock moves in {material.unit}; its unit cannot change",
                           field="unit")
        used = session.scalars(select(DesignMaterial.id).where(DesignMaterial.material_id == material.id)).first()
        ruled = session.scalars(select(ReorderRule.material_id).where(ReorderRule.material_id == material.id)).first()
        if used is not None or ruled is not None:
            raise Conflict(f"designs or reorder rules count {material.name} in {material.unit}; its unit cannot "
                           "change", field="unit")
    _apply(material, draft)
    done(session, commit)
    return material


def list_materials(session: Session) -> list[Material]:
    return list(session.scalars(select(Material).order_by(Material.name, Material.id)))


def get_material(session: Session, slug: str) -> Material:
    material = session.scalars(select(Material).where(Material.slug == slug)).one_or_none()
    if material is None:
        raise NotFound(f"no material {slug!r}", field="material")
    return material


# --- the write turn and the figures --------------------------------------------------------------------

def take_stock_turn(session: Session, material_id: int, site_id: int | None = None) -> None:
    """Serialise stock writes of one material. The turn covers the material at every site (a transfer moves
    it between two), so `site_id` only says which stock the caller is about to change."""
    take_write_turn(session, select(Material.id).where(Material.id == material_id))


def balance(session: Session, material_id: int, site_id: int) -> Balance:
    row = session.execute(select(*_sums()).where(StockMove.material_id == material_id,
                                                 StockMove.site_id == site_id)).one()
    return Balance(_decimal(row[0]), _decimal(row[1]))


def balances(session: Session, site_slug: str | None = None) -> list[StockLine]:
    """Every material at every site with moves or a reorder rule (at one site if given), by material name."""
    site_id = None if site_slug is None else get_site(session, site_slug).id
    sums = select(StockMove.material_id, StockMove.site_id, *_sums()).group_by(StockMove.material_id,
                                                                               StockMove.site_id)
    rules, cards = select(ReorderRule), select(Replenishment).where(Replenishment.status.in_(OPEN_CARDS))
    if site_id is not None:
        sums, rules = sums.where(StockMove.site_id == site_id), rules.where(ReorderRule.site_id == site_id)
        cards = cards.where(Replenishment.site_id == site_id)
    figures = {(m, s): Balance(_decimal(on_hand), _decimal(reserved))
               for m, s, on_hand, reserved in session.execute(sums)}
    rule_of = {(rule.material_id, rule.site_id): rule for rule in session.scalars(rules)}
    card_of: dict[tuple[int, int], Replenishment] = {}
    for card in session.scalars(cards.order_by(Replenishment.id)):
        card_of.setdefault((card.material_id, card.site_id), card)
    pairs = set(figures) | set(rule_of) | set(card_of)
    materials = {m.id: m for m in session.scalars(select(Material).where(Material.id.in_({m for m, _ in pairs})))}
    sites = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_({s for _, s in pairs})))}
    lines = [StockLine(materials[m], sites[s], figures.get((m, s), Balance()), rule_of.get((m, s)),
                       card_of.get((m, s))) for m, s in pairs]
    return sorted(lines, key=lambda line: (line.material.name, line.material.id, line.site.name, line.site.id))


def move_history(session: Session, material_slug: str, site_slug: str | None = None,
                 limit: int = HISTORY) -> list[StockMove]:
    """A material's moves, newest first (at one site if given)."""
    material = get_material(session, material_slug)
    query = (select(StockMove).options(joinedload(StockMove.site)).where(StockMove.material_id == material.id)
             .order_by(StockMove.at.desc(), StockMove.id.desc()).limit(limit))
    if site_slug is not None:
        query = query.where(StockMove.site_id == get_site(session, site_slug).id)
    return list(session.scalars(query))


# --- moves ---------------------------------------------------------------------------------------------

def record_move(session: Session, material_slug: str, site_slug: str, move: Move, *, by: str,
                operation_id: int | None = None, now: datetime | None = None, commit: bool = True) -> StockMove:
    """Book one move checked against the current balance (InsufficientStock, nothing stored, if it cannot be
    made), then open a kanban card if stock fell below the reorder point. Transfers go through `transfer`."""
    if move.reason in (Reason.TRANSFERRED_OUT, Reason.TRANSFERRED_IN):
        raise InvalidInput("a transfer is two moves between sites; make it as a transfer", field="reason",
                           code="use_transfer")
    material = get_material(session, material_slug)
    site = get_site(session, site_slug)
    take_stock_turn(session, material.id, site.id)
    stored = write_move(session, material, site.id, move, by=by, now=now, operation_id=operation_id)
    done(session, commit)
    return stored


def transfer(session: Session, material_slug: str, from_site: str, to_site: str, quantity: Decimal, *, by: str,
             note: str = "", now: datetime | None = None, commit: bool = True) -> tuple[StockMove, StockMove]:
    """Move stock between sites: (out, in), one transaction, both with the out move's id as transfer_id."""
    material = get_material(session, material_slug)
    source, destination = get_site(session, from_site), get_site(session, to_site)
    if source.id == destination.id:
        raise InvalidInput("pick another site to transfer to", field="to_site", code="same_site")
    out_move, in_move = transfer_moves(quantity, note=note)
    take_stock_turn(session, material.id, source.id)
    transfer_id = _next_move_id(session)  # rows are never updated, so the id is known before the insert
    out_row = write_move(session, material, source.id, out_move, by=by, now=now, transfer_id=transfer_id,
                     move_id=transfer_id)
    in_row = write_move(session, material, destination.id, in_move, by=by, now=now, transfer_id=transfer_id)
    done(session, commit)
    return out_row, in_row


# --- reservations for operations (the orders service calls these; they commit only if asked) ---------

def reserve(session: Session, material_id: int, site_id: int, quantity: Decimal, operation_id: int, *, by: str,
            now: datetime | None = None, commit: bool = False) -> StockMove:
    """Reserve `quantity` for an operation (InsufficientStock if not that much is available)."""
    return _book(session, material_id, site_id, Move(Reason.RESERVED, quantity), operation_id, by=by, now=now,
                 commit=commit)


def release(session: Session, material_id: int, site_id: int, operation_id: int, *, by: str,
            now: datetime | None = None, commit: bool = False) -> StockMove | None:
    """Release what is still reserved for the operation (None when nothing is)."""
    take_stock_turn(session, material_id, site_id)
    held = _held(session, material_id, site_id, operation_id)
    if held <= 0:
        return None
    return _book(session, material_id, site_id, Move(Reason.RELEASED, held), operation_id, by=by, now=now,
                 commit=commit)


def consume(session: Session, material_id: int, site_id: int, operation_id: int, *, by: str,
            quantity: Decimal | None = None, now: datetime | None = None, commit: bool = False) -> StockMove | None:
    """Consume what is reserved for the operation, or `quantity` of it (InsufficientStock "not_reserved" if
    more); None when nothing is reserved and no quantity is given."""
    take_stock_turn(session, material_id, site_id)
    held = _held(session, material_id, site_id, operation_id)
    if quantity is None and held <= 0:
        return None
    quantity = held if quantity is None else quantity
    if quantity > held:
        raise InsufficientStock(f"only {held:f} is reserved for this operation, cannot consume {quantity:f}",
                                balance=balance(session, material_id, site_id), asked=quantity, code="not_reserved")
    return _book(session, material_id, site_id, Move(Reason.CONSUMED, quantity), operation_id, by=by, now=now,
                 commit=commit)


def reserved_for(session: Session, operation_id: int) -> dict[tuple[int, int], Decimal]:
    """What is still reserved for the operation, by (material id, site id)."""
    rows = session.execute(select(StockMove.material_id, StockMove.site_id, _sum(StockMove.reserved_delta))
                           .where(StockMove.operation_id == operation_id)
                           .group_by(StockMove.material_id, StockMove.site_id))
    return {(m, s): _decimal(held) for m, s, held in rows if _decimal(held) > 0}


# --- kanban: the pull (the cards' own life is in services/replenishment.py) ---------------------------

def pull_replenishment(session: Session, material_id: int, site_id: int, *,
                       now: datetime | None = None) -> Replenishment | None:
    """Open a kanban card when available stock is below the reorder point and no card is open or ordered for
    the material at the site; the new card, or None. Stored with the caller's transaction."""
    take_stock_turn(session, material_id, site_id)
    return pull_in_turn(session, material_id, site_id, now=now)


# --- helpers -------------------------------------------------------------------------------------------

def _book(session: Session, material_id: int, site_id: int, move: Move, operation_id: int, *, by: str,
          now: datetime | None, commit: bool) -> StockMove:
    material = material_by_id(session, material_id)
    take_stock_turn(session, material_id, site_id)
    stored = write_move(session, material, site_id, move, by=by, now=now, operation_id=operation_id)
    done(session, commit)
    return stored


def write_move(session: Session, material: Material, site_id: int, move: Move, *, by: str, now: datetime | None,
           operation_id: int | None = None, transfer_id: int | None = None,
           move_id: int | None = None) -> StockMove:
    """Check and store one move under the stock turn the caller holds, then pull replenishment."""
    now = now or utcnow()
    move = Move(move.reason, parse_quantity(move.quantity, field="quantity",
                                            allow_negative=move.reason is Reason.ADJUSTED), move.note.strip())
    check(balance(session, material.id, site_id), move, unit=Unit(material.unit))
    on_hand, reserved = effect(move)
    stored = StockMove(id=move_id, material_id=material.id, site_id=site_id, at=now, reason=move.reason.value,
                       quantity=move.quantity, on_hand_delta=on_hand, reserved_delta=reserved,
                       operation_id=operation_id, transfer_id=transfer_id, note=move.note, by=by[:32])
    session.add(stored)
    session.flush()
    pull_in_turn(session, material.id, site_id, now=now)
    return stored


def _sum(column):
    """SUM in whole thousandths: exact on PostgreSQL's numeric and on SQLite's REAL (integers below 2**53)."""
    return func.sum(func.round(column * _THOUSANDTHS))


def _sums():
    return _sum(StockMove.on_hand_delta), _sum(StockMove.reserved_delta)


def _decimal(thousandths) -> Decimal:
    if thousandths is None or thousandths == 0:
        return Decimal(0).quantize(_STEP)
    return (Decimal(thousandths) / _THOUSANDTHS).quantize(_STEP)


def _held(session: Session, material_id: int, site_id: int, operation_id: int) -> Decimal:
    """Reserved minus released minus consumed for the operation, at the site."""
    return _decimal(session.scalar(select(_sum(StockMove.reserved_delta)).where(
        StockMove.material_id == material_id, StockMove.site_id == site_id, StockMove.operation_id == operation_id)))


def _next_move_id(session: Session) -> int:
    if session.connection().dialect.name == "postgresql":
        return session.scalar(text("SELECT nextval(pg_get_serial_sequence('stock_move', 'id'))"))
    return (session.scalar(select(func.max(StockMove.id))) or 0) + 1  # under SQLite's one write lock


def pull_in_turn(session: Session, material_id: int, site_id: int, *, now: datetime | None) -> Replenishment | None:
    """pull_replenishment under the turn the caller holds."""
    pair = (ReorderRule.material_id == material_id, ReorderRule.site_id == site_id)
    rule = session.scalars(select(ReorderRule).where(*pair).execution_options(populate_existing=True)).first()
    if rule is None or session.scalars(select(Replenishment.id).where(
            Replenishment.material_id == material_id, Replenishment.site_id == site_id,
            Replenishment.status.in_(OPEN_CARDS))).first():
        return None
    current = balance(session, material_id, site_id)
    quantity = shortfall(current, rule.reorder_point, rule.reorder_quantity)
    if quantity is None:
        return None
    card = Replenishment(material_id=material_id, site_id=site_id, status="open", quantity=quantity,
                         shortfall=rule.reorder_point - current.available, created_at=now or utcnow())
    session.add(card)
    session.flush()
    return card


def material_by_id(session: Session, material_id: int) -> Material:
    material = session.get(Material, material_id) if is_row_id(material_id) else None
    if material is None:
        raise NotFound(f"no material {material_id}", field="material")
    return material


def _apply(material: Material, draft: MaterialDraft) -> None:
    if draft.provenance not in PROVENANCES:
        raise InvalidInput(f"use one of {', '.join(PROVENANCES)}", field="provenance")
    material.name = check_text(draft.name, field="name")
    material.unit = parse_unit(draft.unit, field="unit").value
    material.provenance = draft.provenance
    material.description = (draft.description or "").strip()


def done(session: Session, commit: bool) -> None:
    if commit:
        session.commit()
    else:
        session.flush()
