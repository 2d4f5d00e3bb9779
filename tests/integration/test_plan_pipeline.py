"""The live plan with real parts: orders in the database, the planner worker, Mosquitto, the ingest worker,
a Marlin simulator behind a real firmware bridge (printer-1) and a native MQTT machine (printer-2).

A plan is published; a steward dispatches a planned operation and the printer's own job events make it
running; printer-2 reports a fault over MQTT and within seconds a new version is published that gives it no
work and keeps the running operation where it runs.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from drivers.messages import StateMessage, encode
from factory.models import Machine, MachineCommand, Operation, PlanVersion, User
from factory.planner_worker import PlannerOptions, PlannerWorker
from factory.services.designs import DesignDraft, StepDraft, create_design
from factory.services.dispatch import queue_start
from factory.services.orders import OrderDraft, place_order
from tests.integration.conftest import make_coop
from tests.integration.telemetry_plant import SERVICE_PASSWORD, eventually, running_plant

pytestmark = pytest.mark.timeout(150)
FILE = "bracket.gco"


@pytest.fixture
def plant(sqlite_url, mosquitto_factory, tmp_path):
    yield from running_plant(sqlite_url, mosquitto_factory, tmp_path)


def newest(plant) -> PlanVersion | None:
    with plant.sessions() as session:
        version = session.scalars(select(PlanVersion).where(PlanVersion.outcome == "published")
                                  .order_by(PlanVersion.id.desc())).first()
        if version is not None:
            version.assignments, version.unplanned  # noqa: B018  (loaded before the session closes)
        return version


def operation(plant, operation_id: int) -> Operation:
    with plant.sessions() as session:
        return session.get(Operation, operation_id)


def planner(plant) -> PlannerWorker:
    worker = PlannerWorker(plant.sessions, plant.broker.address("factory", SERVICE_PASSWORD),
                           PlannerOptions(settle_s=0.3, max_wait_s=2.0, poll_s=0.1, time_limit_s=1.0))
    thread = threading.Thread(target=worker.run, name="planner", daemon=True)
    thread.start()
    plant._stops.append(lambda: (worker.stop(), thread.join(15)))
    return worker


def say_state(client, machine: str, state: str, seq: int) -> None:
    message = StateMessage(machine, datetime.now(UTC), seq, state)
    assert client.publish(f"mf/north/{machine}/state", encode(message), retain=True).wait(10)


def test_a_fault_reported_over_mqtt_is_planned_around_within_seconds_keeping_the_running_operation(plant):
    with plant.sessions() as session:
        create_design(session, DesignDraft("bracket", "Bracket", "CC-BY-SA-4.0", "https://example.org/b", "1.0",
                                           max_batch=2, steps=(StepDraft("print", "fdm_printer", "20", 0),)))
        make_coop(session, "makers")
        for machine in session.scalars(select(Machine)):
            machine.unattended_ok = True  # the plan may start now, whatever the hour the test runs at
        session.commit()
        steward = session.scalar(select(User).where(User.login == "steward-user"))
        for _ in range(2):
            place_order(session, OrderDraft("bracket", "makers", 4, date.today() + timedelta(days=10)),
                        viewer=steward, by="steward")
    plant.ingest()
    printer = plant.printer(print_seconds=120.0, files={FILE: 4000})
    plant.bridge(printer)
    printer_2 = plant.client("printer-2", plant.passwords["printer-2"], "printer-2")
    say_state(printer_2, "printer-2", "idle", 1)
    eventually(lambda: plant.machine()["state"] == "idle" and plant.machine("printer-2")["state"] == "idle",
               what="both printers idle")
    planner(plant)
    first = eventually(lambda: (v := newest(plant)) and len(v.assignments) == 4 and v, what="a plan of 4 operations")
    assert {a.machine_id for a in first.assignments} == {"printer-1", "printer-2"}

    on_printer_1 = min((a for a in first.assignments if a.machine_id == "printer-1"), key=lambda a: a.starts_at)
    with plant.sessions() as session:
        queue_start(session, on_printer_1.operation_id, by="steward")
    eventually(lambda: operation(plant, on_printer_1.operation_id).status == "running",
               what="the operation running from the printer's job_started event")

    def command():
        with plant.sessions() as session:
            return session.scalar(select(MachineCommand))
    eventually(lambda: command().status == "acknowledged", what="the printer's cmd/ack recorded")
    assert command().job == f"op-{on_printer_1.operation_id}" and command().args["file"] == FILE
    before = newest(plant).id

    faulted_at = datetime.now(UTC)
    say_state(printer_2, "printer-2", "fault", 2)
    after = eventually(lambda: (v := newest(plant)) and v.id > before and
                       any(t["kind"] == "machine_down" for t in v.triggers) and v, what="a plan after the fault")

    assert (after.created_at - faulted_at).total_seconds() < 10
    assert [a for a in after.assignments if a.machine_id == "printer-2"] == []
    kept = next(a for a in after.assignments if a.operation_id == on_printer_1.operation_id)
    assert (kept.machine_id, kept.fixed) == ("printer-1", "running")
    assert len(after.assignments) == 4 and not after.unplanned
    assert json.loads(json.dumps(after.triggers))  # stored as plain JSON
