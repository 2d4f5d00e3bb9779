"""A bulk MQTT 5 subscriber for the ingest: many messages per read, acknowledged later, many per write.

drivers/mqtt.py's MqttClient (paho) handles one message per callback and costs about 150 µs of CPU a
message; the ingest needs ten thousand a second. This client does one thing: a persistent session (clean
start off, session expiry) with one QoS 1 subscription, re-made on every connect. Its network thread reads
large chunks, hands every whole PUBLISH in a chunk to `on_batch` in one call, and writes the PUBACKs that
`ack()` queued (from any thread, e.g. after a commit) as one buffer. Only the network thread touches the
socket, so TLS (mqtts://) is safe too. It reconnects with exponential back-off; a PUBACK queued for a
connection that has since dropped is not sent (the broker resends that message on the new connection).
An exception in `on_batch` is logged and counted and the batch acknowledged, so it cannot stop the loop.

    subscriber = BulkSubscriber(address, "factory-ingest-host", "mf/#", on_batch)  # on_batch(list[Delivery])
    subscriber.start()
    subscriber.ack([delivery.token for delivery in batch])  # once the batch is stored
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from drivers import mqtt_wire as wire
from drivers.broker_url import BrokerAddress

logger = logging.getLogger(__name__)

READ_SIZE = 1 << 18


class Delivery(NamedTuple):
    topic: str
    payload: bytes
    token: int  # what to give `ack()`: the connection and the packet id; 0 for a QoS 0 message


BatchHandler = Callable[[list[Delivery]], None]


@dataclass(frozen=True)
class SubscriberOptions:
    keepalive_s: int = 30
    session_expiry_s: int = 7 * 86_400
    receive_maximum: int = 10_000  # unacknowledged messages the broker may send at once
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.receive_maximum <= 65_535 or self.keepalive_s < 5 or self.session_expiry_s < 0:
            raise ValueError("receive_maximum 1..65535, keepalive_s >= 5, session_expiry_s >= 0")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError("reconnect delays must satisfy 0 < reconnect_min_s <= reconnect_max_s")


class _Dropped(Exception):
    """The connection ended (broker gone, refused, or silent too long)."""


class BulkSubscriber:
    def __init__(self, address: BrokerAddress, client_id: str, topic_filter: str, on_batch: BatchHandler,
                 options: SubscriberOptions = SubscriberOptions()) -> None:
        if not client_id:
            raise ValueError("a persistent session needs a client id")
        self.address, self.client_id, self.topic_filter = address, client_id, topic_filter
        self.on_batch, self.options = on_batch, options
        self.connected = threading.Event()
        self.ready = threading.Event()  # connected and subscribed
        self.handler_errors = 0
        self.last_connect_refusal: str | None = None
        self._generation = 0  # counts connections; the high bits of every token
        self._acks: list[int] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_r = self._wake_w = None
        self._early = b""  # bytes read with the CONNACK, not yet handled
        self._thread: threading.Thread | None = None
        self.bad_topics = 0

    # --- life cycle ---

    def start(self) -> BulkSubscriber:
        if self._thread is not None:
            raise RuntimeError("BulkSubscriber already started")
        self._stopping.clear()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.client_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Send the queued PUBACKs, disconnect cleanly (the broker keeps the session) and end the thread."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake()
        self._thread.join(30)
        self._thread = None
        self._wake_r.close()
        self._wake_w.close()

    def ack(self, tokens: Iterable[int]) -> None:
        """Queue PUBACKs for these deliveries; the network thread sends them at once. Any thread."""
        with self._lock:
            self._acks.extend(tokens)
        self._wake()

    def _wake(self) -> None:
        # the pipe may be full (already woken), closed or not made (stopped): all fine
        with contextlib.suppress(OSError, AttributeError):
            self._wake_w.send(b"\0")

    # --- the network thread ---

    def _run(self) -> None:
        delay = self.options.reconnect_min_s
        while not self._stopping.is_set():
            sock = None
            try:
                sock = self._connect()
                delay = self.options.reconnect_min_s
                self._serve(sock)
            except (OSError, wire.ProtocolError, _Dropped) as exc:
                if not self._stopping.is_set():
                    logger.warning("MQTT connection to %s as %s ended (%s); reconnecting in %.1f s",
                                   self.address.url(), self.client_id, exc, delay)
            finally:
                self.connected.clear()
                self.ready.clear()
                if sock is not None:
                    sock.close()
            if self._stopping.wait(delay):
                break
            delay = min(delay * 2, self.options.reconnect_max_s)
        logger.info("disconnected from %s", self.address.url())

    def _connect(self) -> socket.socket:
        address, options = self.address, self.options
        sock = socket.create_connection((address.host, address.port), timeout=options.connect_timeout_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if address.tls:
                context = ssl.create_default_context(cafile=address.ca_file)
                sock = context.wrap_socket(sock, server_hostname=address.host)
            sock.sendall(wire.connect_packet(
                self.client_id, username=address.username, password=address.password,
                keepalive_s=options.keepalive_s, session_expiry_s=options.session_expiry_s,
                receive_maximum=options.receive_maximum))
            body, self._early = self._read_connack(sock)
            session_present, code = wire.read_connack(body)
        except BaseException:
            sock.close()
            raise
        if code >= 0x80:
            self.last_connect_refusal = f"reason code {code}"
            sock.close()
            raise _Dropped(f"broker refused the connection: reason code {code}")
        self.last_connect_refusal = None
        with self._lock:
            self._generation += 1
            self._acks.clear()  # packet ids of the old connection mean nothing on the new one
        self.connected.set()
        logger.info("connected to %s as %s (session %s)", address.url(), self.client_id,
                    "resumed" if session_present else "new")
        sock.sendall(wire.subscribe_packet(1, self.topic_filter))
        return sock

    def _read_connack(self, sock: socket.socket) -> tuple[bytes, bytes]:
        """The CONNACK's body, and what came after it in the same reads (a resumed session's queue, at once)."""
        buffer = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                raise _Dropped("broker closed the connection during the handshake")
            buffer += chunk
            packet = wire.first_packet(buffer)
            if packet is not None:
                packet_type, body, rest = packet
                if packet_type != wire.CONNACK:
                    raise wire.ProtocolError(f"packet type {packet_type} before CONNACK")
                return body, rest

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(0)
        keepalive = self.options.keepalive_s
        buffer, last_sent, last_heard, generation = b"", time.monotonic(), time.monotonic(), self._generation
        if self._early:
            buffer, self._early = self._handle(self._early, generation, sock), b""
        while not self._stopping.is_set():
            if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                select.select([sock, self._wake_r], [], [], 1.0)
            if self._send_acks(sock, generation):
                last_sent = time.monotonic()
            try:
                chunk = sock.recv(READ_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                chunk = None
            now = time.monotonic()
            if chunk == b"":
                raise _Dropped("broker closed the connection")
            if chunk:
                last_heard = now
                buffer = self._handle(buffer + chunk, generation, sock)
            if now - last_sent >= keepalive / 2:
                self._send(sock, wire.PINGREQ_PACKET)
                last_sent = now
            if now - last_heard > keepalive * 1.5:
                raise _Dropped(f"no word from the broker for {now - last_heard:.0f} s")
        self._send_acks(sock, generation)
        self._send(sock, wire.DISCONNECT_PACKET)

    def _send_acks(self, sock: socket.socket, generation: int) -> bool:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            tokens, self._acks = self._acks, []
        ids = [token & 0xFFFF for token in tokens if token >> 16 == generation and token & 0xFFFF]
        if ids:
            self._send(sock, wire.pubacks(ids))
        return bool(ids)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        sock.settimeout(self.options.connect_timeout_s)
        try:
            sock.sendall(data)
        finally:
            sock.settimeout(0)

    def _handle(self, buffer: bytes, generation: int, sock: socket.socket) -> bytes:
        """Deliver every whole packet in `buffer`; returns what is left of an incomplete one."""
        packets, rest = wire.split_packets(buffer)
        batch: list[Delivery] = []
        base = generation << 16
        for packet_type, flags, body in packets:
            if packet_type == wire.PUBLISH:
                try:
                    topic, packet_id, payload = wire.read_publish(flags, body)
                except IndexError:
                    raise wire.ProtocolError("malformed PUBLISH") from None
                try:
                    batch.append(Delivery(topic.decode(), payload, base | packet_id))
                except UnicodeDecodeError:
                    self._bad_topic(base | packet_id)
            elif packet_type == wire.SUBACK:
                self._subscribed(body)
            elif packet_type == wire.DISCONNECT:
                raise _Dropped(f"broker disconnected us (reason code {body[0] if body else 0})")
        if batch:
            self._deliver(batch)
        return rest

    def _bad_topic(self, token: int) -> None:
        self.bad_topics += 1
        logger.warning("message with a topic that is not UTF-8 dropped")
        with self._lock:
            self._acks.append(token)

    def _subscribed(self, body: bytes) -> None:
        _packet_id, codes = wire.read_suback(body)
        refused = [code for code in codes if code >= 0x80]
        if refused:
            logger.warning("broker refused the subscription to %s: reason code %s", self.topic_filter, refused)
        else:
            logger.info("subscribed to %s", self.topic_filter)
        self.ready.set()

    def _deliver(self, batch: list[Delivery]) -> None:
        try:
            self.on_batch(batch)
        except Exception:
            self.handler_errors += 1
            logger.exception("MQTT batch handler failed; %d messages dropped", len(batch))
            self.ack([delivery.token for delivery in batch])
