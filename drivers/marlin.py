"""Marlin's serial protocol: pure parsers of its lines, and `MarlinDriver`, the sans-IO host side.

Marlin answers every line with `ok`, asks for lost lines with `Resend: N`, reports temperatures and SD
progress on request (M105, M27) or by itself (M155 S, M27 S) and stops itself on thermal runaway. The
parsers below turn one line into observations without any state; the driver keeps line numbers, the
resend history, one line in flight and the machine state (drivers/firmware.py explains the contract).
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque

from drivers.firmware import (
    FAULT,
    FAULT_CLEARED,
    JOB_FAILED,
    JOB_FINISHED,
    JOB_STARTED,
    Ack,
    Busy,
    Fault,
    FirmwareError,
    FirmwareInfo,
    MachineEvent,
    Malformed,
    Message,
    Metrics,
    Noise,
    Observation,
    Progress,
    ResendRequest,
    ResetDetected,
    TrackedDriver,
    UnsupportedCommand,
)
from drivers.states import MachineState

NUMBER = r"-?\d+(?:\.\d*)?"
_TEMP_KEY = re.compile(r"^(T\d*|B|C|P|A|R|@\d*|B@|C@|W):(" + NUMBER + r"|\?)$")
_TARGET = re.compile(r"^/(" + NUMBER + r")$")
_TEMP_METRIC = {"T": "hotend_c", "T0": "hotend_c", "B": "bed_c", "C": "chamber_c"}
_ADVANCED_OK = re.compile(r"^(?:N(\d+)\s*)?(?:P(\d+)\s*)?(?:B(\d+))?$")
_POSITION = re.compile(rf"^X:({NUMBER}) Y:({NUMBER}) Z:({NUMBER})(?: E:{NUMBER})?(?: Count .*)?$")
_FAULTS = (
    ("halted", re.compile(r"Printer halted\. kill\(\) called!")),
    ("thermal_runaway", re.compile(r"Thermal Runaway, system stopped! Heater_ID: ?\w+")),
    ("heating_failed", re.compile(r"Heating failed, system stopped! Heater_ID: ?\w+")),
    ("mintemp", re.compile(r"MINTEMP triggered, system stopped! Heater_ID: ?\w+")),
    ("maxtemp", re.compile(r"MAXTEMP triggered, system stopped! Heater_ID: ?\w+")),
    ("stopped", re.compile(r"Printer stopped due to errors")),
)
_LINE_ERRORS = (
    ("line_number", re.compile(r"Line Number is not Last Line Number\+1")),
    ("checksum", re.compile(r"checksum mismatch")),
    ("no_checksum", re.compile(r"No Checksum with line number")),
    ("no_line_number", re.compile(r"No Line Number with checksum")),
)
_SIMPLE = (
    (re.compile(r"^(?:Resend|rs):?\s*N?(\d+)$"), lambda m: [ResendRequest(line=int(m[1]))]),
    (re.compile(r"^SD printing byte (\d+)/(\d+)$"), lambda m: [Progress(done=int(m[1]), total=int(m[2]))]),
    (re.compile(r"^Not SD printing$"), lambda m: [Progress(done=0, total=None)]),
    (re.compile(r"^Done printing file$"), lambda m: [Message(text="Done printing file")]),
    (re.compile(r"^File opened:\s*(\S+)\s+Size:\s*(\d+)$"),
     lambda m: [FirmwareInfo(name="file", fields={"file": m[1], "size": m[2]})]),
    (re.compile(r"^open failed, File:\s*(.*?)\.?$"), lambda m: [FirmwareError(code="open_failed", detail=m[1])]),
    (re.compile(r"^(?:echo:)?busy:\s*(.+)$"), lambda m: [Busy(reason=m[1].strip())]),
    (re.compile(r"^start$"), lambda m: [ResetDetected(banner="start")]),
    (re.compile(r"^(?:wait|File selected)$"), lambda m: [Noise(text=m[0])]),
    (re.compile(r"^Cap:([A-Z0-9_]+):([01])$"), lambda m: [FirmwareInfo(name="cap", fields={m[1]: m[2]})]),
    (re.compile(r"^//action:(\w+)\s*(.*)$"), lambda m: [Message(text=f"action:{m[1]}")]),
    (re.compile(r"^echo:\s*(.*)$"), lambda m: [Message(text=m[1])]),
)


def checksum(text: str) -> int:
    """Marlin's line checksum: the XOR of every byte before `*`."""
    value = 0
    for byte in text.encode("ascii", "replace"):
        value ^= byte
    return value


def numbered(number: int, text: str) -> bytes:
    """`N<number> <text>*<checksum>\\n`, the form Marlin checks for lost or damaged lines."""
    body = f"N{number} {text}"
    return f"{body}*{checksum(body)}\n".encode("ascii", "replace")


def parse_temperatures(text: str) -> Metrics | None:
    """` T:20.1 /0.0 B:19.8 /0.0 @:0 B@:0` -> Metrics, or None unless every token is a temperature token."""
    values: dict[str, float] = {}
    targets: dict[str, float] = {}
    last: str | None = None
    tokens = text.split()
    for token in tokens:
        key = _TEMP_KEY.match(token)
        target = _TARGET.match(token)
        if key:
            last = key[1]
            if key[2] != "?" and last in _TEMP_METRIC and _TEMP_METRIC[last] not in values:
                values[_TEMP_METRIC[last]] = float(key[2])
        elif target and last is not None:
            if last in _TEMP_METRIC and _TEMP_METRIC[last] not in targets:
                targets[_TEMP_METRIC[last]] = float(target[1])
            last = None
        else:
            return None
    return Metrics(values=values, targets=targets) if values else None


def parse_line(line: str) -> list[Observation]:
    """One received Marlin line -> its observations (usually one). Never raises; unknown -> Malformed."""
    text = line.strip()
    if not text:
        return [Noise(text="")]
    if not text.isprintable():
        return [Malformed(text=line)]
    if text == "ok" or text.startswith("ok "):
        rest = text[2:].strip()
        if not rest or _ADVANCED_OK.match(rest):
            return [Ack(detail=rest)]
        temps = parse_temperatures(rest)
        return [Ack(), temps] if temps else [Ack(), Malformed(text=rest)]
    if text.startswith(("Error:", "!!")):
        return [_parse_error(text.removeprefix("Error:").removeprefix("!!").strip())]
    if text.startswith("FIRMWARE_NAME:"):
        return [_parse_m115(text)]
    for pattern, build in _SIMPLE:
        match = pattern.match(text)
        if match:
            return build(match)
    position = _POSITION.match(text)
    if position:
        return [Metrics(values={"x_mm": float(position[1]), "y_mm": float(position[2]), "z_mm": float(position[3])})]
    temps = parse_temperatures(text)
    return [temps] if temps else [Malformed(text=text)]


def _parse_error(text: str) -> Observation:
    for code, pattern in _FAULTS:
        if pattern.search(text):
            return Fault(code=code, detail=text)
    for code, pattern in _LINE_ERRORS:
        if pattern.search(text):
            return FirmwareError(code=code, detail=text)
    return FirmwareError(code="other", detail=text)


def _parse_m115(text: str) -> FirmwareInfo:
    """`FIRMWARE_NAME:Marlin 2.1.2 (...) SOURCE_CODE_URL:... PROTOCOL_VERSION:1.0 ...` -> name and fields."""
    parts = re.split(r"\s(?=[A-Z_]+:)", text)
    fields = dict(part.split(":", 1) for part in parts)
    return FirmwareInfo(name=fields.pop("FIRMWARE_NAME", "").strip(), fields=fields)


class MarlinDriver(TrackedDriver):
    """Host side of Marlin's protocol, for one connection (drivers/firmware.py `FirmwareDriver`).

    One numbered line is in flight at a time, so each `ok` belongs to a known line: that keeps flow
    control trivial for a telemetry bridge (a few lines per interval) and lets commands take effect when
    their `ok` arrives. Lines wait in a queue; `outgoing()` hands out what an `ok` or a `Resend` released.
    `stall_polls` intervals without an answer (and without `busy:` keep-alives) count the `ok` as lost.
    """

    HISTORY = 64

    def __init__(self, *, interval: float = 2.0, stall_polls: int = 5) -> None:
        self.interval_s = max(1, round(interval))
        self.stall_polls = stall_polls
        self.capabilities: dict[str, bool] = {}
        self.firmware = ""
        super().__init__()
        self._reset_link()
        self._printing = self._paused = False
        self._fault: str | None = None
        self._selected: str | None = None
        self._commanded_job: str | None = None

    # --- line bookkeeping ------------------------------------------------------------------------------

    def _reset_link(self) -> None:
        self._next = 1
        self._history: dict[int, bytes] = {}
        self._queue: deque[str] = deque()
        self._inflight: tuple[int, str] | None = None
        self._swallow_oks = 0
        self._quiet_polls = 0  # polls since any good line: a silent firmware gets an M105
        self._waiting_polls = 0  # polls since the line in flight last showed progress
        self._out: list[bytes] = []

    def _send(self, *commands: str) -> list[bytes]:
        self._queue.extend(commands)
        self._release()
        return self.outgoing()

    def _release(self) -> None:
        if self._inflight is not None or not self._queue:
            return
        text = self._queue.popleft()
        number, self._next = self._next, self._next + 1
        data = numbered(number, text)
        self._history[number] = data
        self._history.pop(number - self.HISTORY, None)
        self._inflight = (number, text)
        self._out.append(data)

    @property
    def answered(self) -> bool:
        """Nothing in flight and nothing queued: every line sent so far has had its `ok`."""
        return self._inflight is None and not self._queue

    @property
    def last_line(self) -> int:
        """Number of the last numbered line handed out (Marlin's `Last Line` once it is acknowledged)."""
        return self._next - 1

    def outgoing(self) -> list[bytes]:
        """Bytes released since the last call (resent lines, the next queued line after an `ok`)."""
        out, self._out = self._out, []
        return out

    # --- the FirmwareDriver surface ---------------------------------------------------------------------

    def handshake(self) -> list[bytes]:
        """Restart line numbering (M110) and ask for identity and capabilities (M115)."""
        self._reset_link()
        self._next = 1
        self._history[0] = numbered(0, "M110 N0")
        self._inflight = (0, "M110 N0")
        self._out.append(self._history[0])
        return self._send("M115")

    def poll(self) -> list[bytes]:
        """Ask for what auto-reports do not bring; a silent firmware gets an M105 to prove it is alive."""
        self._quiet_polls += 1
        self._waiting_polls = self._waiting_polls + 1 if self._inflight is not None else 0
        if self._waiting_polls > self.stall_polls:
            self.counters["lost_ok"] = self.counters.get("lost_ok", 0) + 1
            self._inflight, self._waiting_polls, self._swallow_oks = None, 0, 0
        wanted = []
        if not self.capabilities.get("AUTOREPORT_TEMP") or self._quiet_polls > self.stall_polls:
            wanted.append("M105")
        if not self.capabilities.get("AUTOREPORT_SD_STATUS"):
            wanted.append("M27")
        return self._send(*[c for c in wanted if c not in self._queue])

    def command(self, cmd: str, args: dict) -> list[bytes]:
        """pause M25, resume M24, stop M524, home G28, start_job M23 <file> + M24 (args {"file": ..., "job": ...}).

        The job id given with start_job names the print in state and events (DESIGN.md 4.1: `job` is the
        factory's job id); without one, the file name does."""
        simple = {"pause": "M25", "resume": "M24", "stop": "M524", "home": "G28"}
        if cmd in simple:
            return self._send(simple[cmd])
        if cmd == "start_job":
            name = str((args or {}).get("file", "")).strip()
            if not name or not name.isprintable() or "*" in name:
                raise UnsupportedCommand("start_job needs args {'file': <name of a file on the SD card>}")
            self._commanded_job = str(args.get("job") or "").strip() or None
            return self._send(f"M23 {name}", "M24")
        raise UnsupportedCommand(f"Marlin driver cannot {cmd!r}")

    def feed(self, line: str) -> list[Observation]:
        """Parse one received line, update the state, and return what it meant plus any events."""
        observations = parse_line(line)
        self._track.count(observations)
        events: list[Observation] = []
        if observations and isinstance(observations[0], Ack) and self._inflight and not self._swallow_oks:
            observations[0] = dataclasses.replace(observations[0], command=self._inflight[1])
        for observation in observations:
            if not isinstance(observation, Malformed):
                self._quiet_polls = 0
                if self._track.state is MachineState.OFFLINE:
                    self._track.state = MachineState.IDLE
            events += self._apply(observation)
        self._derive()
        return observations + events + self._track.settle()

    def connection_lost(self) -> None:
        """The port is gone: offline until the next line, nothing in flight."""
        self._reset_link()
        self._track.state = MachineState.OFFLINE
        self._track.detail = "serial port lost"

    # --- what lines mean -------------------------------------------------------------------------------

    def _apply(self, obs: Observation) -> list[Observation]:
        if isinstance(obs, Ack | Busy):
            self._waiting_polls = 0
        if isinstance(obs, Ack):
            return self._acked()
        if isinstance(obs, ResendRequest):
            return self._resend(obs.line)
        if isinstance(obs, Metrics):
            self._track.metrics.update(obs.values)
        elif isinstance(obs, Progress):
            return self._progress(obs)
        elif isinstance(obs, Message) and obs.text == "Done printing file":
            return self._job_ended(JOB_FINISHED, "done printing file")
        elif isinstance(obs, Message) and obs.text in ("action:paused", "action:pause") and self._printing:
            self._paused = True
        elif isinstance(obs, Busy):
            if "paused for" in obs.reason and self._printing:
                self._paused = True
        elif isinstance(obs, FirmwareInfo):
            self._info(obs)
        elif isinstance(obs, Fault):
            return self._faulted(obs)
        elif isinstance(obs, ResetDetected):
            return self._restarted()
        return []

    def _acked(self) -> list[Observation]:
        if self._swallow_oks:
            self._swallow_oks -= 1
            return []
        done, self._inflight = self._inflight, None
        events = self._took_effect(done[1]) if done else []
        self._release()
        return events

    def _resend(self, number: int) -> list[Observation]:
        """Marlin follows `Resend: N` with an `ok` that acknowledges nothing: resend and skip that ok."""
        self._swallow_oks += 1
        if number in self._history:
            self._out.extend(self._history[n] for n in range(number, self._next) if n in self._history)
        else:  # older than the history: tell Marlin to expect our next number instead
            self._out.append(f"M110 N{self._next - 1}\n".encode())
        return []

    def _took_effect(self, text: str) -> list[Observation]:
        word = text.split()[0]
        if word == "M115":
            return self._configure_reports()
        if word == "M23":
            self._selected = text[4:].strip()
        elif word == "M25" and self._printing:
            self._paused = True
        elif word == "M24":
            if self._printing:
                self._paused = False
            elif self._selected:
                return self._job_began()
        elif word == "M524" and self._printing:
            return self._job_ended(JOB_FAILED, "aborted by stop command", "aborted")
        return []

    def _configure_reports(self) -> list[Observation]:
        if self.capabilities.get("AUTOREPORT_TEMP"):
            self._queue.append(f"M155 S{self.interval_s}")
        if self.capabilities.get("AUTOREPORT_SD_STATUS"):
            self._queue.append(f"M27 S{self.interval_s}")
        if self.capabilities.get("AUTOREPORT_POS"):
            self._queue.append(f"M154 S{self.interval_s}")
        return []

    def _info(self, obs: FirmwareInfo) -> None:
        if obs.name == "cap":
            self.capabilities.update({k: v == "1" for k, v in obs.fields.items()})
        elif obs.name == "file":
            self._selected = obs.fields["file"]
        else:
            self.firmware = obs.name

    def _progress(self, obs: Progress) -> list[Observation]:
        if obs.total is None:
            return self._job_ended(JOB_FAILED, "SD print stopped", "stopped") if self._printing else []
        fraction = obs.done / obs.total if obs.total else 0.0
        events = [] if self._printing else self._job_began()
        if self._paused and self._track.progress is not None and fraction > self._track.progress:
            self._paused = False
        self._track.progress = min(1.0, fraction)
        return events

    def _job_began(self) -> list[Observation]:
        self._printing, self._paused = True, False
        self._track.job = self._track.job or self._commanded_job or self._selected
        self._commanded_job = None
        self._track.progress = self._track.progress or 0.0
        return [MachineEvent(event=JOB_STARTED, job=self._track.job, detail=self._track.job or "")]

    def _job_ended(self, event: str, detail: str, code: str | None = None) -> list[Observation]:
        if not self._printing:
            return []
        job = self._track.job
        self._printing = self._paused = False
        self._track.job, self._track.progress = None, None
        return [MachineEvent(event=event, job=job, detail=detail, code=code)]

    def _faulted(self, obs: Fault) -> list[Observation]:
        if self._fault is not None:
            return []
        self._fault = obs.detail
        events = self._job_ended(JOB_FAILED, obs.detail, obs.code)
        return events + [MachineEvent(event=FAULT, code=obs.code, detail=obs.detail)]

    def _restarted(self) -> list[Observation]:
        """`start`: the board rebooted. Numbering restarts; a fault is gone, and so is any print."""
        events = self._job_ended(JOB_FAILED, "firmware restarted", "reset")
        if self._fault is not None:
            events.append(MachineEvent(event=FAULT_CLEARED, detail="firmware restarted"))
        self._fault = None
        self._reset_link()
        return events

    def _derive(self) -> None:
        track = self._track
        if track.state is MachineState.OFFLINE:
            return
        if self._fault is not None:
            track.state, track.detail = MachineState.FAULT, self._fault
        elif self._printing and self._paused:
            track.state, track.detail = MachineState.PAUSED, "paused"
        elif self._printing:
            track.state, track.detail = MachineState.RUNNING, "printing"
        else:
            track.state, track.detail = MachineState.IDLE, ""
