"""The commune's machines as assets: their hourly rate and expected life, the bonds that bought them, their
upkeep, what rate would pay for them at their current use, and their payback over the closed periods; and
co-ops' proposals that the commune buy a machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factory.domain import bonds
from factory.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from factory.domain.identifiers import check_text
from factory.domain.money import to_cents
from factory.domain.vocabulary import MachineKind, Role
from factory.models import (
    AcquisitionProposal,
    BondSeries,
    LedgerPeriod,
    Machine,
    PlanUnplanned,
    RentCharge,
    RoutingStep,
    UpkeepCost,
    User,
    utcnow,
)
from factory.models.ledger import UPKEEP_KINDS
from factory.models.production import Operation
from factory.services.bookings import check_note
from factory.services.coops import get_coop
from factory.services.ledger import books_zone, schedule_of
from factory.services.ledger_rent import period_charges
from factory.services.machine_time import is_row_id
from factory.services.machines import get_machine

KINDS = tuple(kind.strip("'") for kind in UPKEEP_KINDS.split(", "))
USE_WINDOW = timedelta(days=90)  # the use a break-even rate is computed from


@dataclass(frozen=True)
class BondDraft:
    name: str
    principal: Decimal | str
    interest_rate: Decimal | str  # a year, as a fraction: 0.04 for 4 %
    term_months: int
    first_due: date
    issued_on: date


@dataclass(frozen=True)
class UpkeepDraft:
    on_date: date
    kind: str
    amount: Decimal | str
    note: str = ""


@dataclass(frozen=True)
class ProposalDraft:
    coop: str
    machine_kind: str
    description: str
    estimated_cost: Decimal | str
    lease_hours_per_week: int
    lease_months: int
    lease_rate: Decimal | str  # an hour
    demand: str = ""


@dataclass(frozen=True)
class MachineFinance:
    machine: Machine
    bonds: list[tuple[BondSeries, list[bonds.Instalment]]]
    upkeep: list[UpkeepCost]
    used_minutes: int  # charged (booked, worked, leased) in the last USE_WINDOW
    monthly_service: int  # bond instalments and upkeep, a month on average over USE_WINDOW
    break_even_rate: int | None  # cents an hour that would cover monthly_service at the current use
    payback: list[tuple[str, int, int]]  # (month, cumulative rent charged, bond balance at its end)


def set_rate(session: Session, machine_id: str, hourly_rate: Decimal | str, expected_life_years: int | None) -> Machine:
    machine = get_machine(session, machine_id)
    cents = _amount(hourly_rate, "hourly_rate", allow_zero=True)
    if expected_life_years is not None and not 1 <= expected_life_years <= 100:
        raise InvalidInput("an expected life of 1 to 100 years", field="expected_life_years")
    machine.hourly_rate_cents, machine.expected_life_years = cents, expected_life_years
    session.commit()
    return machine


def add_bond(session: Session, machine_id: str, draft: BondDraft, *, by: str) -> BondSeries:
    machine = get_machine(session, machine_id)
    name = check_text(draft.name, field="name")
    principal = _amount(draft.principal, "principal")
    try:
        rate = Decimal(str(draft.interest_rate))
    except InvalidOperation:
        raise InvalidInput("the interest rate is a fraction a year, e.g. 0.04", field="interest_rate") from None
    if not isinstance(draft.term_months, int):
        raise InvalidInput("a whole number of months", field="term_months")
    if draft.first_due <= draft.issued_on:
        raise InvalidInput("the first instalment falls due after the bonds are issued", field="first_due")
    bonds.schedule(principal, rate, draft.term_months, draft.first_due)  # refuses what cannot be repaid so
    series = BondSeries(machine_id=machine.id, name=name, principal_cents=principal, interest_rate=rate,
                        term_months=draft.term_months, first_due=draft.first_due, issued_on=draft.issued_on,
                        created_by=by[:32], created_at=utcnow())
    session.add(series)
    session.commit()
    return series


def record_upkeep(session: Session, machine_id: str, draft: UpkeepDraft, *, by: str) -> UpkeepCost:
    machine = get_machine(session, machine_id)
    if draft.kind not in KINDS:
        raise InvalidInput(f"upkeep is one of {', '.join(KINDS)}", field="kind")
    month = f"{draft.on_date:%Y-%m}"
    if session.scalar(select(LedgerPeriod.id).where(LedgerPeriod.month >= month).limit(1)) is not None:
        raise Conflict(f"{month} is closed; record the cost on a day of an open month", field="on_date")
    cost = UpkeepCost(machine_id=machine.id, on_date=draft.on_date, kind=draft.kind,
                      amount_cents=_amount(draft.amount, "amount"),
                      note=check_note(draft.note, field="note", max_len=500), recorded_by=by[:32], created_at=utcnow())
    session.add(cost)
    session.commit()
    return cost


def machine_finance(session: Session, machine_id: str, *, today: date | None = None) -> MachineFinance:
    machine = get_machine(session, machine_id)
    today = today or utcnow().date()
    series = list(session.scalars(select(BondSeries).where(BondSeries.machine_id == machine.id)
                                  .order_by(BondSeries.first_due)))
    schedules = [(s, schedule_of(s)) for s in series]
    upkeep = list(session.scalars(select(UpkeepCost).where(UpkeepCost.machine_id == machine.id)
                                  .order_by(UpkeepCost.on_date.desc())))
    since = today - USE_WINDOW
    due = sum(i.payment for _s, plan in schedules for i in bonds.due_in(plan, since, today))
    kept = sum(u.amount_cents for u in upkeep if since <= u.on_date <= today)
    days = USE_WINDOW.days
    monthly = (due + kept) * 30 // days if due or kept else sum(_monthly_payment(p) for _s, p in schedules)
    zone = books_zone(session)
    used = sum(line.minutes for line in period_charges(session, _day_start(since, zone),
                                                       _day_start(today + timedelta(days=1), zone))
               if line.machine_id == machine.id)
    rate = (monthly * 60 * days + used * 15) // (used * 30) if used else None  # cents an hour, rounded
    return MachineFinance(machine, schedules, upkeep, used, monthly, rate,
                          payback(session, machine, schedules))


def payback(session: Session, machine: Machine, schedules) -> list[tuple[str, int, int]]:
    """Per closed month: rent charged for the machine so far, and what its bonds still owe at the month's end."""
    rows = session.execute(select(LedgerPeriod.month, func.coalesce(func.sum(RentCharge.amount_cents), 0))
                           .outerjoin(RentCharge, (RentCharge.period_id == LedgerPeriod.id)
                                      & (RentCharge.machine_id == machine.id))
                           .group_by(LedgerPeriod.month).order_by(LedgerPeriod.month)).all()
    points, total = [], 0
    for month, rent in rows:
        total += int(rent)
        year, number = int(month[:4]), int(month[5:])
        last_day = date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)
        owed = sum(bonds.balance_on(plan, last_day, s.principal_cents) for s, plan in schedules)
        points.append((month, total, owed))
    return points


def propose_acquisition(session: Session, draft: ProposalDraft, *, viewer: User, by: str) -> AcquisitionProposal:
    coop = get_coop(session, draft.coop)
    if Role(viewer.role) is Role.MEMBER and viewer.coop_id != coop.id:
        raise Forbidden("a member proposes for their own co-op only", field="coop")
    try:
        kind = MachineKind(draft.machine_kind)
    except ValueError:
        raise InvalidInput(f"{draft.machine_kind!r} is not a machine kind", field="machine_kind") from None
    for name, value, most, words in (("lease_hours_per_week", draft.lease_hours_per_week, 168, "hours a week"),
                                     ("lease_months", draft.lease_months, 120, "months")):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise InvalidInput(f"1 to {most} {words}", field=name)
    evidence = demand_evidence(session, kind)
    said = check_note(draft.demand, field="demand", max_len=2000)
    proposal = AcquisitionProposal(
        coop_id=coop.id, machine_kind=kind.value,
        description=check_text(draft.description, field="description", max_len=2000),
        estimated_cost_cents=_amount(draft.estimated_cost, "estimated_cost"),
        lease_hours_per_week=draft.lease_hours_per_week, lease_months=draft.lease_months,
        lease_rate_cents=_amount(draft.lease_rate, "lease_rate"),
        demand="\n".join(part for part in (said, evidence) if part), created_by=by[:32], created_at=utcnow())
    session.add(proposal)
    session.commit()
    return proposal


def decide_proposal(session: Session, proposal_id: int, *, approve: bool, note: str, by: str) -> AcquisitionProposal:
    proposal = session.get(AcquisitionProposal, proposal_id) if is_row_id(proposal_id) else None
    if proposal is None:
        raise NotFound(f"no acquisition proposal {proposal_id}")
    if proposal.status != "proposed":
        raise Conflict(f"this proposal is {proposal.status} already", field="note")
    proposal.decision_note = check_note(note, field="note", max_len=2000)
    if not approve and not proposal.decision_note:
        raise InvalidInput("say why it is declined, for the co-op", field="note")
    proposal.status = "approved" if approve else "declined"
    proposal.decided_by, proposal.decided_at = by[:32], utcnow()
    session.commit()
    return proposal


def list_proposals(session: Session, viewer: User) -> list[AcquisitionProposal]:
    statement = select(AcquisitionProposal).order_by(AcquisitionProposal.created_at.desc())
    if Role(viewer.role) is Role.MEMBER:
        statement = statement.where(AcquisitionProposal.coop_id == viewer.coop_id)
    return list(session.scalars(statement))


def demand_evidence(session: Session, kind: MachineKind) -> str:
    """What the plan history says about demand for machines of `kind`: operations it could not place."""
    unplaced = session.scalar(select(func.count(func.distinct(PlanUnplanned.operation_id)))
                              .join(Operation, Operation.id == PlanUnplanned.operation_id)
                              .join(RoutingStep, RoutingStep.id == Operation.step_id)
                              .where(RoutingStep.machine_kind == kind.value)) or 0
    if not unplaced:
        return ""
    return (f"From the plan history: {unplaced} operation(s) needing a {kind.label.lower()} could not be placed in "
            "some plan (no machine able, or no room before the horizon).")


def _amount(value: Decimal | str, field: str, *, allow_zero: bool = False) -> int:
    try:
        cents = to_cents(value)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=field) from None
    if cents < 0 or (cents == 0 and not allow_zero):
        raise InvalidInput("an amount above zero" if not allow_zero else "zero or more", field=field)
    return cents


def _monthly_payment(plan: list[bonds.Instalment]) -> int:
    return plan[0].payment if plan else 0


def _day_start(day: date, zone) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
