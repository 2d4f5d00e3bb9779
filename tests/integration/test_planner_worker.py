"""The planner worker on both databases: triggers arriving together, from many sessions at once, make one
plan version; a round that fails does not stop the worker; malformed or foreign `cmd/ack` messages are
counted and dropped without touching any command."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

import factory.db
from drivers.mqtt import InboundMessage
from factory.models import MachineCommand, PlanTrigger, PlanVersion, User
from factory.planner_worker import PlannerOptions, PlannerWorker
from factory.services.designs import DesignDraft, StepDraft, create_design
from factory.services.orders import OrderDraft, place_order
from factory.services.plan_triggers import request_replan, waiting_triggers
from tests.integration.conftest import make_commune_with_site, make_coop, make_machine, make_user

pytestmark = pytest.mark.timeout(60)
OPTIONS = PlannerOptions(settle_s=0.5, max_wait_s=5.0, poll_s=0.05, time_limit_s=0.5)


@pytest.fixture
def sessions(db_url):
    engine = factory.db.make_engine(db_url)
    yield factory.db.make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def works(sessions):
    with sessions() as session:
        make_commune_with_site(session, "north")
        make_machine(session, id="printer-1", name="Printer 1", state="idle", unattended_ok=True)
        create_design(session, DesignDraft("bracket", "Bracket", "CC-BY-SA-4.0", "https://example.org/b", "1.0",
                                           max_batch=4, steps=(StepDraft("print", "fdm_printer", "30", 0),)))
        make_coop(session, "spokes")
        make_user(session, "steward", login="sam")
    return sessions


def run_worker(worker: PlannerWorker) -> threading.Thread:
    thread = threading.Thread(target=worker.run, kwargs={"plan_at_start": False}, daemon=True)
    thread.start()
    return thread


def versions(sessions) -> list[PlanVersion]:
    with sessions() as session:
        return list(session.scalars(select(PlanVersion).options(selectinload(PlanVersion.assignments))
                                    .order_by(PlanVersion.id)))


def until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_orders_placed_at_once_from_many_sessions_are_planned_in_one_version(works):
    sessions = works
    worker = PlannerWorker(sessions, options=OPTIONS)
    worker.plan()  # what the fixture's set-up asked for (the printer coming up) is planned first
    thread = run_worker(worker)
    barrier = threading.Barrier(6)

    def place() -> None:
        with sessions() as session:
            sam = session.scalar(select(User).where(User.login == "sam"))
            barrier.wait()
            place_order(session, OrderDraft("bracket", "spokes", 4, date.today() + timedelta(days=20)), viewer=sam,
                        by="steward:sam")

    placers = [threading.Thread(target=place) for _ in range(6)]
    for placer in placers:
        placer.start()
    for placer in placers:
        placer.join(20)
    until(lambda: len(versions(sessions)) == 2)
    time.sleep(OPTIONS.settle_s * 3)  # nothing waits any more: no other version follows
    worker.stop()
    thread.join(10)

    made = versions(sessions)
    assert len(made) == 2 and made[1].outcome == "published"
    assert [t["kind"] for t in made[1].triggers] == ["order_placed"] * 6
    assert len(made[1].assignments) == 6
    with sessions() as session:
        assert waiting_triggers(session) == []


def test_a_round_that_fails_is_counted_and_the_worker_plans_at_the_next(works, monkeypatch):
    sessions = works
    worker = PlannerWorker(sessions, options=OPTIONS)
    calls = {"n": 0}
    real_plan = worker.plan

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real_plan(**kwargs)

    monkeypatch.setattr(worker, "plan", flaky)
    thread = run_worker(worker)
    until(lambda: any(v.outcome == "published" for v in versions(sessions)))
    worker.stop()
    thread.join(10)

    assert worker.failed_rounds == 1 and calls["n"] == 2


@pytest.mark.parametrize("payload", [b"not json", b'{"ok": true}', b'{"id": 5, "ok": true}',
                                     b'{"id": "x", "ok": "yes"}'])
def test_a_malformed_acknowledgement_is_counted_and_changes_nothing(works, payload):
    sessions = works
    with sessions() as session:
        session.add(MachineCommand(command_id="x", machine_id="printer-1", command="pause", requested_by="sam",
                                   status="sent", created_at=datetime.now(UTC)))
        session.commit()
    worker = PlannerWorker(sessions, options=OPTIONS)

    worker._ack_arrived(InboundMessage("mf/north/printer-1/cmd/ack", payload, False, False, lambda: None))
    worker.step()

    assert worker.bad_acks == 1 and worker.failed_rounds == 0
    with sessions() as session:
        assert session.scalar(select(MachineCommand.status)) == "sent"


def test_an_acknowledgement_from_another_machine_does_not_settle_the_command(works):
    sessions = works
    with sessions() as session:
        session.add(MachineCommand(command_id="c1", machine_id="printer-1", command="pause", requested_by="sam",
                                   status="sent", created_at=datetime.now(UTC)))
        request_replan(session, "manual")
        session.commit()
    worker = PlannerWorker(sessions, options=OPTIONS)

    worker._ack_arrived(InboundMessage("mf/north/printer-9/cmd/ack", b'{"id": "c1", "ok": true}', False, False,
                                       lambda: None))
    worker._ack_arrived(InboundMessage("mf/north/printer-1/cmd/ack", b'{"id": "c1", "ok": false, "detail": "busy"}',
                                       False, False, lambda: None))
    worker._record_acks()

    with sessions() as session:
        command = session.scalar(select(MachineCommand))
        assert (command.status, command.detail) == ("refused", "busy")
        assert session.scalar(select(func.count()).select_from(PlanTrigger)) >= 1
