"""Helpers shared by the booking, lease and maintenance API tests.

The API uses the wall clock, so times are the first Monday at least a week ahead (`monday`), on site
`north` (Europe/Berlin, open Monday to Friday 09:00-17:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from openapi_schema_validator import OAS31Validator

from drivers.messages import format_ts
from tests.integration.conftest import api_token, make_commune_with_site, make_coop, make_machine, make_user
from tests.integration.test_api_machines import closed_schema

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)
MISSING = object()


def monday(hour: int = 10, minute: int = 0, *, weeks: int = 0) -> datetime:
    """`hour:minute` Berlin time on the first Monday at least seven days from now (`weeks` later), as UTC."""
    today = datetime.now(BERLIN).date()
    day = today + timedelta(days=7 + (-today.weekday()) % 7, weeks=weeks)
    return datetime.combine(day, time(hour, minute), BERLIN).astimezone(UTC)


def ts(moment: datetime) -> str:
    return format_ts(moment)


def call(client, method: str, path: str, token: str | None = None, body=None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.open(path, method=method, headers=headers, json=body, **kwargs)


def make_shop(session) -> SimpleNamespace:
    """Site `north` with printer-1, co-ops spokes and gears; tokens of a steward, an admin and a member of each."""
    make_commune_with_site(session, "north")
    make_coop(session, "spokes")
    make_coop(session, "gears")
    make_machine(session, id="printer-1", name="Printer 1", state="idle")
    make_user(session, "steward", login="sam")
    make_user(session, "admin", login="ada")
    make_user(session, "member", coop="spokes", login="mia")
    make_user(session, "member", coop="gears", login="gus")
    return SimpleNamespace(steward=api_token(session, "sam"), admin=api_token(session, "ada"),
                           mia=api_token(session, "mia"), gus=api_token(session, "gus"))


def booking_body(start: datetime, end: datetime | None = None, *, coop: str = "spokes", **extra) -> dict:
    return {"machine": "printer-1", "coop": coop, "starts_at": ts(start), "ends_at": ts(end or start + HOUR),
            "purpose": "brackets", **extra}


def book(client, token: str, start: datetime, end: datetime | None = None, **extra) -> dict:
    response = call(client, "POST", "/api/v1/bookings", token, booking_body(start, end, **extra))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def conforms(spec: dict, path: str, method: str, status: int, body: dict) -> None:
    """`body` matches the spec's schema for `method path` answering `status`; undocumented fields fail."""
    schema = spec["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    OAS31Validator(closed_schema({**schema, "components": spec["components"]}),
                   format_checker=OAS31Validator.FORMAT_CHECKER).validate(body)
