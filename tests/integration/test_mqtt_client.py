"""drivers.mqtt.MqttClient against a real Mosquitto: reconnection, guarded handlers, the last will."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from drivers.mqtt import ClientOptions, MqttClient
from factory.broker.config import MachineAccount, acl_text
from factory.broker.passwords import hash_password
from tests.support.mosquitto import Inbox
from tests.support.waits import until as wait_until

pytestmark = pytest.mark.timeout(60)

PASSWORDS = {"factory": "service-secret", "printer-1": "p1-secret"}
ACL = acl_text([MachineAccount("north", "printer-1", hash_password("p1-secret"))])
STATE = "mf/north/printer-1/state"
TELEMETRY = "mf/north/printer-1/telemetry"
WAIT = 15.0
ROOT = Path(__file__).parents[2]


@pytest.fixture
def broker(mosquitto_factory):
    return mosquitto_factory(PASSWORDS, ACL)


@pytest.fixture
def make_client():
    made: list[MqttClient] = []

    def make(broker, user: str, client_id: str, **kwargs) -> MqttClient:
        client = MqttClient(broker.address(user, PASSWORDS[user]), client_id, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.stop()


def until(condition, timeout: float = WAIT) -> bool:
    return wait_until(condition, timeout)


def test_client_reconnects_and_subscribes_again_after_the_broker_crashes(broker, make_client):
    connects: list[bool] = []
    inbox = Inbox()
    ingest = make_client(broker, "factory", "ingest", on_connect=connects.append,
                         options=ClientOptions(reconnect_min_s=0.2, reconnect_max_s=2.0))
    ingest.subscribe("mf/#", inbox)
    ingest.start()
    assert until(lambda: connects == [False])

    broker.kill()  # a crash before any autosave: the broker forgets the session and its subscription
    assert until(lambda: not ingest.connected.is_set())
    broker.start()
    assert until(lambda: len(connects) == 2), broker.log_tail()
    assert connects[1] is False, "the broker kept the session, so this does not test re-subscribing"

    machine = make_client(broker, "printer-1", "printer-1").start()
    assert machine.connected.wait(WAIT)
    assert until(lambda: machine.publish(TELEMETRY, b"after").wait(WAIT) and inbox.wait_for_payload(b"after", 0.2))


def test_publishes_made_while_the_broker_is_down_are_sent_when_it_returns(broker, make_client):
    inbox = Inbox()
    ingest = make_client(broker, "factory", "ingest")
    ingest.subscribe("mf/#", inbox)
    machine = make_client(broker, "printer-1", "printer-1",
                          options=ClientOptions(reconnect_min_s=0.2, reconnect_max_s=1.0))
    ingest.start(), machine.start()
    assert ingest.ready.wait(WAIT) and machine.connected.wait(WAIT)
    before = [machine.publish(TELEMETRY, f"m{n}".encode()) for n in range(20)]
    assert machine.flush(WAIT) and all(result.ok for result in before)

    broker.stop()  # saves sessions: the ingest's subscription survives
    assert until(lambda: not machine.connected.is_set())
    during = [machine.publish(TELEMETRY, f"m{n}".encode()) for n in range(20, 40)]
    assert not any(result.done for result in during)
    broker.start()

    assert machine.flush(WAIT), broker.log_tail()
    assert all(result.ok for result in during)
    expected = {f"m{n}".encode() for n in range(40)}
    assert inbox.wait_for(lambda messages: {m.payload for m in messages} >= expected, WAIT)


def test_a_subscription_made_after_connecting_is_confirmed_before_ready_is_set_again(broker, make_client):
    ingest = make_client(broker, "factory", "ingest").start()
    machine = make_client(broker, "printer-1", "printer-1").start()
    assert ingest.ready.wait(WAIT) and machine.connected.wait(WAIT)
    for n in range(20):  # each new filter: once ready, a message published at once must be routed to it
        inbox = Inbox()
        ingest.subscribe(f"mf/north/printer-1/probe-{n}", inbox)
        assert ingest.ready.wait(WAIT)
        assert machine.publish(f"mf/north/printer-1/probe-{n}", b"p").wait(WAIT)
        assert inbox.wait_for_payload(b"p", WAIT), f"probe {n} was published before the broker had the filter"


def test_handler_exception_is_logged_and_counted_and_delivery_goes_on(broker, make_client, caplog):
    seen: list[bytes] = []

    def fragile(message) -> None:
        if message.payload == b"boom":
            raise ValueError("bad payload")
        seen.append(message.payload)

    ingest = make_client(broker, "factory", "ingest")
    ingest.subscribe("mf/#", fragile)
    ingest.start()
    machine = make_client(broker, "printer-1", "printer-1").start()
    assert ingest.ready.wait(WAIT) and machine.connected.wait(WAIT)
    with caplog.at_level(logging.ERROR, logger="drivers.mqtt"):
        for payload in (b"one", b"boom", b"two"):
            machine.publish(TELEMETRY, payload)
        assert until(lambda: b"two" in seen)
    assert seen == [b"one", b"two"]
    assert ingest.handler_errors == 1
    failure = [r for r in caplog.records if "failed on a message" in r.getMessage()]
    assert failure and TELEMETRY in failure[0].getMessage() and failure[0].exc_info[0] is ValueError


def test_on_connect_hook_exception_does_not_stop_the_client(broker, make_client):
    def broken(_session_present: bool) -> None:
        raise RuntimeError("hook bug")

    inbox = Inbox()
    ingest = make_client(broker, "factory", "ingest", on_connect=broken)
    ingest.subscribe("mf/#", inbox)
    ingest.start()
    machine = make_client(broker, "printer-1", "printer-1").start()
    assert ingest.connected.wait(WAIT) and machine.connected.wait(WAIT)
    assert until(lambda: machine.publish(TELEMETRY, b"x").wait(WAIT) and inbox.wait_for_payload(b"x", 0.2))


MACHINE_SCRIPT = textwrap.dedent("""
    import sys, time
    from drivers.broker_url import parse_broker_url
    from drivers.mqtt import MqttClient
    url, topic = sys.argv[1], sys.argv[2]
    client = MqttClient(parse_broker_url(url), "printer-1", will=(topic, b"offline"))
    client.start()
    assert client.connected.wait(15)
    result = client.publish(topic, b"idle", retain=True)
    assert result.wait(15) and result.ok, result
    print("ready", flush=True)
    time.sleep(120)
""")


def test_last_will_marks_a_killed_machine_offline_and_is_retained(broker, make_client):
    live = Inbox()
    watcher = make_client(broker, "factory", "watcher")
    watcher.subscribe(STATE, live)
    watcher.start()
    assert watcher.ready.wait(WAIT)
    process = subprocess.Popen([sys.executable, "-c", MACHINE_SCRIPT, broker.url("printer-1", PASSWORDS["printer-1"]),
                                STATE], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        ready = _read_line(process)
        assert ready == "ready", ready
        assert live.wait_for_payload(b"idle")
        process.kill()  # the broker sees the connection vanish without a DISCONNECT
        process.wait(WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    assert live.wait_for_payload(b"offline"), broker.log_tail()

    later = Inbox()
    newcomer = make_client(broker, "factory", "newcomer")
    newcomer.subscribe(STATE, later)
    newcomer.start()
    assert later.wait_for_payload(b"offline")
    assert later.messages[0].retain is True and later.payloads == [b"offline"]


def test_clean_stop_does_not_send_the_last_will(broker, make_client):
    live = Inbox()
    watcher = make_client(broker, "factory", "watcher")
    watcher.subscribe(STATE, live)
    watcher.start()
    machine = make_client(broker, "printer-1", "printer-1", will=(STATE, b"offline"))
    machine.start()
    assert watcher.ready.wait(WAIT) and machine.connected.wait(WAIT)
    assert machine.publish(STATE, b"idle", retain=True).wait(WAIT)
    assert live.wait_for_payload(b"idle")
    machine.stop()
    marker = make_client(broker, "printer-1", "printer-1b").start()
    assert marker.connected.wait(WAIT) and marker.publish(STATE, b"marker").wait(WAIT)
    assert live.wait_for_payload(b"marker")
    assert b"offline" not in live.payloads


def _read_line(process: subprocess.Popen, timeout: float = WAIT) -> str:
    """The child's first stdout line, or what it had said when `timeout` passed."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline().strip()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0] if line else f"(nothing after {timeout}s; exit {process.poll()})"


def test_unacknowledged_messages_come_again_after_reconnecting_with_manual_ack(broker, make_client):
    options = ClientOptions(manual_ack=True, receive_maximum=1000)
    first = Inbox()
    ingest = make_client(broker, "factory", "ingest", options=options)
    ingest.subscribe("mf/#", first)
    ingest.start()
    machine = make_client(broker, "printer-1", "printer-1").start()
    assert ingest.ready.wait(WAIT) and machine.connected.wait(WAIT)
    for payload in (b"a", b"b", b"c"):
        machine.publish(TELEMETRY, payload)
    assert first.wait_for(lambda messages: len(messages) == 3)
    first.messages[0].ack()  # only "a" is stored; its PUBACK leaves before the DISCONNECT of stop()
    ingest.stop()

    second = Inbox()
    again = make_client(broker, "factory", "ingest", options=options)
    again.subscribe("mf/#", second)
    again.start()
    assert second.wait_for(lambda messages: len(messages) >= 2), broker.log_tail()
    assert second.payloads == [b"b", b"c"] and all(m.duplicate for m in second.messages)
    for message in second.messages:
        message.ack()
    again.stop()

    third = Inbox()
    last = make_client(broker, "factory", "ingest", options=options)
    last.subscribe("mf/#", third)
    last.start()
    assert last.ready.wait(WAIT)
    machine.publish(TELEMETRY, b"marker")
    assert third.wait_for_payload(b"marker")
    assert third.payloads == [b"marker"]


def test_a_command_past_its_expiry_is_not_delivered_to_a_machine_that_comes_back_late(broker, make_client):
    inbox = Inbox()
    machine = make_client(broker, "printer-1", "printer-1")
    machine.subscribe("mf/north/printer-1/cmd", inbox)
    machine.start()
    assert machine.ready.wait(WAIT)
    machine.stop()  # away, its session kept by the broker
    factory = make_client(broker, "factory", "factory").start()
    assert factory.ready.wait(WAIT)
    assert factory.publish("mf/north/printer-1/cmd", b"home, soon or never", expiry_s=1).wait(WAIT)
    assert factory.publish("mf/north/printer-1/cmd", b"whenever").wait(WAIT)
    time.sleep(2.5)  # the expiry passes while the machine is away
    back = make_client(broker, "printer-1", "printer-1")
    back.subscribe("mf/north/printer-1/cmd", inbox)
    back.start()
    assert inbox.wait_for_payload(b"whenever", WAIT)
    assert inbox.payloads == [b"whenever"]
