"""The MQTT message vocabulary of DESIGN.md 4.1: topics and payloads as frozen, validated dataclasses.

Machines, bridges, simulators, the ingest worker and the web app's commands all speak through this module,
so a message that `decode` accepts is one every other part may rely on. `decode` raises `MessageError` with
a stable `reason` (used as the ingest's drop counter label) and never anything else, whatever the bytes.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from drivers.states import MachineState

VERSION = 1
TOPIC_ROOT = "mf"
ID_PATTERN = re.compile(r"[a-z0-9-]{1,64}")
METRIC_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
MAX_TEXT = 500
# A command not delivered within this many seconds is dropped by the broker (MQTT 5 message expiry):
# `home` or `start_job` must not run when a machine that was away comes back hours later.
COMMAND_EXPIRY_S = 60
MAX_METRICS = 64
# Ids and metric names already found valid: the ingest sees the same few thousand strings again and again,
# so each is checked by its pattern once. Bounded: past this many they are forgotten and checked anew.
_REMEMBERED = 10_000
_valid_ids: set[str] = set()
_valid_metric_names: set[str] = set()


class Channel(StrEnum):
    STATE = "state"
    TELEMETRY = "telemetry"
    EVENT = "event"
    CMD = "cmd"
    CMD_ACK = "cmd/ack"


class Event(StrEnum):
    JOB_STARTED = "job_started"
    JOB_FINISHED = "job_finished"
    JOB_FAILED = "job_failed"
    FAULT = "fault"
    FAULT_CLEARED = "fault_cleared"
    ALARM = "alarm"
    DOOR_OPEN = "door_open"
    DOOR_CLOSED = "door_closed"


class Command(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    HOME = "home"
    START_JOB = "start_job"


class MessageError(ValueError):
    """A topic or payload that breaks the contract. `reason` is a stable label: `topic`, `json`, `schema`."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# --- topics -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Topic:
    site: str
    machine: str
    channel: Channel

    def __post_init__(self) -> None:
        for name in ("site", "machine"):
            if not ID_PATTERN.fullmatch(getattr(self, name)):
                raise MessageError("topic", f"{name} id {getattr(self, name)!r} is not [a-z0-9-]{{1,64}}")

    def __str__(self) -> str:
        return f"{TOPIC_ROOT}/{self.site}/{self.machine}/{self.channel.value}"


def topic(site: str, machine: str, channel: Channel | str) -> str:
    return str(Topic(site, machine, Channel(channel)))


@functools.lru_cache(maxsize=4096)
def parse_topic(name: str) -> Topic:
    """`mf/{site}/{machine}/{channel}` -> Topic; anything else raises MessageError("topic").

    Cached: a topic's parts never change, and the ingest parses the same topics all day.
    """
    parts = name.split("/", 3)
    if len(parts) != 4 or parts[0] != TOPIC_ROOT:
        raise MessageError("topic", f"topic {name!r} is not mf/{{site}}/{{machine}}/{{channel}}")
    try:
        channel = Channel(parts[3])
    except ValueError:
        raise MessageError("topic", f"unknown channel {parts[3]!r} in topic {name!r}") from None
    return Topic(parts[1], parts[2], channel)


# --- time ---------------------------------------------------------------------------------------------------

def format_ts(moment: datetime) -> str:
    """RFC 3339 UTC with milliseconds: `2026-11-22T10:15:03.120Z`. Naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where UTC is required")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(text: Any) -> datetime:
    if text.__class__ is str and text[-1:] == "Z" and "T" in text:  # the usual form: already UTC once parsed
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise MessageError("schema", f"ts {text!r} is not an RFC 3339 UTC time") from None
        if moment.tzinfo is UTC:
            return moment
    if not isinstance(text, str) or not text.endswith(("Z", "+00:00")) or "T" not in text:
        raise MessageError("schema", f"ts {text!r} is not an RFC 3339 UTC time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MessageError("schema", f"ts {text!r} is not an RFC 3339 UTC time") from None
    return moment.astimezone(UTC)


# --- payloads -----------------------------------------------------------------------------------------------

def _remember(valid: set[str], value: str) -> None:
    if len(valid) >= _REMEMBERED:
        valid.clear()
    valid.add(value)


def _check_id(value: Any, name: str) -> str:
    if value.__class__ is str and value in _valid_ids:
        return value
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise MessageError("schema", f"{name} {value!r} is not [a-z0-9-]{{1,64}}")
    _remember(_valid_ids, value)
    return value


def _check_metric_name(name: Any) -> None:
    if name in _valid_metric_names:  # json object keys are always str
        return
    if not isinstance(name, str) or not METRIC_PATTERN.fullmatch(name) or len(name) > 64:
        raise MessageError("schema", f"metric name {name!r} is not name_unit in snake case")
    _remember(_valid_metric_names, name)


def _check_seq(value: Any) -> int:
    if value.__class__ is int and 0 <= value < 2**63:
        return value
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise MessageError("schema", f"seq {value!r} is not a non-negative integer")
    return value


def _check_text(value: Any, name: str, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise MessageError("schema", f"{name} must be text of at most {MAX_TEXT} characters")
    if "\x00" in value:
        raise MessageError("schema", f"{name} contains a NUL character")
    return value


def _check_number(value: Any, name: str) -> float:
    if value.__class__ is float and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MessageError("schema", f"{name} {value!r} is not a finite number")
    return float(value)


def _check_ts(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise MessageError("schema", "ts must be timezone-aware UTC")
        return value.astimezone(UTC)
    return parse_ts(value)


@dataclass(frozen=True)
class StateMessage:
    machine: str
    ts: datetime
    seq: int
    state: MachineState
    job: str | None = None
    progress: float | None = None
    detail: str = ""
    channel = Channel.STATE

    def __post_init__(self) -> None:
        _check_id(self.machine, "machine")
        object.__setattr__(self, "ts", _check_ts(self.ts))
        _check_seq(self.seq)
        try:
            object.__setattr__(self, "state", MachineState(self.state))
        except ValueError:
            raise MessageError("schema", f"state {self.state!r} is not one of "
                                         f"{', '.join(s.value for s in MachineState)}") from None
        _check_text(self.job, "job")
        if self.progress is not None:
            progress = _check_number(self.progress, "progress")
            if not 0.0 <= progress <= 1.0:
                raise MessageError("schema", f"progress {progress} is outside 0..1")
            object.__setattr__(self, "progress", progress)
        object.__setattr__(self, "detail", _check_text(self.detail, "detail") or "")

    def payload(self) -> dict[str, Any]:
        return {"v": VERSION, "machine": self.machine, "ts": format_ts(self.ts), "seq": self.seq,
                "state": self.state.value, "job": self.job, "progress": self.progress, "detail": self.detail}


@dataclass(frozen=True)
class TelemetryMessage:
    machine: str
    ts: datetime
    seq: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    channel = Channel.TELEMETRY

    def __post_init__(self) -> None:
        _check_id(self.machine, "machine")
        object.__setattr__(self, "ts", _check_ts(self.ts))
        _check_seq(self.seq)
        if not isinstance(self.metrics, Mapping) or not 0 < len(self.metrics) <= MAX_METRICS:
            raise MessageError("schema", f"metrics must be an object of 1 to {MAX_METRICS} numbers")
        metrics, known = {}, _valid_metric_names
        for name, value in self.metrics.items():
            if name not in known:
                _check_metric_name(name)
            if value.__class__ is float and math.isfinite(value):
                metrics[name] = value
            else:
                metrics[name] = _check_number(value, f"metric {name}")
        object.__setattr__(self, "metrics", MappingProxyType(metrics))

    def payload(self) -> dict[str, Any]:
        return {"v": VERSION, "machine": self.machine, "ts": format_ts(self.ts), "seq": self.seq,
                "metrics": dict(self.metrics)}


@dataclass(frozen=True)
class EventMessage:
    machine: str
    ts: datetime
    seq: int
    event: Event
    job: str | None = None
    code: str | None = None
    detail: str = ""
    channel = Channel.EVENT

    def __post_init__(self) -> None:
        _check_id(self.machine, "machine")
        object.__setattr__(self, "ts", _check_ts(self.ts))
        _check_seq(self.seq)
        try:
            object.__setattr__(self, "event", Event(self.event))
        except ValueError:
            raise MessageError("schema", f"event {self.event!r} is not one of "
                                         f"{', '.join(e.value for e in Event)}") from None
        _check_text(self.job, "job")
        code = self.code
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        object.__setattr__(self, "code", _check_text(code, "code"))
        object.__setattr__(self, "detail", _check_text(self.detail, "detail") or "")

    def payload(self) -> dict[str, Any]:
        return {"v": VERSION, "machine": self.machine, "ts": format_ts(self.ts), "seq": self.seq,
                "event": self.event.value, "job": self.job, "code": self.code, "detail": self.detail}


@dataclass(frozen=True)
class CommandMessage:
    id: str
    cmd: Command
    job: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    channel = Channel.CMD

    def __post_init__(self) -> None:
        _check_text(self.id, "id", optional=False)
        if not self.id:
            raise MessageError("schema", "id must not be empty")
        try:
            object.__setattr__(self, "cmd", Command(self.cmd))
        except ValueError:
            raise MessageError("schema", f"cmd {self.cmd!r} is not one of "
                                         f"{', '.join(c.value for c in Command)}") from None
        _check_text(self.job, "job")
        if not isinstance(self.args, Mapping):
            raise MessageError("schema", "args must be an object")
        object.__setattr__(self, "args", MappingProxyType(dict(self.args)))

    def payload(self) -> dict[str, Any]:
        return {"v": VERSION, "id": self.id, "cmd": self.cmd.value, "job": self.job, "args": dict(self.args)}


@dataclass(frozen=True)
class CommandAck:
    machine: str
    ts: datetime
    id: str
    ok: bool
    detail: str = ""
    channel = Channel.CMD_ACK

    def __post_init__(self) -> None:
        _check_id(self.machine, "machine")
        object.__setattr__(self, "ts", _check_ts(self.ts))
        _check_text(self.id, "id", optional=False)
        if not isinstance(self.ok, bool):
            raise MessageError("schema", "ok must be true or false")
        object.__setattr__(self, "detail", _check_text(self.detail, "detail") or "")

    def payload(self) -> dict[str, Any]:
        return {"v": VERSION, "machine": self.machine, "ts": format_ts(self.ts), "id": self.id, "ok": self.ok,
                "detail": self.detail}


Message = StateMessage | TelemetryMessage | EventMessage | CommandMessage | CommandAck
MachineMessage = StateMessage | TelemetryMessage | EventMessage

_SCHEMA: dict[Channel, tuple[type, tuple[str, ...], tuple[str, ...]]] = {
    # channel: (class, required keys, optional keys)
    Channel.STATE: (StateMessage, ("machine", "ts", "seq", "state"), ("job", "progress", "detail")),
    Channel.TELEMETRY: (TelemetryMessage, ("machine", "ts", "seq", "metrics"), ()),
    Channel.EVENT: (EventMessage, ("machine", "ts", "seq", "event"), ("job", "code", "detail")),
    Channel.CMD: (CommandMessage, ("id", "cmd"), ("job", "args")),
    Channel.CMD_ACK: (CommandAck, ("machine", "ts", "id", "ok"), ("detail",)),
}


# channel: (class, required keys, every key allowed including "v")
_FIELDS: dict[Channel, tuple[type, frozenset[str], frozenset[str]]] = {
    channel: (kind, frozenset(required), frozenset(("v", *required, *optional)))
    for channel, (kind, required, optional) in _SCHEMA.items()}


def encode(message: Message) -> bytes:
    return json.dumps(message.payload(), separators=(",", ":"), ensure_ascii=False).encode()


def decode(channel: Channel | str, payload: bytes | str) -> Message:
    """Bytes of `channel` -> its message. Raises MessageError("json" | "schema" | "topic") and nothing else."""
    try:
        fields = _FIELDS.get(channel)  # a Channel or its text: a StrEnum hashes like its value
    except TypeError:  # unhashable: no channel either
        fields = None
    if fields is None:
        raise MessageError("topic", f"unknown channel {channel!r}")
    kind, required, allowed = fields
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError):
        raise MessageError("json", "payload is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise MessageError("schema", "payload is not a JSON object")
    if data.get("v") != VERSION:
        raise MessageError("schema", f"unsupported version v={data.get('v')!r}")
    keys = data.keys()
    if not keys >= required:
        raise MessageError("schema", f"missing {', '.join(k for k in _SCHEMA[kind.channel][1] if k not in data)}")
    if not keys <= allowed:
        raise MessageError("schema", f"unknown keys {', '.join(sorted(keys - allowed))}")
    del data["v"]
    if data.get("detail", "") is None:
        data["detail"] = ""
    if "args" in data and data["args"] is None:
        data["args"] = {}
    try:
        return kind(**data)
    except MessageError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise MessageError("schema", str(exc)) from None


def last_will(site: str, machine: str, detail: str) -> tuple[str, bytes]:
    """(topic, payload) of a machine's retained last will: state `offline`, published by the broker when
    the machine's connection dies without a goodbye (DESIGN.md 4.1)."""
    will = StateMessage(machine, datetime.now(UTC), 0, MachineState.OFFLINE, detail=detail)
    return topic(site, machine, Channel.STATE), encode(will)
