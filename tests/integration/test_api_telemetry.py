"""GET /api/v1/machines/<id>/telemetry and GET /metrics on a real database: answers and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drivers.messages import StateMessage, TelemetryMessage, format_ts
from drivers.states import MachineState
from factory.services.telemetry import flush_counters, record_messages
from tests.integration.conftest import (
    api_get,
    api_token,
    assert_error,
    make_commune_with_site,
    make_machine,
    make_user,
    sqlite_only,
)

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def token(session) -> str:
    """A member's token; printer-1 has reported one sample a minute for the last two hours."""
    make_commune_with_site(session, "north")
    make_machine(session, id="printer-1")
    make_user(session, "steward", login="sam")
    record_messages(session, [TelemetryMessage("printer-1", START + timedelta(minutes=n), n + 1,
                                               {"hotend_c": 200.0 + n, "bed_c": 60.0}) for n in range(120)]
                    + [StateMessage("printer-1", datetime.now(UTC), 500, MachineState.RUNNING, job="j-7",
                                    progress=0.25)])
    return api_token(session, "sam")


def test_samples_of_a_window_come_oldest_first_with_only_the_metrics_asked(client, token):
    since, until = START + timedelta(minutes=10), START + timedelta(minutes=20)
    response = api_get(client, f"/api/v1/machines/printer-1/telemetry?since={format_ts(since)}"
                               f"&until={format_ts(until)}&metric=hotend_c", token)
    assert response.status_code == 200
    body = response.get_json()
    assert [s["metrics"]["hotend_c"] for s in body["samples"]] == [210.0 + n for n in range(10)]
    assert all(set(s["metrics"]) == {"hotend_c"} and s["resolution_s"] == 0 for s in body["samples"])
    assert body["truncated"] is False


def test_without_a_window_the_last_six_hours_are_returned(client, token):
    body = api_get(client, "/api/v1/machines/printer-1/telemetry", token).get_json()
    assert len(body["samples"]) == 120
    assert set(body["samples"][0]["metrics"]) == {"hotend_c", "bed_c"}


def test_the_machine_answer_carries_its_reported_state_and_latest_metrics(client, token):
    body = api_get(client, "/api/v1/machines/printer-1", token).get_json()
    assert (body["state"], body["job"], body["progress"], body["available"]) == ("running", "j-7", 0.25, True)
    assert body["metrics"] == {"hotend_c": 319.0, "bed_c": 60.0}
    assert body["last_seen"] is not None and body["metrics_at"] is not None


@pytest.mark.parametrize(("query", "field"), [
    ("since=yesterday", "since"),
    ("until=2026-13-01T00:00:00Z", "until"),
    ("since=2026-11-02T10:00:00", "since"),  # no zone: not UTC
    ("since=2026-11-02T10:00:00Z&until=2026-11-02T09:00:00Z", "until"),
    ("since=2026-09-01T00:00:00Z&until=2026-11-01T00:00:00Z", "since"),
    ("metric=Hotend", "metric"),
    ("metric=hotend_c,bad-name", "metric"),
    ("machine=printer-1", "machine"),
])
@sqlite_only
def test_a_bad_parameter_is_a_400_naming_it(client, token, query, field):
    assert_error(api_get(client, f"/api/v1/machines/printer-1/telemetry?{query}", token), 400, field=field)


@sqlite_only
def test_telemetry_of_an_unknown_machine_is_a_404(client, token):
    assert_error(api_get(client, "/api/v1/machines/ghost/telemetry", token), 404)


@sqlite_only
def test_telemetry_without_a_token_is_a_401(client, token):
    assert_error(api_get(client, "/api/v1/machines/printer-1/telemetry"), 401)


def test_metrics_sum_what_the_workers_flushed_by_reason(client, session, token):
    flush_counters(session, "w1", {"accepted": 10, "dropped:json": 2, "ignored:cmd/ack": 1, "lag_seconds": 0.25})
    flush_counters(session, "w2", {"accepted": 1_234_567, "dropped:spoofed": 1})
    text = api_get(client, "/metrics", token).get_data(as_text=True)
    assert 'factory_ingest_messages_accepted_total{worker="w1"} 10' in text
    assert 'factory_ingest_messages_accepted_total{worker="w2"} 1234567' in text, "every digit of a counter"
    assert 'factory_ingest_messages_dropped_total{worker="w1",reason="json"} 2' in text
    assert 'factory_ingest_messages_dropped_total{worker="w2",reason="spoofed"} 1' in text
    assert 'factory_ingest_messages_ignored_total{worker="w1",channel="cmd/ack"} 1' in text
    assert 'factory_ingest_lag_seconds{worker="w1"} 0.250' in text
    assert 'factory_machines{state="running"} 1' in text


@sqlite_only
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic c2FtOnB3"])
def test_metrics_without_a_valid_token_or_login_is_a_401(client, token, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    assert_error(client.get("/metrics", headers=headers), 401)
