"""The ingest's batch work on a real database: gate, store, state, duplicates, retention (no broker here)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

import factory.db
from drivers.messages import EventMessage, StateMessage, TelemetryMessage, encode, format_ts
from drivers.states import MachineState
from factory.ingest.batcher import Arrival, Batcher
from factory.models import Machine, MachineEvent, MachineStateChange, TelemetrySample
from factory.services.machines import change_state
from factory.services.telemetry import Retention, downsample_and_prune, record_messages, sample_count, samples
from tests.integration.conftest import make_commune_with_site, make_machine, sqlite_only

# After the machines are registered, even by a test that runs late in a long suite (the limit is 15 minutes).
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)


@pytest.fixture
def sessions(engine, session):
    make_commune_with_site(session, "north")
    make_machine(session, id="printer-1")
    make_machine(session, id="printer-2")
    return factory.db.make_sessionmaker(engine)


def telemetry(seq, *, machine="printer-1", at=NOW, **metrics):
    return TelemetryMessage(machine, at, seq, metrics or {"hotend_c": 200.0 + seq})


def arrival(message, *, site="north", machine=None, acks=None):
    machine = machine or message.machine
    ack = (lambda: acks.append(message)) if acks is not None else (lambda: None)
    return Arrival(f"mf/{site}/{machine}/{message.channel.value}", encode(message), ack)


def test_a_batch_is_stored_once_even_when_sent_twice(sessions, session):
    batch = [telemetry(seq, at=NOW + timedelta(seconds=seq)) for seq in range(10)]
    first = record_messages(session, batch)
    again = record_messages(session, batch)
    assert (first.stored, first.duplicates) == (10, 0)
    assert (again.stored, again.duplicates) == (0, 10)
    assert sample_count(session, "printer-1") == 10


def test_a_repeated_seq_with_a_new_time_is_a_new_message_after_a_reboot(sessions, session):
    record_messages(session, [telemetry(1, at=NOW - timedelta(hours=1))])
    result = record_messages(session, [telemetry(1, at=NOW)])
    assert result.duplicates == 0
    assert sample_count(session, "printer-1") == 2


def test_state_messages_move_the_machine_and_record_history(sessions, session):
    result = record_messages(session, [StateMessage("printer-1", NOW, 1, MachineState.RUNNING, job="j-1",
                                                    progress=0.5, detail="printing benchy")])
    machine = session.get(Machine, "printer-1")
    session.refresh(machine)
    assert result.state_changes == [("printer-1", "offline", "running")]
    assert (machine.state, machine.job, machine.progress, machine.state_since) == ("running", "j-1", 0.5, NOW)
    change = session.scalars(select(MachineStateChange).where(MachineStateChange.source == "telemetry")).one()
    assert (change.from_state, change.to_state, change.reason) == ("offline", "running", "printing benchy")


def test_maintenance_set_by_a_steward_holds_against_the_machines_own_reports(sessions, session):
    change_state(session, "printer-1", "maintenance", by="steward:ana", reason="new nozzle")
    soon = datetime.now(UTC) + timedelta(seconds=1)
    record_messages(session, [StateMessage("printer-1", soon, 1, MachineState.IDLE, detail="powered up")])
    machine = session.get(Machine, "printer-1")
    session.refresh(machine)
    assert (machine.state, machine.state_detail) == ("maintenance", "powered up")
    change_state(session, "printer-1", "idle", by="steward:ana", at=soon + timedelta(seconds=1))
    record_messages(session, [StateMessage("printer-1", soon + timedelta(seconds=2), 2, MachineState.FAULT)])
    session.refresh(machine)
    assert machine.state == "fault", "once maintenance is over, the machine's reports move it again"


def test_a_late_state_older_than_the_current_one_changes_nothing(sessions, session):
    record_messages(session, [StateMessage("printer-1", NOW, 2, MachineState.RUNNING)])
    result = record_messages(session, [StateMessage("printer-1", NOW - timedelta(minutes=1), 1, MachineState.IDLE)])
    machine = session.get(Machine, "printer-1")
    session.refresh(machine)
    assert result.state_changes == []
    assert machine.state == "running"


def test_a_stale_last_will_counts_from_the_machines_last_report(sessions, session):
    record_messages(session, [StateMessage("printer-1", NOW, 2, MachineState.RUNNING),
                              telemetry(3, at=NOW + timedelta(seconds=20))])
    will = StateMessage("printer-1", NOW - timedelta(hours=2), 0, MachineState.OFFLINE, detail="connection lost")
    result = record_messages(session, [will], received_at=NOW + timedelta(minutes=5))  # a lagging ingest
    machine = session.get(Machine, "printer-1")
    session.refresh(machine)
    assert result.state_changes == [("printer-1", "running", "offline")]
    assert (machine.state, machine.state_since, machine.available) == ("offline", NOW + timedelta(seconds=20), False)
    back = StateMessage("printer-1", NOW + timedelta(seconds=40), 4, MachineState.RUNNING, detail="reconnected")
    record_messages(session, [back], received_at=NOW + timedelta(minutes=5))
    session.refresh(machine)
    assert machine.state == "running", "what the machine says on coming back is newer than its will"


def test_the_same_last_will_published_twice_is_applied_both_times(sessions, session, monkeypatch):
    monkeypatch.setattr("factory.ingest.batcher.DIRECTORY_REFRESH_S", 0.0)
    batcher = Batcher(sessions)
    will = StateMessage("printer-1", NOW - timedelta(hours=2), 0, MachineState.OFFLINE, detail="connection lost")
    for seq, message in enumerate([will, StateMessage("printer-1", NOW, 1, MachineState.RUNNING), will], start=1):
        batcher.arrive(arrival(message))
        batcher.drain(now=NOW + timedelta(seconds=seq))
    machine = session.get(Machine, "printer-1")
    session.refresh(machine)
    assert machine.state == "offline", "the bridge vanished a second time"
    assert batcher.gate.dropped["duplicate"] == 0


def test_latest_metrics_merge_and_last_seen_follows_arrivals(sessions, session):
    record_messages(session, [telemetry(1, hotend_c=100.0, bed_c=50.0),
                              telemetry(2, at=NOW + timedelta(seconds=1), hotend_c=110.0)], received_at=NOW)
    machine = session.get(Machine, "printer-1")
    session.refresh(machine)
    assert machine.metrics == {"hotend_c": 110.0, "bed_c": 50.0}
    assert machine.last_seen == NOW


def test_events_are_kept_with_their_codes(sessions, session):
    record_messages(session, [EventMessage("printer-1", NOW, 3, "fault", code="thermal_runaway", detail="E0")])
    event = session.scalars(select(MachineEvent)).one()
    assert (event.event, event.code, event.detail) == ("fault", "thermal_runaway", "E0")


def test_samples_are_read_back_by_window_and_metric(sessions, session):
    record_messages(session, [telemetry(s, at=NOW + timedelta(seconds=s), hotend_c=float(s), bed_c=1.0)
                              for s in range(5)])
    found = samples(session, "printer-1", since=NOW + timedelta(seconds=1), until=NOW + timedelta(seconds=4),
                    metrics=["hotend_c"])
    assert [(s.ts, s.metrics) for s in found.samples] == [(NOW + timedelta(seconds=s), {"hotend_c": float(s)})
                                                          for s in (1, 2, 3)]
    assert not found.truncated


def test_a_full_window_pages_from_the_oldest_or_thins_evenly_to_the_newest(sessions, session):
    record_messages(session, [telemetry(s, at=NOW + timedelta(seconds=s), hotend_c=float(s)) for s in range(100)]
                    + [TelemetryMessage("printer-1", NOW + timedelta(seconds=s, milliseconds=500), 1000 + s,
                                        {"bed_c": 60.0}) for s in range(100)])
    window = {"since": NOW, "until": NOW + timedelta(minutes=5)}
    page = samples(session, "printer-1", **window, metrics=["hotend_c"], limit=30)
    assert page.truncated, "more rows than the limit, even though the metric filter kept only half of them"
    assert [s.metrics["hotend_c"] for s in page.samples] == [float(s) for s in range(15)]
    thinned = samples(session, "printer-1", **window, metrics=["hotend_c"], limit=20, thin=True)
    assert (thinned.truncated, thinned.every) == (False, 10)
    assert [s.metrics["hotend_c"] for s in thinned.samples] == [float(s) for s in range(0, 100, 5)]


def test_old_samples_become_bucket_means_and_older_ones_go(sessions, session):
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    record_messages(session, [telemetry(s, at=start + timedelta(seconds=60 * s), hotend_c=float(s))
                              for s in range(10)])
    record_messages(session, [telemetry(99, at=start - timedelta(days=100))])
    folded, pruned = downsample_and_prune(session, Retention(raw_hours=1, keep_days=90, bucket_s=300),
                                          now=start + timedelta(days=2))
    rows = session.scalars(select(TelemetrySample).order_by(TelemetrySample.ts)).all()
    assert (folded, pruned) == (11, 1)
    assert [(r.ts, r.resolution_s, r.metrics) for r in rows] == [
        (start, 300, {"hotend_c": 2.0}), (start + timedelta(minutes=5), 300, {"hotend_c": 7.0})]
    assert downsample_and_prune(session, Retention(raw_hours=1, keep_days=90, bucket_s=300),
                                now=start + timedelta(days=2)) == (0, 0)


def test_batcher_stores_valid_messages_and_counts_each_drop_reason(sessions, session):
    batcher = Batcher(sessions)
    acks = []
    good = telemetry(1)
    batcher.arrive(arrival(good, acks=acks))
    batcher.arrive(arrival(good, acks=acks))  # a redelivery
    batcher.arrive(Arrival("mf/north/printer-1/telemetry", b"{oops"))
    batcher.arrive(arrival(telemetry(2, machine="printer-2"), machine="printer-1"))  # spoofed payload
    batcher.arrive(arrival(telemetry(3, machine="ghost")))
    batcher.arrive(arrival(telemetry(4), site="south"))
    batcher.arrive(arrival(telemetry(5, at=NOW + timedelta(minutes=6))))
    batcher.arrive(Arrival("mf/north/printer-1/telemetry", json.dumps(
        {"v": 1, "machine": "printer-1", "ts": format_ts(NOW), "seq": 6, "metrics": {"hot": 1}}).encode()))
    assert batcher.drain(now=NOW) == 8
    assert batcher.gate.accepted == 1
    assert dict(batcher.gate.dropped) == {"duplicate": 1, "json": 1, "spoofed": 1, "unknown_machine": 1,
                                          "wrong_site": 1, "future": 1, "schema": 1}
    assert sample_count(session) == 1
    assert acks == [good, good], "every message taken is acknowledged once its batch is committed"


def test_batcher_counts_duplicates_the_database_caught(sessions, session):
    record_messages(session, [telemetry(1)])
    batcher = Batcher(sessions)  # a fresh worker: no memory of seq 1
    batcher.arrive(arrival(telemetry(1)))
    batcher.drain(now=NOW)
    assert (batcher.gate.accepted, batcher.gate.dropped["duplicate"]) == (0, 1)
    assert sample_count(session) == 1


def test_batcher_accepts_a_machine_registered_after_it_started(sessions, session, monkeypatch):
    monkeypatch.setattr("factory.ingest.batcher.DIRECTORY_REFRESH_S", 0.0)
    batcher = Batcher(sessions)
    make_machine(session, id="printer-3")
    batcher.arrive(arrival(telemetry(1, machine="printer-3")))
    batcher.drain(now=NOW)
    assert batcher.gate.accepted == 1
    assert sample_count(session, "printer-3") == 1


@sqlite_only
def test_a_batch_the_locked_database_refused_is_stored_later_and_counted_once(sessions, session, db_url, request):
    engine = create_engine(db_url, connect_args={"timeout": 0.1})
    request.addfinalizer(engine.dispose)
    batcher = Batcher(factory.db.make_sessionmaker(engine))
    acks = []
    batcher.arrive(arrival(telemetry(1), acks=acks))
    batcher.arrive(Arrival("mf/north/printer-1/telemetry", b"{oops"))
    blocker = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        assert batcher.drain(now=NOW) == 0
        assert batcher.drain(now=NOW) == 0
        assert acks == [], "nothing is acknowledged before it is stored"
    finally:
        blocker.rollback()
        blocker.close()
    assert batcher.drain(now=NOW) == 2
    assert acks == [telemetry(1)]
    assert (batcher.gate.accepted, dict(batcher.gate.dropped)) == (1, {"json": 1})
    assert batcher.store_failures == 2
    assert sample_count(session, "printer-1") == 1


def test_a_message_the_database_refuses_is_dropped_alone_and_the_worker_goes_on(sessions, session):
    refuse_detail(session, "boom")
    batcher = Batcher(sessions)
    acks = []
    bad = EventMessage("printer-1", NOW, 2, "fault", detail="boom")
    for message in (telemetry(1), bad, telemetry(3)):
        batcher.arrive(arrival(message, acks=acks))
    assert batcher.drain(now=NOW) == 3
    assert acks == [telemetry(1), bad, telemetry(3)], "the refused one too: it would be refused again"
    assert (batcher.gate.accepted, dict(batcher.gate.dropped)) == (2, {"unstorable": 1})
    assert sample_count(session, "printer-1") == 2
    assert session.scalar(select(func.count()).select_from(MachineEvent)) == 0


def refuse_detail(session, detail: str) -> None:
    """Make the real database refuse events with this detail, as a constraint the gate does not know would."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ALTER TABLE machine_event ADD CONSTRAINT refuse_it CHECK (detail <> '{detail}')"))
    else:
        session.execute(text(f"CREATE TRIGGER refuse_it BEFORE INSERT ON machine_event WHEN NEW.detail = '{detail}' "
                             "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    session.commit()
