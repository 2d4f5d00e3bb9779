"""The ingest benchmark's publisher: a minimal MQTT 5 client per machine, all in one process of its own."""

from __future__ import annotations

import contextlib
import multiprocessing
import selectors
import socket
import time
from datetime import UTC, datetime

from benchmarks.ingest_fleet import Fleet, Machine, own_cpu
from drivers.messages import Channel, format_ts, topic
from drivers.mqtt_wire import varint
from tests.support.mosquitto import HOST

# --- the publisher (its own process, so it does not share the ingest's interpreter lock) -----------------------

_METRICS = {
    "fdm_printer": '"hotend_c":{a:.1f},"bed_c":{b:.1f},"x_mm":{x:.2f},"y_mm":{y:.2f},"z_mm":{z:.2f},'
                   '"feed_mm_min":{f:.0f}',
    "cnc_mill": '"spindle_rpm":{r:.0f},"feed_mm_min":{f:.0f},"x_mm":{x:.2f},"y_mm":{y:.2f},"z_mm":{z:.2f},'
                '"power_w":{p:.0f}',
    "kiln": '"chamber_c":{c:.1f},"power_w":{p:.0f}',
}


def payload(machine: Machine, seq: int, ts: str) -> bytes:
    """A telemetry message as a bridge sends it (DESIGN.md 4.1), with readings that move with `seq`."""
    wave = (seq % 200) / 200
    metrics = _METRICS[machine.kind].format(a=209.5 + wave, b=60.0 + wave / 2, x=(seq * 1.7) % 250,
                                            y=(seq * 2.3) % 210, z=(seq // 400) * 0.2 % 220, f=1800 + seq % 600,
                                            r=12000 + seq % 50, p=850 + seq % 40, c=980 + wave * 3)
    return (f'{{"v":1,"machine":"{machine.id}","ts":"{ts}","seq":{seq},"metrics":{{{metrics}}}}}').encode()


# A minimal MQTT 5 publisher, one connection per machine, all driven from one thread: CONNECT with the machine's
# account, then QoS 1 PUBLISH packets, as many in flight as the broker's Receive Maximum allows. Twenty threaded
# paho clients in one process cost about 0.4 ms of CPU per message and were the bottleneck of the first version.

_PROPERTY_SIZES = {**dict.fromkeys((0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A), 1),
                   **dict.fromkeys((0x13, 0x21, 0x22, 0x23), 2), **dict.fromkeys((0x02, 0x11, 0x18, 0x27), 4)}
_STRING_PROPERTIES = {0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F}
RECEIVE_MAXIMUM = 0x21


def _readvarint(data, at: int) -> tuple[int, int] | None:
    """(value, next offset), or None when `data` ends inside the number."""
    value, shift = 0, 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at
    return None


def _text(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def _properties(data: bytes) -> dict[int, int | bytes]:
    """A CONNACK's properties: numbers as ints, strings and binaries as bytes (user properties skipped)."""
    length, at = _readvarint(data, 0)
    found, end = {}, at + length
    while at < end:
        ident, at = _readvarint(data, at)
        if ident in _PROPERTY_SIZES:
            size = _PROPERTY_SIZES[ident]
            found[ident], at = int.from_bytes(data[at:at + size], "big"), at + size
        elif ident == 0x0B:
            found[ident], at = _readvarint(data, at)
        elif ident in _STRING_PROPERTIES:
            size = int.from_bytes(data[at:at + 2], "big")
            found[ident], at = data[at + 2:at + 2 + size], at + 2 + size
        elif ident == 0x26:
            for _ in range(2):
                at += 2 + int.from_bytes(data[at:at + 2], "big")
        else:
            raise RuntimeError(f"unknown MQTT property {ident:#x} in CONNACK")
    return found


class MachineLink:
    """One machine's connection to the broker, publishing its telemetry at QoS 1."""

    def __init__(self, machine: Machine, port: int) -> None:
        self.machine = machine
        self.topic = _text(topic(machine.site, machine.id, Channel.TELEMETRY))
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.out, self.incoming = bytearray(), bytearray()
        self.sent = self.inflight = 0
        self.next_id = 1
        self.limit = self._connect()
        self.sock.setblocking(False)

    def _connect(self) -> int:
        body = (_text("MQTT") + bytes([5, 0xC2]) + (300).to_bytes(2, "big") + b"\x00"  # user, password, clean start
                + _text(f"bench-{self.machine.id}") + _text(self.machine.id) + _text(self.machine.password))
        self.sock.sendall(b"\x10" + varint(len(body)) + body)
        data = bytearray()
        while (packet := self._packet(data)) is None:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"broker closed the connection of {self.machine.id}")
            data += chunk
        kind, payload = packet
        if kind != 0x20 or payload[1] != 0:
            raise RuntimeError(f"broker refused {self.machine.id}: packet {kind:#x}, reason {payload[1]}")
        return int(_properties(bytes(payload[2:])).get(RECEIVE_MAXIMUM, 65_535))

    @staticmethod
    def _packet(data: bytearray) -> tuple[int, bytes] | None:
        """Take one whole packet (type byte, body) off the front of `data`, if there is one."""
        header = _readvarint(data, 1) if data else None
        if header is None or len(data) < header[1] + header[0]:
            return None
        length, start = header
        kind, body = data[0] & 0xF0, bytes(data[start:start + length])
        del data[:start + length]
        return kind, body

    def queue(self, payload: bytes) -> None:
        body = self.topic + self.next_id.to_bytes(2, "big") + b"\x00" + payload
        self.out += b"\x32" + varint(len(body)) + body
        self.next_id = self.next_id % 65_535 + 1
        self.sent += 1
        self.inflight += 1

    def flush(self) -> None:
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                return
            del self.out[:sent]

    def receive(self, tally: dict[str, int]) -> None:
        """Read what arrived and count the PUBACKs by outcome."""
        try:
            chunk = self.sock.recv(65_536)
        except BlockingIOError:
            return
        if not chunk:
            raise RuntimeError(f"broker closed the connection of {self.machine.id}")
        self.incoming += chunk
        while (packet := self._packet(self.incoming)) is not None:
            kind, body = packet
            if kind == 0x40:
                reason = body[2] if len(body) > 2 else 0
                self.inflight -= 1
                tally["ok" if reason < 0x80 else "refused"] += 1
                tally["no_subscribers"] += reason == 0x10
            elif kind == 0xE0:
                raise RuntimeError(f"broker disconnected {self.machine.id}, reason {body[0] if body else 0}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.setblocking(True)
            self.sock.sendall(b"\xe0\x00")
        self.sock.close()


def publish(port: int, machines: tuple[Machine, ...], count: int, rate: float | None, pipe) -> None:
    """Connect every machine, wait for "go", publish `count` messages round-robin over the machines, report."""
    try:
        links = [MachineLink(machine, port) for machine in machines]
    except (OSError, RuntimeError) as exc:
        pipe.send(f"not connected: {exc}")
        return
    selector = selectors.DefaultSelector()
    for link in links:
        selector.register(link.sock, selectors.EVENT_READ, link)
    pipe.send("ready")
    pipe.recv()
    tally = {"ok": 0, "no_subscribers": 0, "refused": 0, "failed": 0}
    cpu_before, ms, ts, last, deadline = own_cpu(), -1, "", 0.0, 0.0
    first, started, size = time.time(), time.perf_counter(), len(links)
    while True:
        elapsed = time.perf_counter() - started
        due = count if not rate else min(count, int(elapsed * rate) + 1)
        for k, link in enumerate(links):
            wanted = (due - k + size - 1) // size  # how many of machine k's messages are due by now
            while link.sent < wanted and link.inflight < link.limit:
                now = time.time()
                if int(now * 1000) != ms:
                    ms, ts = int(now * 1000), format_ts(datetime.fromtimestamp(now, UTC))
                link.queue(payload(link.machine, link.sent + 1, ts))
            link.flush()
        waiting = sum(link.inflight for link in links)
        if not last and sum(link.sent for link in links) == count:
            last, deadline = time.time(), time.monotonic() + 60
        if last and not waiting:
            break
        if last and time.monotonic() > deadline:
            tally["failed"] += waiting
            break
        pending = any(link.out for link in links)
        timeout = 0 if pending else 0.001 if rate and due < count else 0.1
        for key, _ in selector.select(timeout):
            key.data.receive(tally)
    acked = time.time()
    pipe.send({"first": first, "last": last, "acked": acked, "cpu_s": own_cpu() - cpu_before, **tally})
    for link in links:
        link.close()


class Publisher:
    """The publisher process: `start()` returns once every client is connected, `go()` sets it off."""

    def __init__(self, port: int, fleet: Fleet, count: int, rate: float | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=publish, args=(port, fleet.machines, count, rate, child), daemon=True)

    def start(self) -> Publisher:
        self.process.start()
        if not self.pipe.poll(60) or self.pipe.recv() != "ready":
            self.stop()
            raise RuntimeError("the publisher's clients could not connect to the broker")
        return self

    def go(self) -> None:
        self.pipe.send("go")

    def result(self, timeout: float) -> dict | None:
        return self.pipe.recv() if self.pipe.poll(timeout) else None

    def stop(self) -> None:
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
