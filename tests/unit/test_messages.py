"""The DESIGN.md 4.1 vocabulary: what decode accepts, what it refuses and why, and that encode round-trips."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.messages import (
    Channel,
    CommandAck,
    CommandMessage,
    EventMessage,
    MessageError,
    StateMessage,
    TelemetryMessage,
    decode,
    encode,
    format_ts,
    parse_topic,
    topic,
)
from drivers.states import MachineState

TS = "2026-11-22T10:15:03.120Z"
MOMENT = datetime(2026, 11, 22, 10, 15, 3, 120000, tzinfo=UTC)


def test_timestamps_are_rfc3339_utc_with_milliseconds():
    assert format_ts(MOMENT) == TS
    assert format_ts(MOMENT.astimezone(timezone(timedelta(hours=1)))) == TS


def test_naive_timestamps_are_refused_when_formatting():
    with pytest.raises(ValueError):
        format_ts(datetime(2026, 1, 1))


@pytest.mark.parametrize("name, expected", [
    ("mf/leipzig/prusa-1/state", ("leipzig", "prusa-1", Channel.STATE)),
    ("mf/leipzig/prusa-1/cmd/ack", ("leipzig", "prusa-1", Channel.CMD_ACK)),
    ("mf/montreal/kiln-2/telemetry", ("montreal", "kiln-2", Channel.TELEMETRY)),
])
def test_topics_parse_into_site_machine_and_channel(name, expected):
    parsed = parse_topic(name)
    assert (parsed.site, parsed.machine, parsed.channel) == expected
    assert str(parsed) == name


@pytest.mark.parametrize("name", [
    "mf/leipzig/prusa-1", "xx/leipzig/prusa-1/state", "mf/Leipzig/prusa-1/state", "mf/leipzig/prusa_1/state",
    "mf/leipzig/prusa-1/telemetry/extra", "mf//prusa-1/state", "mf/leipzig/prusa-1/STATE", "",
])
def test_malformed_topics_are_refused_with_the_topic_reason(name):
    with pytest.raises(MessageError) as caught:
        parse_topic(name)
    assert caught.value.reason == "topic"


def test_topic_builder_refuses_bad_ids():
    assert topic("leipzig", "cnc-1", "cmd") == "mf/leipzig/cnc-1/cmd"
    with pytest.raises(MessageError):
        topic("leipzig", "CNC 1", "cmd")


VALID = {
    Channel.STATE: {"v": 1, "machine": "prusa-1", "ts": TS, "seq": 7, "state": "running", "job": "j-12",
                    "progress": 0.25, "detail": ""},
    Channel.TELEMETRY: {"v": 1, "machine": "prusa-1", "ts": TS, "seq": 8, "metrics": {"hotend_c": 210.0,
                                                                                        "bed_c": 60}},
    Channel.EVENT: {"v": 1, "machine": "cnc-1", "ts": TS, "seq": 9, "event": "alarm", "job": None, "code": 1,
                    "detail": "hard limit"},
    Channel.CMD: {"v": 1, "id": "c-1", "cmd": "pause", "job": None, "args": {}},
    Channel.CMD_ACK: {"v": 1, "machine": "cnc-1", "ts": TS, "id": "c-1", "ok": True, "detail": ""},
}


@pytest.mark.parametrize("channel", list(VALID), ids=str)
def test_valid_payloads_decode_and_encode_back_to_the_same_json(channel):
    message = decode(channel, json.dumps(VALID[channel]).encode())
    again = decode(channel, encode(message))
    assert again == message
    assert message.channel is channel


def test_state_payload_becomes_typed_values():
    message = decode(Channel.STATE, json.dumps(VALID[Channel.STATE]))
    assert isinstance(message, StateMessage)
    assert message.state is MachineState.RUNNING
    assert message.ts == MOMENT
    assert message.progress == 0.25


def test_event_codes_given_as_numbers_become_text():
    message = decode(Channel.EVENT, json.dumps(VALID[Channel.EVENT]))
    assert isinstance(message, EventMessage)
    assert message.code == "1"


def test_optional_fields_may_be_left_out():
    message = decode(Channel.STATE, b'{"v":1,"machine":"m","ts":"2026-11-22T10:15:03.120Z","seq":1,"state":"idle"}')
    assert (message.job, message.progress, message.detail) == (None, None, "")


def _with(channel, **changes):
    payload = dict(VALID[channel])
    for key, value in changes.items():
        if value is ...:
            payload.pop(key)
        else:
            payload[key] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize("channel, payload, reason", [
    (Channel.STATE, b"{not json", "json"),
    (Channel.STATE, b"\xff\xfe", "json"),
    (Channel.STATE, b"", "json"),
    (Channel.STATE, b"[1, 2]", "schema"),
    (Channel.STATE, b'"text"', "schema"),
    (Channel.STATE, _with(Channel.STATE, v=2), "schema"),
    (Channel.STATE, _with(Channel.STATE, v=...), "schema"),
    (Channel.STATE, _with(Channel.STATE, state="exploded"), "schema"),
    (Channel.STATE, _with(Channel.STATE, state=["idle"]), "schema"),
    (Channel.STATE, _with(Channel.STATE, progress=1.5), "schema"),
    (Channel.STATE, _with(Channel.STATE, progress="half"), "schema"),
    (Channel.STATE, _with(Channel.STATE, seq=-1), "schema"),
    (Channel.STATE, _with(Channel.STATE, seq=1.5), "schema"),
    (Channel.STATE, _with(Channel.STATE, seq=True), "schema"),
    (Channel.STATE, _with(Channel.STATE, seq=...), "schema"),
    (Channel.STATE, _with(Channel.STATE, ts="2026-11-22 10:15:03"), "schema"),
    (Channel.STATE, _with(Channel.STATE, ts="2026-11-22T10:15:03+01:00"), "schema"),
    (Channel.STATE, _with(Channel.STATE, ts="yesterday"), "schema"),
    (Channel.STATE, _with(Channel.STATE, ts=1700000000), "schema"),
    (Channel.STATE, _with(Channel.STATE, machine="Prusa 1"), "schema"),
    (Channel.STATE, _with(Channel.STATE, extra=1), "schema"),
    (Channel.STATE, _with(Channel.STATE, detail="x" * 501), "schema"),
    (Channel.STATE, _with(Channel.STATE, detail="relay\u0000"), "schema"),  # PostgreSQL text cannot hold NUL
    (Channel.TELEMETRY, _with(Channel.TELEMETRY, metrics={}), "schema"),
    (Channel.TELEMETRY, _with(Channel.TELEMETRY, metrics=[1]), "schema"),
    (Channel.TELEMETRY, _with(Channel.TELEMETRY, metrics={"Hotend": 1}), "schema"),
    (Channel.TELEMETRY, _with(Channel.TELEMETRY, metrics={"hotend": 1}), "schema"),
    (Channel.TELEMETRY, _with(Channel.TELEMETRY, metrics={"hotend_c": "hot"}), "schema"),
    (Channel.TELEMETRY, _with(Channel.TELEMETRY, metrics={"hotend_c": True}), "schema"),
    (Channel.TELEMETRY, b'{"v":1,"machine":"m","ts":"2026-11-22T10:15:03.120Z","seq":1,"metrics":{"a_c":NaN}}',
     "schema"),
    (Channel.TELEMETRY, b'{"v":1,"machine":"m","ts":"2026-11-22T10:15:03.120Z","seq":1,"metrics":{"a_c":1e999}}',
     "schema"),
    (Channel.EVENT, _with(Channel.EVENT, event="party"), "schema"),
    (Channel.CMD, _with(Channel.CMD, cmd="explode"), "schema"),
    (Channel.CMD, _with(Channel.CMD, id=""), "schema"),
    (Channel.CMD, _with(Channel.CMD, args=[1]), "schema"),
    (Channel.CMD_ACK, _with(Channel.CMD_ACK, ok="yes"), "schema"),
    ("weather", b"{}", "topic"),
])
def test_malformed_payloads_are_refused_with_a_stable_reason(channel, payload, reason):
    with pytest.raises(MessageError) as caught:
        decode(channel, payload)
    assert caught.value.reason == reason


def test_deeply_nested_json_is_refused_not_crashing():
    with pytest.raises(MessageError):
        decode(Channel.STATE, b"[" * 100_000 + b"]" * 100_000)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_decode_raises_only_message_errors_whatever_the_bytes(payload):
    for channel in Channel:
        with contextlib.suppress(MessageError):
            decode(channel, payload)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["v", "machine", "ts", "seq", "state", "job", "progress", "detail",
                                        "metrics", "event", "code", "id", "cmd", "ok", "args"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                                 st.lists(st.integers(), max_size=2),
                                 st.dictionaries(st.text(max_size=5), st.floats(), max_size=2))))
def test_decode_raises_only_message_errors_for_any_json_object(data):
    data.setdefault("v", 1)
    for channel in Channel:
        with contextlib.suppress(MessageError):
            decode(channel, json.dumps(data))


def test_constructors_validate_like_decode():
    with pytest.raises(MessageError):
        TelemetryMessage("m", MOMENT, 1, {"temperature": 1.0})
    with pytest.raises(MessageError):
        StateMessage("m", datetime(2026, 1, 1), 1, MachineState.IDLE)
    with pytest.raises(MessageError):
        CommandMessage("c", "pause", args=None)
    assert CommandAck("m", MOMENT, "c", True).ok is True
