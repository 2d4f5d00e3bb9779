"""The telemetry path when the broker goes away, when messages are bad or spoofed, and with several workers:
real Mosquitto, ingest workers and database (tests/integration/telemetry_plant.py).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from drivers.messages import StateMessage, encode, format_ts
from drivers.states import MachineState
from factory.models import Machine
from tests.integration.telemetry_plant import (
    SERVICE_PASSWORD,
    WAIT,
    command,
    eventually,
    kill_when_all_acknowledged_is_delivered,
    now,
    running_plant,
    send,
    telemetry,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def plant(sqlite_url, mosquitto_factory, tmp_path):
    yield from running_plant(sqlite_url, mosquitto_factory, tmp_path)


@pytest.fixture
def plant_on_both(db_url, mosquitto_factory, tmp_path):
    yield from running_plant(db_url, mosquitto_factory, tmp_path)


# --- the broker going away ------------------------------------------------------------------------------


def test_a_broker_killed_mid_stream_loses_no_bridge_message(plant):
    first = plant.ingest("w1")
    bridge = plant.bridge(plant.printer())
    eventually(lambda: plant.samples() >= 3, what="first samples")
    plant.broker.save()  # a broker up for a while has autosaved the ingest's session (60 s in production)
    kill_when_all_acknowledged_is_delivered(plant, first, bridge)
    plant.stop_ingest(first)  # and the ingest is the last to come back: the broker must queue the backlog for it
    eventually(lambda: len(bridge.spool) >= 10, what="the bridge spooling while the broker is away")
    plant.broker.start()
    eventually(lambda: len(bridge.spool) == 0, what="the bridge's backlog acknowledged by the restarted broker")
    second = plant.ingest("w1")  # same name, same broker session
    eventually(lambda: plant.samples() > 13, what="the backlog stored")
    plant.stop_bridges()
    assert len(bridge.spool) == 0
    accepted = lambda: first.batcher.gate.accepted + second.batcher.gate.accepted  # noqa: E731
    eventually(lambda: accepted() == bridge.sender.sent, what="every message the broker acknowledged stored")
    for worker in (first, second):
        assert set(worker.batcher.gate.dropped) <= {"duplicate"}, "a redelivery after the crash is no loss"
    seqs = plant.seqs()
    assert seqs == sorted(set(seqs)), "stored once each, in the order they were taken"


def test_messages_queued_for_a_stopped_ingest_survive_a_broker_restart(plant):
    tester = plant.tester()
    plant.stop_ingest(plant.ingest("w1"))
    base = 1_000
    for seq in range(base, base + 200):
        send(tester, "mf/north/printer-1/telemetry", telemetry(seq))
    plant.broker.restart()
    plant.ingest("w1")  # the same client id: its persistent session kept the queue
    eventually(lambda: plant.samples() == 200, what="all 200 queued messages stored after the restart")
    assert plant.seqs() == list(range(base, base + 200))


# --- what the broker and the ingest refuse --------------------------------------------------------------


def test_a_machine_publishing_under_another_machines_topic_is_refused_by_the_broker(plant):
    plant.ingest()
    intruder = plant.client("printer-2", plant.passwords["printer-2"], "printer-2")
    refused = intruder.publish("mf/north/printer-1/telemetry", telemetry(1, "printer-1"))
    assert refused.wait(WAIT) and refused.refused
    send(intruder, "mf/north/printer-2/telemetry", telemetry(2, "printer-2"))  # arrives after the refused one
    eventually(lambda: plant.samples("printer-2") == 1, what="printer-2's own message stored")
    assert plant.samples("printer-1") == 0


def test_each_kind_of_bad_message_is_dropped_counted_and_the_good_ones_kept(plant):
    plant.ingest()
    tester = plant.tester()
    own = plant.client("printer-1", plant.passwords["printer-1"], "printer-1")
    good = telemetry(1)
    send(own, "mf/north/printer-1/telemetry", good)
    send(own, "mf/north/printer-1/telemetry", good)  # a duplicate (a spool replay)
    send(own, "mf/north/printer-1/telemetry", b'{"v":1,"machine":"printer-1","ts":')  # truncated JSON
    send(own, "mf/north/printer-1/telemetry", b"\xff\xfe not json")
    send(own, "mf/north/printer-1/telemetry", telemetry(2, "printer-2"))  # spoofed payload, own topic
    send(own, "mf/north/printer-1/telemetry", telemetry(3, at=now() + timedelta(minutes=10)))
    send(own, "mf/north/printer-1/state", json.dumps({"v": 1, "machine": "printer-1", "ts": format_ts(now()),
                                                       "seq": 4, "state": "exploded"}).encode())
    send(tester, "mf/north/ghost-9/telemetry", telemetry(5, "ghost-9"))
    send(tester, "mf/south/printer-1/telemetry", telemetry(6))
    last = telemetry(7)
    send(own, "mf/north/printer-1/telemetry", last)
    eventually(lambda: plant.samples() == 2, what="the two good samples")
    eventually(lambda: sum(plant.workers[0].batcher.gate.dropped.values()) == 8, what="eight drops counted")
    assert dict(plant.workers[0].batcher.gate.dropped) == {
        "duplicate": 1, "json": 2, "spoofed": 1, "future": 1, "schema": 1, "unknown_machine": 1, "wrong_site": 1}
    text = plant.metrics_text()
    assert 'factory_ingest_messages_accepted_total{worker="w1"} 2' in text
    for reason, count in {"json": 2, "spoofed": 1, "future": 1, "unknown_machine": 1, "duplicate": 1}.items():
        assert f'factory_ingest_messages_dropped_total{{worker="w1",reason="{reason}"}} {count}' in text
    assert plant.machine()["state"] == "offline", "the invalid state message changed nothing"


def test_commands_and_their_answers_on_mf_are_passed_over_not_counted_as_drops(plant):
    worker = plant.ingest()
    own = plant.client("printer-1", plant.passwords["printer-1"], "printer-1")
    service = plant.client("factory", SERVICE_PASSWORD, "console")
    command(service, "home")
    send(own, "mf/north/printer-1/cmd/ack", json.dumps(
        {"v": 1, "machine": "printer-1", "ts": format_ts(now()), "id": "c-1", "ok": True, "detail": ""}).encode())
    eventually(lambda: sum(worker.batcher.gate.ignored.values()) == 2, what="command and answer seen")
    assert sum(worker.batcher.gate.dropped.values()) == 0
    assert 'factory_ingest_messages_ignored_total{worker="w1",channel="cmd"} 1' in plant.metrics_text()


def test_a_state_message_drives_availability_both_ways(plant):
    plant.ingest()
    own = plant.client("printer-1", plant.passwords["printer-1"], "printer-1")
    for seq, state in enumerate([MachineState.IDLE, MachineState.FAULT, MachineState.IDLE], start=1):
        send(own, "mf/north/printer-1/state", encode(StateMessage("printer-1", now(), seq, state)))
        eventually(lambda s=state: plant.machine()["state"] == s.value, what=f"state {state}")
        assert plant.machine()["available"] is (state is MachineState.IDLE)
    with plant.sessions() as session:
        assert session.get(Machine, "printer-1").state == "idle"


# --- several workers ------------------------------------------------------------------------------------


def test_two_ingest_workers_split_the_stream_and_store_each_message_once(plant_on_both):
    plant = plant_on_both
    first, second = plant.ingest("w1", shared=True), plant.ingest("w2", shared=True)
    publishers = [plant.client(m, plant.passwords[m], f"pub-{m}") for m in ("printer-1", "printer-2")]
    count = 300
    for seq in range(count):
        for publisher, machine in zip(publishers, ("printer-1", "printer-2"), strict=True):
            publisher.publish(f"mf/north/{machine}/telemetry", telemetry(seq, machine))
    for publisher in publishers:
        assert publisher.flush(WAIT)
    eventually(lambda: plant.samples("printer-1") + plant.samples("printer-2") == 2 * count, what="all stored")
    time.sleep(0.5)  # a duplicate delivery, were there one, would have arrived by now
    assert plant.samples("printer-1") == plant.samples("printer-2") == count
    accepted = first.batcher.gate.accepted, second.batcher.gate.accepted
    assert sum(accepted) == 2 * count
    assert min(accepted) > 0, f"one worker took everything: {accepted}"
