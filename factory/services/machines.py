"""The machines registry: add, edit, list, and move a machine between states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from factory.domain.capabilities import Capabilities
from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.identifiers import check_slug, check_text
from factory.domain.vocabulary import MachineKind, MachineState
from factory.models import Machine, MachineStateChange, Site, utcnow
from factory.services.plan_triggers import request_replan
from factory.services.sites import get_site

# States in which a machine cannot be booked until it is back (DESIGN.md: breakdowns block machines).
OUT_OF_USE = (MachineState.FAULT, MachineState.MAINTENANCE)
SHORTEST_BOOKING_MINUTES = 5
LONGEST_BOOKING_MINUTES = 7 * 24 * 60
LONGEST_HORIZON_DAYS = 730


@dataclass(frozen=True)
class MachineDraft:
    id: str
    name: str
    kind: str
    site: str
    capabilities: Capabilities = field(default_factory=Capabilities)
    model: str = ""
    unattended_ok: bool = False
    acquisition_cost: Decimal | None = None
    acquired_on: date | None = None
    notes: str = ""
    booking_min_minutes: int = 30
    booking_max_minutes: int = 480
    booking_notice_minutes: int = 0
    booking_horizon_days: int = 180


@dataclass(frozen=True)
class MachineFilter:
    site: str | None = None
    kind: str | None = None
    state: str | None = None


def list_machines(session: Session, where: MachineFilter = MachineFilter()) -> list[Machine]:
    query = select(Machine).join(Machine.site).options(joinedload(Machine.site)).order_by(Site.name, Machine.name)
    if where.site:
        query = query.where(Site.slug == where.site)
    if where.kind:
        query = query.where(Machine.kind == parse_kind(where.kind))
    if where.state:
        query = query.where(Machine.state == parse_state(where.state))
    return list(session.scalars(query))


def get_machine(session: Session, machine_id: str) -> Machine:
    machine = session.get(Machine, machine_id)
    if machine is None:
        raise NotFound(f"no machine {machine_id!r}")
    return machine


def create_machine(session: Session, draft: MachineDraft, *, by: str, at: datetime | None = None) -> Machine:
    """Register a machine; it starts `offline` until a steward or its telemetry says otherwise."""
    machine_id = check_slug(draft.id, field="id")
    if session.get(Machine, machine_id) is not None:
        raise Conflict(f"a machine {machine_id!r} already exists", field="id")
    now = at or utcnow()
    machine = Machine(id=machine_id, state=MachineState.OFFLINE.value, state_since=now)
    _apply(session, machine, draft)
    machine.state_changes.append(MachineStateChange(
        from_state=None, to_state=MachineState.OFFLINE.value, at=now, source=by, reason="registered"))
    session.add(machine)
    session.commit()
    return machine


def update_machine(session: Session, machine_id: str, draft: MachineDraft) -> Machine:
    machine = get_machine(session, machine_id)
    _apply(session, machine, draft)
    session.commit()
    return machine


def change_state(session: Session, machine_id: str, state: str, *, by: str, reason: str = "",
                 at: datetime | None = None, expected_back_at: datetime | None = None) -> Machine:
    """Move a machine to `state`, recording the change; the same state again records nothing but a new
    `expected_back_at`.

    `expected_back_at` is when a machine going to `fault` or `maintenance` should be usable again (bookings
    may start from then); it is dropped when the machine moves to any other state. A change dated before the
    current state began is refused (Conflict): it would rewrite history.
    """
    machine = get_machine(session, machine_id)
    new = parse_state(state)
    at = at or utcnow()
    if expected_back_at is not None and new not in OUT_OF_USE:
        raise InvalidInput(f"only a machine in fault or maintenance has an expected return, not {new.value}",
                           field="expected_back_at")
    if expected_back_at is not None and expected_back_at <= at:
        raise InvalidInput("the expected return must be in the future", field="expected_back_at")
    if new.value == machine.state:
        if expected_back_at is not None:
            machine.expected_back_at = expected_back_at
            request_replan(session, "machine_down", f"{machine.id} expected back {expected_back_at:%Y-%m-%d %H:%M}",
                           now=at)
            session.commit()
        return machine
    if at < machine.state_since:
        raise Conflict(f"a change at {at:%Y-%m-%d %H:%M:%S} UTC is older than the current state "
                       f"({machine.state} since {machine.state_since:%Y-%m-%d %H:%M:%S} UTC)", field="at")
    machine.state_changes.append(MachineStateChange(
        from_state=machine.state, to_state=new.value, at=at, source=by[:32], reason=reason.strip()))
    was_available = machine.available
    machine.state, machine.state_since = new.value, at
    machine.expected_back_at = expected_back_at
    if was_available != machine.available:
        request_replan(session, "machine_up" if machine.available else "machine_down",
                       f"{machine.id} {new.value} (by {by})", now=at)
    session.commit()
    return machine


def parse_kind(value: str) -> MachineKind:
    try:
        return MachineKind(value)
    except ValueError:
        raise InvalidInput(f"kind must be one of {', '.join(k.value for k in MachineKind)}", field="kind") from None


def parse_state(value: str) -> MachineState:
    try:
        return MachineState(value)
    except ValueError:
        raise InvalidInput(
            f"state must be one of {', '.join(s.value for s in MachineState)}", field="state") from None


def _apply(session: Session, machine: Machine, draft: MachineDraft) -> None:
    kind = parse_kind(draft.kind)
    capabilities = draft.capabilities.validated(kind)
    if draft.acquisition_cost is not None and draft.acquisition_cost < 0:
        raise InvalidInput("cost cannot be negative", field="acquisition_cost")
    if draft.acquired_on is not None and draft.acquired_on > utcnow().date():
        raise InvalidInput("acquisition date is in the future", field="acquired_on")
    machine.name = check_text(draft.name, field="name")
    machine.kind = kind.value
    machine.site = get_site(session, draft.site)
    machine.model = (draft.model or "").strip()[:120]
    machine.build_x_mm, machine.build_y_mm, machine.build_z_mm = (
        capabilities.build_x_mm, capabilities.build_y_mm, capabilities.build_z_mm)
    machine.materials = list(capabilities.materials)
    machine.max_temperature_c = capabilities.max_temperature_c
    machine.spindle_power_w = capabilities.spindle_power_w
    machine.unattended_ok = draft.unattended_ok
    machine.acquisition_cost = draft.acquisition_cost
    machine.acquired_on = draft.acquired_on
    machine.notes = (draft.notes or "").strip()
    (machine.booking_min_minutes, machine.booking_max_minutes, machine.booking_notice_minutes,
     machine.booking_horizon_days) = _booking_rules(draft)


def _booking_rules(draft: MachineDraft) -> tuple[int, int, int, int]:
    """The machine's booking rules, checked: each one refused names its field."""
    rules = (draft.booking_min_minutes, draft.booking_max_minutes, draft.booking_notice_minutes,
             draft.booking_horizon_days)
    names = ("booking_min_minutes", "booking_max_minutes", "booking_notice_minutes", "booking_horizon_days")
    for name, value in zip(names, rules, strict=True):
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInput("give a whole number", field=name)
    shortest, longest, notice, horizon = rules
    if shortest < SHORTEST_BOOKING_MINUTES:
        raise InvalidInput(f"at least {SHORTEST_BOOKING_MINUTES} minutes", field="booking_min_minutes")
    if longest > LONGEST_BOOKING_MINUTES:
        raise InvalidInput(f"at most 7 days ({LONGEST_BOOKING_MINUTES} minutes)", field="booking_max_minutes")
    if shortest > longest:
        raise InvalidInput("the longest booking cannot be shorter than the shortest", field="booking_max_minutes")
    if notice < 0:
        raise InvalidInput("the notice cannot be negative", field="booking_notice_minutes")
    if not 1 <= horizon <= LONGEST_HORIZON_DAYS:
        raise InvalidInput(f"between 1 and {LONGEST_HORIZON_DAYS} days", field="booking_horizon_days")
    return rules
