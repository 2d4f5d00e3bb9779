"""What every firmware driver shares: the sans-IO contract between a serial bridge and a protocol driver.

A driver never touches a port or a clock. The bridge owns the port and the timer and asks the driver for
bytes to write (`handshake`, `poll`, `command`, `outgoing`) and hands it each received line (`feed`). The
driver answers with `Observation`s: small frozen records of what a line meant, plus the machine-level
events and state changes the bridge publishes (DESIGN.md 4.1). Keeping I/O out lets the tests drive a
driver with tables of real firmware lines, and lets the same driver run over a pty, `loop://` or a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

from drivers.messages import Command, Event
from drivers.states import MachineState

# Events of DESIGN.md 4.1 a driver may emit, by the names the drivers use (StrEnum members: equal to the strings).
JOB_STARTED, JOB_FINISHED, JOB_FAILED = Event.JOB_STARTED, Event.JOB_FINISHED, Event.JOB_FAILED
FAULT, FAULT_CLEARED, ALARM = Event.FAULT, Event.FAULT_CLEARED, Event.ALARM
DOOR_OPEN, DOOR_CLOSED = Event.DOOR_OPEN, Event.DOOR_CLOSED

# Commands of DESIGN.md 4.1 a driver may be asked to turn into firmware bytes.
COMMANDS = tuple(command.value for command in Command)


class UnsupportedCommand(ValueError):
    """The driver cannot express this command for its firmware; the bridge answers it with a failed ack."""


@dataclass(frozen=True)
class Snapshot:
    """The machine as the driver last understood it: what the bridge publishes on `state` and `telemetry`."""

    state: MachineState
    job: str | None = None
    progress: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    detail: str = ""

    def headline(self) -> tuple[MachineState, str | None, float | None, str]:
        """The part published on the retained `state` channel (metrics go to `telemetry`)."""
        return (self.state, self.job, self.progress, self.detail)


# --- observations: what one received line meant ----------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """Base of everything `feed` returns. `kind` names the line kind in the driver's `counters`."""

    kind: ClassVar[str] = "observation"


@dataclass(frozen=True)
class Ack(Observation):
    """The firmware accepted (`ok`) or refused (`error:n`) the oldest line in flight."""

    kind: ClassVar[str] = "ok"
    ok: bool = True
    code: int | None = None
    detail: str = ""
    command: str | None = None


@dataclass(frozen=True)
class Metrics(Observation):
    """Readings in DESIGN.md 4.1 metric names (`hotend_c`, `x_mm`, ...), already in those units."""

    kind: ClassVar[str] = "metrics"
    values: dict[str, float] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Status(Observation):
    """A firmware status report: its own state name (e.g. GRBL `Hold:1`) and any extra fields."""

    kind: ClassVar[str] = "status"
    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress(Observation):
    """Job progress in firmware units (`done` of `total`, e.g. SD bytes); `total` None when not printing."""

    kind: ClassVar[str] = "progress"
    done: int = 0
    total: int | None = None


@dataclass(frozen=True)
class Busy(Observation):
    """The firmware is alive but working (homing, heating) or waiting for a person."""

    kind: ClassVar[str] = "busy"
    reason: str = ""


@dataclass(frozen=True)
class ResendRequest(Observation):
    """The firmware lost or refused line `line` and asks for it (and the ones after it) again."""

    kind: ClassVar[str] = "resend"
    line: int = 0


@dataclass(frozen=True)
class FirmwareError(Observation):
    """An error line that is neither a fault nor a resend cause (the firmware keeps running)."""

    kind: ClassVar[str] = "error"
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Fault(Observation):
    """The firmware stopped itself (kill, thermal runaway, alarm); `code` is a short stable cause."""

    kind: ClassVar[str] = "fault"
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class FirmwareInfo(Observation):
    """Identity or capability line (M115, GRBL `[VER:]`/`[OPT:]`, `Cap:` lines)."""

    kind: ClassVar[str] = "info"
    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Setting(Observation):
    """One `key=value` setting line (GRBL `$110=500.000`)."""

    kind: ClassVar[str] = "setting"
    key: str = ""
    value: str = ""


@dataclass(frozen=True)
class Message(Observation):
    """A human-readable message from the firmware (Marlin `echo:`, GRBL `[MSG:...]`)."""

    kind: ClassVar[str] = "message"
    text: str = ""


@dataclass(frozen=True)
class ResetDetected(Observation):
    """The firmware (re)started (`start`, GRBL banner): the bridge writes `handshake()` again."""

    kind: ClassVar[str] = "reset"
    banner: str = ""


@dataclass(frozen=True)
class Noise(Observation):
    """A well-formed line that carries nothing the bridge needs (`wait`, `File selected`)."""

    kind: ClassVar[str] = "noise"
    text: str = ""


@dataclass(frozen=True)
class Malformed(Observation):
    """A line no parser recognises: line noise, a truncated line, a foreign protocol. Counted, never raised."""

    kind: ClassVar[str] = "malformed"
    text: str = ""


@dataclass(frozen=True)
class MachineEvent(Observation):
    """A DESIGN.md 4.1 event the bridge publishes on `event` (`fault`, `job_finished`, `alarm`, ...)."""

    kind: ClassVar[str] = "event"
    event: str = ""
    code: str | None = None
    detail: str = ""
    job: str | None = None


@dataclass(frozen=True)
class StateChanged(Observation):
    """The snapshot's headline (state, job, detail) changed; the bridge republishes the retained `state`."""

    kind: ClassVar[str] = "state_changed"
    snapshot: Snapshot = field(default_factory=lambda: Snapshot(MachineState.OFFLINE))


# --- the driver contract ---------------------------------------------------------------------------------


@runtime_checkable
class FirmwareDriver(Protocol):
    """What a bridge drives. All methods are pure bookkeeping: no I/O, no clock, no exceptions from `feed`.

    On open: write `handshake()`. On each received line: `feed(line)`, then write `outgoing()`; on a
    `ResetDetected` write `handshake()` again. Every `--interval` seconds: write `poll()`. On a 4.1 command:
    write `command(cmd, args)` (it may raise `UnsupportedCommand`). When the port fails: `connection_lost()`.
    """

    counters: dict[str, int]

    def handshake(self) -> list[bytes]: ...

    def poll(self) -> list[bytes]: ...

    def command(self, cmd: str, args: dict) -> list[bytes]: ...

    def feed(self, line: str) -> list[Observation]: ...

    def outgoing(self) -> list[bytes]: ...

    def snapshot(self) -> Snapshot: ...

    @property
    def changed(self) -> bool: ...

    def connection_lost(self) -> None: ...


class StateTracker:
    """The state-keeping half both drivers share: the snapshot, change detection and line counters.

    A driver sets `state`, `job`, `progress`, `detail` and `metrics`; `settle()` turns a headline change
    into a `StateChanged`. `changed` stays true until the bridge next takes a `snapshot()`, so a bridge that
    ignores observations can still poll for changes.
    """

    def __init__(self) -> None:
        self.state = MachineState.OFFLINE
        self.job: str | None = None
        self.progress: float | None = None
        self.detail = ""
        self.metrics: dict[str, float] = {}
        self.counters: dict[str, int] = {"malformed": 0}
        self._settled = self._headline()
        self._published: tuple | None = None

    def _headline(self) -> tuple:
        return (self.state, self.job, self.detail)

    def count(self, observations: list[Observation]) -> None:
        for observation in observations:
            self.counters[observation.kind] = self.counters.get(observation.kind, 0) + 1

    def settle(self) -> list[Observation]:
        """A `StateChanged` if state, job or detail moved since the last settle, else nothing."""
        headline = self._headline()
        if headline == self._settled:
            return []
        self._settled = headline
        return [StateChanged(self.snapshot_now())]

    def snapshot_now(self) -> Snapshot:
        return Snapshot(self.state, self.job, self.progress, dict(self.metrics), self.detail)

    def snapshot(self) -> Snapshot:
        snap = self.snapshot_now()
        self._published = snap.headline()
        return snap

    @property
    def changed(self) -> bool:
        """State, job, progress or detail differ from the last `snapshot()` the bridge took."""
        return self._published != self.snapshot_now().headline()


class TrackedDriver:
    """What both drivers share: a StateTracker behind `snapshot()`, `changed` and the line `counters`."""

    def __init__(self) -> None:
        self._track = StateTracker()
        self.counters = self._track.counters

    def snapshot(self) -> Snapshot:
        return self._track.snapshot()

    @property
    def changed(self) -> bool:
        return self._track.changed
