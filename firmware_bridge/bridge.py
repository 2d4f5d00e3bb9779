"""The bridge loop: one machine's serial port on one side, DESIGN.md 4.1 messages on the other.

The serial thread owns the port and the firmware driver (drivers.marlin / drivers.grbl, sans-IO): it opens
the port with `serial.serial_for_url`, writes the handshake, feeds each received line to the driver, polls
every `interval`, and executes commands queued by the MQTT thread. Everything it has to say goes into the
disk spool; the Sender moves the spool to the broker. When the port vanishes (USB unplugged, board reset)
the machine is reported `offline` and the port is reopened every second until it is back.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import serial

from drivers.firmware import (
    FirmwareDriver,
    MachineEvent,
    Malformed,
    ResetDetected,
    Snapshot,
    StateChanged,
    UnsupportedCommand,
)
from drivers.messages import (
    MAX_TEXT,
    Channel,
    CommandAck,
    CommandMessage,
    EventMessage,
    MessageError,
    StateMessage,
    TelemetryMessage,
    decode,
    encode,
    topic,
)
from drivers.mqtt import InboundMessage, MqttClient
from drivers.states import MachineState
from firmware_bridge.sender import Sender
from firmware_bridge.spool import Spool, SpoolFull

log = logging.getLogger(__name__)

REOPEN_S = 1.0
READ_TIMEOUT_S = 0.1
MAX_LINE = 1024
LOG_EVERY_MALFORMED = 100  # after the first few, one log line per this many malformed serial lines


@dataclass(frozen=True)
class BridgeConfig:
    port: str
    site: str
    machine: str
    baud: int = 115200
    interval_s: float = 2.0


def now() -> datetime:
    return datetime.now(UTC)


def _clip(text: str | None) -> str | None:
    """Firmware text (a file name, an error) cut to what a message may carry."""
    return None if text is None else text[:MAX_TEXT]


class Bridge:
    def __init__(self, config: BridgeConfig, make_driver: Callable[[], FirmwareDriver], client: MqttClient,
                 spool: Spool):
        self.config = config
        self.make_driver = make_driver
        self.driver = make_driver()
        self.client = client
        self.spool = spool
        self.sender = Sender(spool, client)
        self.commands: queue.Queue[CommandMessage] = queue.Queue()
        self.bad_commands = 0
        self.unpublishable = 0
        self.port_losses = 0
        self._seq = int(time.time() * 1000)  # increasing across restarts of the bridge, too
        self._stop = threading.Event()
        self._port: serial.SerialBase | None = None
        self._connections_seen = 0
        client.subscribe(self._topic(Channel.CMD), self._on_command)

    # --- outgoing messages ---

    def _topic(self, channel: Channel) -> str:
        return topic(self.config.site, self.config.machine, channel)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _spool(self, build: Callable[[], object], *, important: bool) -> None:
        """Build a message and keep it for the sender. What the firmware said may not make a valid message
        (a reading of `inf`, say): that is logged and counted, and the bridge goes on."""
        try:
            message = build()
        except MessageError as exc:
            self.unpublishable += 1
            log.warning("could not make a message of what the firmware reported: %s", exc)
            return
        try:
            self.spool.put(self._topic(message.channel), encode(message), retain=message.channel is Channel.STATE,
                           important=important)
        except SpoolFull:
            return
        self.sender.wakeup.set()

    def publish_state(self, snapshot: Snapshot, *, state: MachineState | None = None, detail: str | None = None):
        detail = snapshot.detail if detail is None else detail
        self._spool(lambda: StateMessage(self.config.machine, now(), self._next_seq(), state or snapshot.state,
                                         _clip(snapshot.job), snapshot.progress, _clip(detail)), important=True)

    def publish_telemetry(self, snapshot: Snapshot) -> None:
        metrics = {name: value for name, value in snapshot.metrics.items() if math.isfinite(value)}
        if metrics:
            self._spool(lambda: TelemetryMessage(self.config.machine, now(), self._next_seq(), metrics),
                        important=False)

    def publish_event(self, event: MachineEvent) -> None:
        self._spool(lambda: EventMessage(self.config.machine, now(), self._next_seq(), event.event, _clip(event.job),
                                         _clip(event.code), _clip(event.detail)), important=True)

    def acknowledge(self, command: CommandMessage, ok: bool, detail: str = "") -> None:
        self._spool(lambda: CommandAck(self.config.machine, now(), command.id, ok, _clip(detail)), important=True)

    # --- commands from the broker (MQTT thread) ---

    def _on_command(self, message: InboundMessage) -> None:
        try:
            command = decode(Channel.CMD, message.payload)
        except MessageError as exc:
            self.bad_commands += 1
            log.warning("malformed command on %s dropped: %s", message.topic, exc)
            return
        self.commands.put(command)

    # --- the serial side (serial thread) ---

    def run(self) -> None:
        """Bridge until `stop()`: the sender on its thread, the port on this one."""
        self.sender.start()
        self.client.start()
        try:
            while not self._stop.is_set():
                if not self._open():
                    self._refuse_commands("the machine's serial port is not connected")
                    self._stop.wait(REOPEN_S)
                    continue
                self._serve()
        finally:
            self._close()
            self.publish_state(self.driver.snapshot(), state=MachineState.OFFLINE, detail="bridge stopped")
            self.sender.stop()
            self.client.stop()

    def stop(self) -> None:
        self._stop.set()

    def _open(self) -> bool:
        try:
            self._port = serial.serial_for_url(self.config.port, baudrate=self.config.baud, timeout=READ_TIMEOUT_S)
        except (serial.SerialException, OSError, ValueError) as exc:
            log.debug("cannot open %s: %s", self.config.port, exc)
            return False
        log.info("opened %s", self.config.port)
        self.driver = self.make_driver()
        try:
            self._write(self.driver.handshake())
        except (serial.SerialException, OSError) as exc:  # opened, then gone at once (a board resetting)
            log.warning("lost %s during the handshake: %s", self.config.port, exc)
            self._close()
            return False
        return True

    def _serve(self) -> None:
        next_poll = time.monotonic()
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_poll:
                    self._write(self.driver.poll())
                    self.publish_telemetry(self.driver.snapshot())
                    next_poll = time.monotonic() + self.config.interval_s
                self._run_commands()
                self._republish_after_reconnect()
                line = self._port.readline(MAX_LINE)
                if line:
                    self._receive(line)
        except (serial.SerialException, OSError) as exc:
            self.port_losses += 1
            log.warning("lost %s: %s; reopening every %.0f s", self.config.port, exc, REOPEN_S)
            self.driver.connection_lost()
            self.publish_state(self.driver.snapshot(), state=MachineState.OFFLINE, detail="serial port lost")
        finally:
            self._close()

    def _receive(self, raw: bytes) -> None:
        text = raw[:MAX_LINE].decode("utf-8", errors="replace").strip()
        if not text:
            return
        for observation in self.driver.feed(text):
            if isinstance(observation, StateChanged):
                self.publish_state(observation.snapshot)
            elif isinstance(observation, MachineEvent):
                self.publish_event(observation)
            elif isinstance(observation, Malformed):
                self._log_malformed(observation)
            elif isinstance(observation, ResetDetected):
                log.info("firmware reset (%s); handshaking again", observation.banner[:80])
                self._write(self.driver.handshake())
        self._write(self.driver.outgoing())

    @property
    def malformed_lines(self) -> int:
        """Serial lines no parser recognised since this port was opened (the driver's count)."""
        return self.driver.counters.get("malformed", 0)

    def _log_malformed(self, observation: Malformed) -> None:
        count = self.malformed_lines
        if count <= 5 or count % LOG_EVERY_MALFORMED == 0:
            log.warning("malformed serial line from %s (%d so far): %r", self.config.port, count,
                        observation.text[:80])

    def _republish_after_reconnect(self) -> None:
        """After the broker saw this bridge vanish it published the retained `offline` last will: say the
        real state again on every new connection, or the factory shows the machine offline until it
        next changes state (hours, in a long print)."""
        connections = self.client.connections
        if connections != self._connections_seen:
            self._connections_seen = connections
            self.publish_state(self.driver.snapshot())

    def _run_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            try:
                args = {**command.args, **({"job": command.job} if command.job else {})}
                data = self.driver.command(command.cmd.value, args)
            except UnsupportedCommand as exc:
                self.acknowledge(command, False, str(exc))
                continue
            self._write(data)
            self.acknowledge(command, True, f"sent {command.cmd.value} to the firmware")

    def _refuse_commands(self, reason: str) -> None:
        """A command must not wait for the port and run minutes later: refuse it now, saying why."""
        while True:
            try:
                self.acknowledge(self.commands.get_nowait(), False, reason)
            except queue.Empty:
                return

    def _write(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self._port.write(chunk)

    def _close(self) -> None:
        if self._port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._port.close()
            self._port = None
