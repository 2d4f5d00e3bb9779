"""A simulated electric kiln that speaks MQTT natively (DESIGN.md 4.1), for the demo and the tests.

It fires a ramp schedule (segments of rate, target, hold), publishing `state` (retained; last will
`offline`), `telemetry` (`chamber_c`, `power_w`) and events (`job_started`, `job_finished`, `fault`,
`fault_cleared`), and obeys `start_job`, `pause`, `resume` and `stop` with `cmd/ack`. `speed` compresses
time so a twelve-hour glaze firing passes in minutes. An over-temperature fault (a stuck relay) can be
injected: the chamber overshoots the schedule and the kiln cuts power and reports `fault`.

    python -m drivers.simulators.kiln_sim --broker mqtt://kiln-1:PASS@127.0.0.1:1883 --site north --machine kiln-1
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from drivers.broker_url import parse_broker_url
from drivers.messages import (
    Channel,
    Command,
    CommandAck,
    CommandMessage,
    Event,
    EventMessage,
    MessageError,
    StateMessage,
    TelemetryMessage,
    decode,
    encode,
    last_will,
    topic,
)
from drivers.mqtt import InboundMessage, MqttClient
from drivers.states import MachineState

log = logging.getLogger(__name__)

AMBIENT_C = 20.0
MAX_C = 1300.0
HEATER_W = 11_000.0


@dataclass(frozen=True)
class Segment:
    rate_c_per_h: float
    target_c: float
    hold_min: float = 0.0


SCHEDULES = {
    "bisque": (Segment(100, 600), Segment(150, 1000, 10)),
    "glaze": (Segment(150, 600), Segment(250, 1100), Segment(60, 1220, 15)),
    "test": (Segment(3600, 200, 1),),
}


class Kiln:
    """The kiln's physics and controller; `advance(seconds)` moves simulated time. No I/O."""

    def __init__(self) -> None:
        self.chamber_c = AMBIENT_C
        self.state = MachineState.IDLE
        self.job: str | None = None
        self.schedule: tuple[Segment, ...] = ()
        self.segment = 0
        self.setpoint = AMBIENT_C
        self.hold_left_s = 0.0
        self.power_w = 0.0
        self.stuck_relay = False
        self.events: list[tuple[Event, str | None, str]] = []

    def start(self, job: str, schedule: str) -> None:
        if self.state is not MachineState.IDLE:
            raise ValueError(f"kiln is {self.state.value}, not idle")
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
        self.job, self.schedule, self.segment = job, SCHEDULES[schedule], 0
        self.setpoint, self.hold_left_s = self.chamber_c, self.schedule[0].hold_min * 60
        self.state = MachineState.RUNNING
        self.events.append((Event.JOB_STARTED, None, f"{schedule} firing"))

    @property
    def progress(self) -> float | None:
        if self.state not in (MachineState.RUNNING, MachineState.PAUSED) or not self.schedule:
            return None
        return round(min(1.0, (self.segment + self._segment_share()) / len(self.schedule)), 3)

    def _segment_share(self) -> float:
        if self.segment >= len(self.schedule):
            return 0.0
        seg = self.schedule[self.segment]
        start = AMBIENT_C if self.segment == 0 else self.schedule[self.segment - 1].target_c
        span = max(1.0, seg.target_c - start)
        return max(0.0, min(1.0, (self.setpoint - start) / span))

    def advance(self, seconds: float) -> None:
        if self.state is MachineState.RUNNING:
            self._follow_schedule(seconds)
        heating = self.state is MachineState.RUNNING and self.chamber_c < self.setpoint
        self.power_w = HEATER_W if heating or self.stuck_relay else 0.0
        gain = (0.5 if self.power_w else 0.0) * seconds
        loss = (self.chamber_c - AMBIENT_C) * 0.0004 * seconds
        self.chamber_c = max(AMBIENT_C, min(self.chamber_c + gain - loss, self.setpoint + 5 if heating else 1e9))
        if self.chamber_c > MAX_C or (self.stuck_relay and self.chamber_c > self.setpoint + 50):
            self._fault("over_temperature", f"chamber {self.chamber_c:.0f} °C above setpoint {self.setpoint:.0f} °C")

    def _follow_schedule(self, seconds: float) -> None:
        seg = self.schedule[self.segment]
        if self.setpoint < seg.target_c:
            self.setpoint = min(seg.target_c, self.setpoint + seg.rate_c_per_h * seconds / 3600)
        elif self.chamber_c >= seg.target_c - 5:
            self.hold_left_s -= seconds
            if self.hold_left_s <= 0:
                self.segment += 1
                if self.segment == len(self.schedule):
                    self.events.append((Event.JOB_FINISHED, None, "firing complete"))
                    self.state, self.setpoint, self.job = MachineState.IDLE, AMBIENT_C, None
                else:
                    self.hold_left_s = self.schedule[self.segment].hold_min * 60

    def _fault(self, code: str, detail: str) -> None:
        if self.state is MachineState.FAULT:
            return
        self.state, self.setpoint, self.stuck_relay = MachineState.FAULT, AMBIENT_C, False
        self.events.append((Event.FAULT, code, detail))

    def stop(self) -> None:
        if self.state is MachineState.FAULT:
            self.events.append((Event.FAULT_CLEARED, None, "reset by stop"))
        elif self.job:
            self.events.append((Event.JOB_FAILED, "stopped", "firing stopped"))
        self.state, self.setpoint, self.job, self.schedule = MachineState.IDLE, AMBIENT_C, None, ()


class KilnSimulator:
    """The Kiln on MQTT: publishes every `interval_s` of wall time, `speed` simulated seconds per second."""

    def __init__(self, client: MqttClient, site: str, machine: str, *, interval_s: float = 1.0, speed: float = 60.0):
        self.client, self.site, self.machine = client, site, machine
        self.interval_s, self.speed = interval_s, speed
        self.kiln = Kiln()
        self._seq = int(datetime.now(UTC).timestamp() * 1000)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._published_state: tuple | None = None
        client.subscribe(topic(site, machine, Channel.CMD), self._on_command)

    def _send(self, message, *, retain: bool = False) -> None:
        self.client.publish(topic(self.site, self.machine, message.channel), encode(message), retain=retain)

    def _seq_next(self) -> int:
        self._seq += 1
        return self._seq

    def publish(self) -> None:
        now = datetime.now(UTC)
        with self._lock:
            kiln = self.kiln
            for event, code, detail in kiln.events:
                self._send(EventMessage(self.machine, now, self._seq_next(), event, kiln.job, code, detail))
            kiln.events.clear()
            headline = (kiln.state, kiln.job, kiln.progress, self.client.connections)  # again after a reconnect
            if headline != self._published_state:
                self._published_state = headline
                self._send(StateMessage(self.machine, now, self._seq_next(), kiln.state, kiln.job, kiln.progress,
                                        f"setpoint {kiln.setpoint:.0f} °C"), retain=True)
            self._send(TelemetryMessage(self.machine, now, self._seq_next(),
                                        {"chamber_c": round(kiln.chamber_c, 1), "power_w": kiln.power_w}))

    def _on_command(self, message: InboundMessage) -> None:
        try:
            command = decode(Channel.CMD, message.payload)
        except MessageError as exc:
            log.warning("malformed command dropped: %s", exc)
            return
        ok, detail = self._execute(command)
        self._send(CommandAck(self.machine, datetime.now(UTC), command.id, ok, detail))

    def _execute(self, command: CommandMessage) -> tuple[bool, str]:
        with self._lock:
            try:
                if command.cmd is Command.START_JOB:
                    self.kiln.start(command.job or command.id, str(command.args.get("schedule", "bisque")))
                elif command.cmd is Command.STOP:
                    self.kiln.stop()
                elif command.cmd is Command.PAUSE and self.kiln.state is MachineState.RUNNING:
                    self.kiln.state = MachineState.PAUSED
                elif command.cmd is Command.RESUME and self.kiln.state is MachineState.PAUSED:
                    self.kiln.state = MachineState.RUNNING
                elif command.cmd is Command.HOME:
                    return False, "a kiln has no axes to home"
                else:
                    return False, f"cannot {command.cmd.value} while {self.kiln.state.value}"
            except ValueError as exc:
                return False, str(exc)
        return True, f"{command.cmd.value} done"

    def inject_stuck_relay(self) -> None:
        with self._lock:
            self.kiln.stuck_relay = True

    def run(self) -> None:
        self.client.start()
        while not self._stop.wait(self.interval_s):
            with self._lock:
                self.kiln.advance(self.interval_s * self.speed)
            if self.client.connected.is_set():
                self.publish()
        self._send(StateMessage(self.machine, datetime.now(UTC), self._seq_next(), MachineState.OFFLINE,
                                detail="switched off"), retain=True)
        self.client.flush(5)
        self.client.stop()

    def stop(self) -> None:
        self._stop.set()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kiln_sim", description=__doc__.splitlines()[0])
    p.add_argument("--broker", required=True, help="mqtt://USER:PASS@HOST:PORT")
    p.add_argument("--site", required=True)
    p.add_argument("--machine", required=True)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between reports")
    p.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    p.add_argument("--fire", default=None, choices=sorted(SCHEDULES), help="start this firing at once")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    client = MqttClient(parse_broker_url(args.broker), f"kiln-{args.site}-{args.machine}",
                        will=last_will(args.site, args.machine, "connection lost"))
    simulator = KilnSimulator(client, args.site, args.machine, interval_s=args.interval, speed=args.speed)
    if args.fire:
        simulator.kiln.start("demo-firing", args.fire)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: simulator.stop())
    simulator.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
