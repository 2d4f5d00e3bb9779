"""Storing what machines report and reading it back: samples, events, state, retention.

The ingest worker hands `record_messages` a batch of already validated messages (drivers.messages); one
call is one transaction. Duplicates that slipped past the worker's memory (another worker, a restart) are
stopped by the unique `(machine, seq, ts)` keys and reported back, so nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from drivers.messages import EventMessage, MachineMessage, StateMessage, TelemetryMessage
from drivers.states import MachineState
from factory.domain.errors import InvalidParameter
from factory.models import IngestCounter, Machine, MachineEvent, MachineStateChange, TelemetrySample, utcnow
from factory.services.dispatch import apply_job_event
from factory.services.plan_triggers import request_replan
from factory.services.sample_rows import insert_samples

TELEMETRY_SOURCE = "telemetry"
MAX_SAMPLES = 5000


@dataclass(frozen=True)
class RecordResult:
    stored: int
    duplicates: int
    state_changes: list[tuple[str, str, str]]  # (machine, from, to) — the planner's re-plan triggers

log = logging.getLogger(__name__)


def _insert(session: Session, model):
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model.__table__).on_conflict_do_nothing(index_elements=["machine_id", "seq", "ts"])


def _insert_ignoring_duplicates(session: Session, model, rows: list[dict]) -> int:
    """Insert rows, skipping those whose (machine, seq, ts) exists; returns how many were new.

    A Core executemany on the session's connection (same transaction), not an ORM bulk insert: the ORM's
    bookkeeping per row cost more than the insert itself (benchmarks/ingest_bench.py). Samples, the bulk of
    the ingest, go the still cheaper way of factory/services/sample_rows.py. sqlite3 sums the row
    counts of an executemany, a skipped conflict counting 0; on psycopg SQLAlchemy reports no count (-1) for
    one, so PostgreSQL counts the rows RETURNING gives back.
    """
    if not rows:
        return 0
    connection, statement = session.connection(), _insert(session, model)
    if connection.dialect.name == "sqlite":
        return connection.execute(statement, rows).rowcount
    return len(connection.execute(statement.returning(model.__table__.c.id), rows).all())


def record_messages(session: Session, messages: Sequence[MachineMessage], *, received_at=None) -> RecordResult:
    """Store a batch of validated machine messages in one transaction and commit it."""
    received_at = received_at or utcnow()
    samples = [m for m in messages if isinstance(m, TelemetryMessage)]
    events = [{"machine_id": m.machine, "ts": m.ts, "seq": m.seq, "event": m.event.value, "job": m.job,
               "code": m.code, "detail": m.detail, "received_at": received_at}
              for m in messages if isinstance(m, EventMessage)]
    stored = insert_samples(session.connection(), samples)
    stored += _insert_ignoring_duplicates(session, MachineEvent, events)
    for m in messages:  # a replayed job event moves nothing twice: applying one is idempotent
        if isinstance(m, EventMessage) and m.event.value.startswith("job_"):
            _apply_job_event(session, m)
    states = [m for m in messages if isinstance(m, StateMessage)]
    changes = _apply_states_and_latest(session, messages, states, received_at)
    session.commit()
    duplicates = len(samples) + len(events) - stored
    return RecordResult(stored + len(states), duplicates, changes)


def _apply_job_event(session: Session, event: EventMessage) -> None:
    """Move the operation the job event names; a failure there is logged and leaves the rest of the batch."""
    try:
        with session.begin_nested():
            apply_job_event(session, event.machine, event.event.value, event.job, event.ts)
    except Exception:
        log.exception("job event %s of %s for %r not applied to its operation", event.event.value, event.machine,
                      event.job)


def _apply_states_and_latest(session: Session, messages: Sequence[MachineMessage], states: list[StateMessage],
                             received_at: datetime) -> list[tuple[str, str, str]]:
    by_machine: dict[str, list[MachineMessage]] = defaultdict(list)
    for message in messages:
        by_machine[message.machine].append(message)
    machines = {m.id: m for m in session.scalars(select(Machine).where(Machine.id.in_(by_machine)))}
    changes = []
    for machine_id, own in by_machine.items():
        machine = machines[machine_id]
        machine.last_seen = max(filter(None, (machine.last_seen, received_at)))
        metrics, metrics_at = None, machine.metrics_at  # folded here, set on the machine once
        last_report = metrics_at  # the machine's newest word on its own clock, for dating a last will
        for message in own:
            if isinstance(message, TelemetryMessage):
                if metrics_at is None or message.ts >= metrics_at:
                    metrics = dict(machine.metrics or {}) if metrics is None else metrics
                    metrics.update(message.metrics)
                    metrics_at = message.ts
            elif isinstance(message, StateMessage):
                change = _apply_state(session, machine, message, last_report)
                if change:
                    changes.append(change)
            last_report = max(filter(None, (last_report, message.ts)))
        if metrics is not None:
            machine.metrics, machine.metrics_at = metrics, metrics_at
    return changes


def _apply_state(session: Session, machine: Machine, message: StateMessage,
                 last_report: datetime | None) -> tuple[str, str, str] | None:
    """A newer state moves the machine and its history; an older one (a late replay) changes nothing.

    A retained last will `offline` carries the time its client connected, not when it vanished: it counts
    from the machine's last report (its newest reading, on its own clock), so that the state the machine
    reports when it comes back, stamped later on that clock, is newer than it. Maintenance a steward set holds
    until a steward ends it: the machine's own reports then update job, progress and detail only.
    """
    at = message.ts
    if message.state is MachineState.OFFLINE and at < machine.state_since:
        at = max(last_report or at, machine.state_since)
    if at < machine.state_since:
        return None
    machine.job, machine.progress, machine.state_detail = message.job, message.progress, message.detail
    if message.state.value == machine.state or _held_by_steward(session, machine):
        return None
    previous = machine.state
    session.add(MachineStateChange(machine_id=machine.id, from_state=previous, to_state=message.state.value,
                                   at=at, source=TELEMETRY_SOURCE, reason=message.detail[:500]))
    machine.state, machine.state_since = message.state.value, at
    machine.expected_back_at = None  # a steward's repair estimate holds for the breakdown it was given for
    if MachineState(previous).available != machine.available:
        request_replan(session, "machine_up" if machine.available else "machine_down",
                       f"{machine.id} reported {message.state.value}", now=at)
    return machine.id, previous, message.state.value


def _held_by_steward(session: Session, machine: Machine) -> bool:
    if machine.state != MachineState.MAINTENANCE.value:
        return False
    source = session.scalar(select(MachineStateChange.source).where(MachineStateChange.machine_id == machine.id)
                            .order_by(MachineStateChange.at.desc(), MachineStateChange.id.desc()).limit(1))
    return source is not None and source != TELEMETRY_SOURCE


# --- reading ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    ts: datetime
    metrics: dict[str, float]
    resolution_s: int


@dataclass(frozen=True)
class SampleWindow:
    samples: list[Sample]
    truncated: bool  # the window holds more samples than were returned: ask again from the last one
    every: int = 1  # thinned to one stored sample in `every`, evenly over the window


def samples(session: Session, machine_id: str, *, since: datetime, until: datetime, metrics: Iterable[str] = (),
            limit: int = MAX_SAMPLES, thin: bool = False) -> SampleWindow:
    """Samples of one machine in [since, until), oldest first, keeping only `metrics` when given.

    A window holding more than `limit` samples gives its oldest `limit` and `truncated` (for paging), or,
    with `thin`, every n-th sample across the whole window (for a chart, which must reach the present).
    """
    if until <= since:
        raise InvalidParameter("`until` must be after `since`", field="until")
    in_window = (TelemetrySample.machine_id == machine_id, TelemetrySample.ts >= since, TelemetrySample.ts < until)
    columns = (TelemetrySample.ts, TelemetrySample.metrics, TelemetrySample.resolution_s)
    every = 1
    if thin:
        count = session.scalar(select(func.count()).select_from(TelemetrySample).where(*in_window))
        every = max(1, -(-count // limit))
    if every > 1:
        numbered = select(*columns, func.row_number().over(order_by=TelemetrySample.ts).label("n")) \
            .where(*in_window).subquery()
        query = select(numbered.c.ts, numbered.c.metrics, numbered.c.resolution_s) \
            .where((numbered.c.n - 1) % every == 0).order_by(numbered.c.ts)
    else:
        query = select(*columns).where(*in_window).order_by(TelemetrySample.ts).limit(limit + 1)
    rows = session.execute(query).all()
    truncated = len(rows) > limit
    wanted = set(metrics)
    found = []
    for ts, values, resolution in rows[:limit]:
        kept = {k: v for k, v in values.items() if not wanted or k in wanted}
        if kept:
            found.append(Sample(ts, kept, resolution))
    return SampleWindow(found, truncated and not thin, every)


def events(session: Session, machine_id: str, *, limit: int = 20) -> list[MachineEvent]:
    return list(session.scalars(select(MachineEvent).where(MachineEvent.machine_id == machine_id)
                                .order_by(MachineEvent.ts.desc()).limit(limit)))


# --- retention ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Retention:
    """Raw samples kept `raw_hours`, then as `bucket_s` means until `keep_days`, then deleted."""

    raw_hours: int = 48
    keep_days: int = 90
    bucket_s: int = 300


def downsample_and_prune(session: Session, retention: Retention, *, now: datetime | None = None) -> tuple[int, int]:
    """Replace raw samples older than the raw window by per-bucket means; delete what is past keeping.

    Returns (raw samples folded into means, samples deleted for age). Idempotent: a second run finds nothing.
    """
    now = now or utcnow()
    raw_cutoff = now - timedelta(hours=retention.raw_hours)
    raw_cutoff -= timedelta(seconds=raw_cutoff.timestamp() % retention.bucket_s)  # fold whole buckets only
    keep_cutoff = now - timedelta(days=retention.keep_days)
    old = session.execute(select(TelemetrySample.id, TelemetrySample.machine_id, TelemetrySample.ts,
                                 TelemetrySample.metrics)
                          .where(TelemetrySample.resolution_s == 0, TelemetrySample.ts < raw_cutoff)
                          .order_by(TelemetrySample.machine_id, TelemetrySample.ts)).all()
    buckets: dict[tuple[str, datetime], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _, machine_id, ts, values in old:
        start = ts - timedelta(seconds=ts.timestamp() % retention.bucket_s)
        for name, value in values.items():
            buckets[machine_id, start][name].append(value)
    session.add_all(TelemetrySample(machine_id=machine_id, ts=start, seq=None, resolution_s=retention.bucket_s,
                                    metrics={k: round(sum(v) / len(v), 3) for k, v in values.items()})
                    for (machine_id, start), values in buckets.items())
    ids = [row.id for row in old]
    for chunk in range(0, len(ids), 5000):
        session.execute(delete(TelemetrySample).where(TelemetrySample.id.in_(ids[chunk:chunk + 5000])))
    pruned = session.execute(delete(TelemetrySample).where(TelemetrySample.ts < keep_cutoff)).rowcount
    session.execute(delete(MachineEvent).where(MachineEvent.ts < keep_cutoff))
    session.commit()
    return len(ids), pruned


def sample_count(session: Session, machine_id: str | None = None) -> int:
    query = select(func.count()).select_from(TelemetrySample)
    if machine_id:
        query = query.where(TelemetrySample.machine_id == machine_id)
    return session.scalar(query)


# --- the ingest's counters ----------------------------------------------------------------------------------

def flush_counters(session: Session, worker: str, values: dict[str, float]) -> None:
    """Store a worker's current totals (replacing its previous ones) so `GET /metrics` can sum workers."""
    now = utcnow()
    existing = {c.name: c for c in session.scalars(select(IngestCounter).where(IngestCounter.worker == worker))}
    for name, value in values.items():
        counter = existing.get(name) or IngestCounter(worker=worker, name=name)
        counter.value, counter.updated_at = float(value), now
        session.add(counter)
    session.commit()


def ingest_counters(session: Session) -> list[IngestCounter]:
    return list(session.scalars(select(IngestCounter).order_by(IngestCounter.name, IngestCounter.worker)))
