"""The whole telemetry path with real parts: firmware simulator on a pty -> firmware bridge -> Mosquitto
-> ingest worker -> database -> JSON API, with the firmware misbehaving, cables pulled and networks cut.

Every wait has a deadline and looks at what was stored, never at a fixed sleep (tests/integration/telemetry_plant.py).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from factory.models import MachineEvent, TelemetrySample
from tests.integration.telemetry_plant import SERVICE_PASSWORD, acknowledgement, command, eventually, running_plant
from tests.support.mosquitto import Inbox
from tests.support.tcp_proxy import TcpRelay

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def plant(sqlite_url, mosquitto_factory, tmp_path):
    yield from running_plant(sqlite_url, mosquitto_factory, tmp_path)


# --- the path from the firmware to the API --------------------------------------------------------------


def test_printer_readings_reach_the_api_through_bridge_broker_and_ingest(plant):
    plant.ingest()
    plant.bridge(plant.printer())
    machine = plant.machine_when(lambda m: m["state"] == "idle" and "hotend_c" in m["metrics"],
                                 "printer-1 idle with a hotend reading in the API")
    assert machine["available"] is True
    assert machine["last_seen"] is not None
    eventually(lambda: plant.samples() >= 3, what="samples stored")
    response = plant.api("/api/v1/machines/printer-1/telemetry?metric=hotend_c")
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["samples"]) >= 3
    assert all(set(s["metrics"]) == {"hotend_c"} for s in body["samples"])


def test_a_print_started_by_command_runs_to_done_and_its_events_are_stored(plant):
    plant.ingest()
    simulator = plant.printer(print_seconds=1.5)
    plant.bridge(simulator)
    acks = Inbox()
    service = plant.client("factory", SERVICE_PASSWORD, "steward-console", **{"mf/north/printer-1/cmd/ack": acks})
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle")
    command_id = command(service, "start_job", {"file": "benchy.gco"}, job="job-42")
    assert acknowledgement(acks, command_id)["ok"] is True
    machine = plant.machine_when(lambda m: m["state"] == "running", "printer running")
    assert machine["job"] == "job-42", "the factory's job id, not the file name"
    eventually(lambda: "job_finished" in plant.events(), what="job_finished event stored")
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle again")
    assert plant.events().index("job_started") < plant.events().index("job_finished")
    with plant.sessions() as session:
        jobs = dict(session.execute(select(MachineEvent.event, MachineEvent.job)
                                    .where(MachineEvent.machine_id == "printer-1")).all())
    assert jobs == {"job_started": "job-42", "job_finished": "job-42"}


def test_a_thermal_runaway_marks_the_machine_unavailable(plant):
    plant.ingest()
    simulator = plant.printer()
    plant.bridge(simulator)
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle")
    simulator.inject_thermal_runaway()
    machine = plant.machine_when(lambda m: m["state"] == "fault", "fault stored")
    assert machine["available"] is False
    assert "fault" in plant.events()


def test_the_serial_port_vanishing_shows_offline_and_coming_back_shows_idle(plant):
    plant.ingest()
    simulator = plant.printer()
    bridge = plant.bridge(simulator)
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle")
    simulator.unplug()
    machine = plant.machine_when(lambda m: m["state"] == "offline", "offline")
    assert machine["available"] is False
    assert bridge.port_losses == 1
    simulator.replug()
    eventually(lambda: plant.machine()["state"] == "idle", what="idle after the cable is back")


def test_garbage_and_truncated_serial_lines_neither_stop_the_bridge_nor_reach_the_database(plant, caplog):
    worker = plant.ingest()
    bridge = plant.bridge(plant.printer(garbage_every=3, truncate_every=4))
    eventually(lambda: plant.samples() >= 10, what="samples from a noisy line")
    assert plant.machine()["state"] == "idle"
    assert bridge.malformed_lines > 0
    assert any("malformed serial line" in r.message for r in caplog.records)
    with plant.sessions() as session:
        readings = [s.metrics for s in session.scalars(select(TelemetrySample))]
    assert all(0 < value < 400 for metrics in readings for value in metrics.values())
    assert sum(worker.batcher.gate.dropped.values()) == 0, "the bridge publishes nothing malformed"


def test_a_command_while_the_cable_is_out_is_refused_at_once_with_the_reason(plant):
    plant.ingest()
    simulator = plant.printer()
    plant.bridge(simulator)
    acks = Inbox()
    service = plant.client("factory", SERVICE_PASSWORD, "console", **{"mf/north/printer-1/cmd/ack": acks})
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle")
    simulator.unplug()
    plant.machine_when(lambda m: m["state"] == "offline", "offline")
    ack = acknowledgement(acks, command(service, "home"))
    assert ack["ok"] is False and "not connected" in ack["detail"]


def test_a_mill_reports_spindle_and_position_and_obeys_feed_hold(plant):
    plant.ingest()
    mill = plant.mill()
    plant.bridge(mill, "mill-1", "grbl")
    acks = Inbox()
    service = plant.client("factory", SERVICE_PASSWORD, "console", **{"mf/north/mill-1/cmd/ack": acks})
    plant.machine_when(lambda m: m["state"] == "idle", "mill idle", "mill-1")
    mill.run_job()
    machine = plant.machine_when(lambda m: m["state"] == "running" and m["metrics"].get("spindle_rpm", 0) > 0,
                                 "mill running with the spindle on", "mill-1")
    assert {"x_mm", "y_mm", "z_mm", "feed_mm_min"} <= set(machine["metrics"])
    assert acknowledgement(acks, command(service, "pause", machine="mill-1"))["ok"] is True
    plant.machine_when(lambda m: m["state"] == "paused", "mill in feed hold", "mill-1")
    assert acknowledgement(acks, command(service, "resume", machine="mill-1"))["ok"] is True
    plant.machine_when(lambda m: m["state"] == "running", "mill going on after the hold", "mill-1")
    mill.speed = 50.0
    plant.machine_when(lambda m: m["state"] == "idle", "the job done", "mill-1")
    assert acknowledgement(acks, command(service, "start_job", machine="mill-1"))["ok"] is False


def test_a_kiln_on_mqtt_fires_and_an_over_temperature_makes_it_unavailable(plant):
    plant.ingest()
    kiln = plant.kiln()
    acks = Inbox()
    service = plant.client("factory", SERVICE_PASSWORD, "console", **{"mf/north/kiln-1/cmd/ack": acks})
    plant.machine_when(lambda m: m["state"] == "idle", "kiln idle", "kiln-1")
    assert acknowledgement(acks, command(service, "start_job", {"schedule": "bisque"}, machine="kiln-1"))["ok"]
    plant.machine_when(lambda m: m["state"] == "running" and m["metrics"].get("chamber_c", 0) > 60,
                       "kiln ramping up", "kiln-1")
    kiln.inject_stuck_relay()
    machine = plant.machine_when(lambda m: m["state"] == "fault", "over-temperature fault", "kiln-1")
    assert machine["available"] is False
    assert "fault" in plant.events("kiln-1")


def test_a_kiln_whose_controller_dies_is_marked_offline_by_its_last_will(plant):
    plant.ingest()
    url = plant.broker.url("kiln-1", plant.passwords["kiln-1"])
    controller = subprocess.Popen([sys.executable, "-m", "drivers.simulators.kiln_sim", "--broker", url,
                                   "--site", "north", "--machine", "kiln-1", "--interval", "0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        plant.machine_when(lambda m: m["state"] == "idle", "kiln idle", "kiln-1")
    finally:
        controller.kill()  # no goodbye: only the broker can tell
        controller.wait(10)
    machine = plant.machine_when(lambda m: m["state"] == "offline", "offline from the last will", "kiln-1")
    assert machine["available"] is False
    assert machine["state_detail"] == "connection lost"


def test_after_a_network_blip_the_bridge_says_its_state_again_over_its_last_will(plant):
    plant.ingest()
    relay = TcpRelay(plant.broker.port)
    try:
        bridge = plant.bridge(plant.printer(), port=relay.port)
        plant.machine_when(lambda m: m["state"] == "idle", "printer idle")
        connections = bridge.client.connections
        assert relay.cut() == 1  # the Wi-Fi drops: the broker publishes the bridge's retained `offline` will
        plant.machine_when(lambda m: m["state"] == "offline" and m["state_detail"] == "bridge connection lost",
                           "offline from the last will")
        eventually(lambda: bridge.client.connections > connections, what="the bridge reconnected")
        machine = plant.machine_when(lambda m: m["state"] == "idle", "idle again without any change on the printer")
        assert machine["available"] is True
    finally:
        relay.close()


def test_firmware_output_no_message_can_carry_is_skipped_and_the_bridge_goes_on(plant):
    plant.ingest()
    simulator = plant.printer(print_seconds=1.0)
    bridge = plant.bridge(simulator)
    plant.machine_when(lambda m: m["state"] == "idle", "printer idle")
    simulator.inject_line("ok T:" + "9" * 400 + " /0.0 B:21.0 /0.0")  # a corrupted reading: inf
    simulator.files["x" * 600 + ".gco"] = 1000
    simulator.inject_line(f"File opened: {'x' * 600}.gco Size: 1000")  # a file name longer than a job may be
    simulator.inject_line("File selected")
    simulator.inject_line("Done printing file")
    before = plant.samples()
    eventually(lambda: plant.samples() > before + 5, what="readings still arriving")
    machine = plant.machine_when(lambda m: "hotend_c" in m["metrics"], "a hotend reading after the bad one")
    assert machine["metrics"]["hotend_c"] < 400, "the infinite reading was never published"
    assert machine["state"] == "idle"
    assert bridge.port_losses == 0
