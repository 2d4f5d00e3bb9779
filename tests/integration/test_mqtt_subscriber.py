"""drivers.mqtt_subscriber.BulkSubscriber against a real Mosquitto: late acknowledgement, sessions, restarts."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest

from drivers.mqtt import ClientOptions, MqttClient
from drivers.mqtt_subscriber import BulkSubscriber, Delivery, SubscriberOptions
from factory.broker.config import MachineAccount, acl_text
from factory.broker.passwords import hash_password
from tests.support.mosquitto import reachable_temp_dir
from tests.support.waits import until as wait_until

pytestmark = pytest.mark.timeout(60)

PASSWORDS = {"factory": "service-secret", "printer-1": "p1-secret"}
ACL = acl_text([MachineAccount("north", "printer-1", hash_password("p1-secret"))])
TELEMETRY = "mf/north/printer-1/telemetry"
WAIT = 15.0
QUICK = SubscriberOptions(reconnect_min_s=0.2, reconnect_max_s=1.0)


class Received:
    """An on_batch handler that keeps every delivery (thread-safe) and can be made to fail once."""

    def __init__(self, fail_on: bytes | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self.batches = 0
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, batch: list[Delivery]) -> None:
        if self.fail_on is not None and any(d.payload == self.fail_on for d in batch):
            self.fail_on = None
            raise ValueError("bad batch")
        with self._lock:
            self.deliveries.extend(batch)
            self.batches += 1

    def payloads(self) -> set[bytes]:
        with self._lock:
            return {d.payload for d in self.deliveries}


@pytest.fixture
def broker(mosquitto_factory):
    return mosquitto_factory(PASSWORDS, ACL)


@pytest.fixture
def started():
    running: list = []

    def start(client):
        running.append(client)
        return client.start()

    yield start
    for client in reversed(running):
        client.stop()


def until(condition, timeout: float = WAIT) -> bool:
    return wait_until(condition, timeout)


def publish(broker, started, payloads: list[bytes]) -> None:
    machine = started(MqttClient(broker.address("printer-1", PASSWORDS["printer-1"]), "printer-1",
                                 options=ClientOptions(max_inflight=1000)))
    assert machine.connected.wait(WAIT)
    results = [machine.publish(TELEMETRY, payload) for payload in payloads]
    assert machine.flush(WAIT) and all(result.ok for result in results)


def subscriber(broker, received, **options) -> BulkSubscriber:
    return BulkSubscriber(broker.address("factory", PASSWORDS["factory"]), "ingest", "mf/#", received,
                          SubscriberOptions(**{**QUICK.__dict__, **options}))


def test_a_backlog_arrives_in_few_batches(broker, started):
    started(subscriber(broker, Received())).stop()  # the session exists; its queue fills while it is away
    expected = [f"m{n}".encode() for n in range(2000)]
    publish(broker, started, expected)
    received = Received()
    ingest = started(subscriber(broker, received))
    assert until(lambda: received.payloads() == set(expected))
    assert received.batches < len(expected) / 5, "several messages a read, not one callback each"
    ingest.ack([d.token for d in received.deliveries])


def test_unacknowledged_messages_come_again_to_the_next_connection_and_acknowledged_ones_do_not(broker, started):
    first = Received()
    ingest = started(subscriber(broker, first))
    assert ingest.ready.wait(WAIT)
    publish(broker, started, [f"m{n}".encode() for n in range(10)])
    assert until(lambda: len(first.deliveries) == 10)
    ingest.ack([d.token for d in first.deliveries if d.payload in (b"m0", b"m1", b"m2")])
    ingest.stop()  # the queued PUBACKs go out before the clean disconnect

    second = Received()
    again = started(subscriber(broker, second))
    assert again.ready.wait(WAIT)
    assert until(lambda: second.payloads() == {f"m{n}".encode() for n in range(3, 10)}), second.payloads()
    time.sleep(0.3)
    assert not second.payloads() & {b"m0", b"m1", b"m2"}


def test_the_session_and_subscription_survive_a_broker_restart(broker, started):
    received = Received()
    ingest = started(subscriber(broker, received))
    assert ingest.ready.wait(WAIT)
    broker.stop()  # a clean stop saves the session
    assert until(lambda: not ingest.connected.is_set())
    broker.start()
    assert until(ingest.ready.is_set), broker.log_tail()
    publish(broker, started, [b"after"])
    assert until(lambda: received.payloads() == {b"after"})


def test_messages_queued_while_the_subscriber_was_away_arrive_when_it_returns(broker, started):
    ingest = started(subscriber(broker, Received()))
    assert ingest.ready.wait(WAIT)
    ingest.stop()
    publish(broker, started, [f"q{n}".encode() for n in range(50)])
    received = Received()
    started(subscriber(broker, received))
    assert until(lambda: received.payloads() == {f"q{n}".encode() for n in range(50)})


def test_a_failing_handler_is_logged_and_counted_and_delivery_goes_on(broker, started, caplog):
    received = Received(fail_on=b"boom")
    ingest = started(subscriber(broker, received))
    assert ingest.ready.wait(WAIT)
    publish(broker, started, [b"boom"])
    assert until(lambda: ingest.handler_errors == 1)
    publish(broker, started, [b"fine"])
    assert until(lambda: b"fine" in received.payloads())
    assert "MQTT batch handler failed" in caplog.text


def test_a_wrong_password_is_refused_and_retried_without_raising(broker, started):
    address = broker.address("factory", "wrong")
    ingest = started(BulkSubscriber(address, "ingest", "mf/#", Received(), QUICK))
    assert until(lambda: ingest.last_connect_refusal is not None)
    assert not ingest.ready.is_set()


@pytest.fixture
def tls_files():
    """A self-signed certificate for 127.0.0.1 and its key, readable by the broker's `mosquitto` user."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl NOT AVAILABLE to make a test certificate; the TLS test did NOT run")
    directory = reachable_temp_dir("mf-tls-")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    cert.chmod(0o644)
    key.chmod(0o644)
    yield cert, key
    shutil.rmtree(directory, ignore_errors=True)


def test_messages_arrive_and_are_acknowledged_over_tls(mosquitto_factory, tls_files, started):
    broker = mosquitto_factory(PASSWORDS, ACL, tls_files=tls_files)
    received = Received()
    ingest = started(subscriber(broker, received))
    assert ingest.ready.wait(WAIT), broker.log_tail()
    publish(broker, started, [f"t{n}".encode() for n in range(100)])
    assert until(lambda: len(received.payloads()) == 100)
    ingest.ack([d.token for d in received.deliveries])
    ingest.stop()
    again = Received()
    assert started(subscriber(broker, again)).ready.wait(WAIT)
    time.sleep(0.5)
    assert not again.deliveries, "every acknowledged message stays acknowledged"
