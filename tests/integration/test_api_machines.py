"""The JSON API under /api/v1 (DESIGN.md 4.4): bearer tokens, the machines, errors as JSON, its OpenAPI."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from factory.domain.capabilities import Capabilities
from factory.services.machines import change_state
from factory.services.tokens import create_token, revoke_token
from tests.integration.conftest import (
    api_get as get,
)
from tests.integration.conftest import (
    api_token,
    assert_error,
    make_commune_with_site,
    make_machine,
    make_user,
    sqlite_only,
)


@pytest.fixture
def token(session) -> str:
    """A token of a steward of an (empty) commune with one site, `north`."""
    make_commune_with_site(session, "north")
    make_user(session, "steward", login="sam")
    return api_token(session, "sam")


@pytest.fixture
def fleet(session, token):
    """Four machines on two sites in different states; returns the token."""
    make_commune_with_site(session, "south", time_zone="America/Toronto")
    make_machine(session, id="north-printer", name="Printer N", site="north", state="idle")
    make_machine(session, id="north-kiln", name="Kiln N", site="north", kind="kiln",
                 capabilities=Capabilities(500, 500, 600, max_temperature_c=1290), state="running")
    make_machine(session, id="south-printer", name="Printer S", site="south", state="running")
    make_machine(session, id="south-furnace", name="Furnace S", site="south", kind="furnace",
                 capabilities=Capabilities(max_temperature_c=1650), acquisition_cost=None, model="")
    return token


# --- authentication ------------------------------------------------------------------------------------

@sqlite_only
@pytest.mark.parametrize("authorization", [None, "", "Bearer ", "Basic c2FtOnNlY3JldA==", "mf_token-without-scheme"],
                         ids=["no-header", "empty", "bearer-without-token", "basic", "no-scheme"])
def test_request_without_a_bearer_token_is_401_with_a_challenge(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}

    response = client.get("/api/v1/machines", headers=headers)

    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401(client, token):
    response = get(client, "/api/v1/machines", token + "x")

    assert_error(response, 401, "unauthorized")
    assert "WWW-Authenticate" in response.headers


def test_revoked_token_is_401_while_the_users_other_tokens_still_work(client, session, token):
    old, plain = create_token(session, "sam", "lost laptop")
    revoke_token(session, old.id)

    assert_error(get(client, "/api/v1/machines", plain), 401, "unauthorized")
    assert get(client, "/api/v1/machines", token).status_code == 200


def test_valid_token_lists_every_machine_with_a_count(client, fleet):
    response = get(client, "/api/v1/machines", fleet)

    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 4
    assert [m["id"] for m in body["items"]] == ["north-kiln", "north-printer", "south-furnace", "south-printer"]
    assert response.headers["Cache-Control"] == "no-store"


# --- filters -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "expected"), [
    ("site=south", ["south-furnace", "south-printer"]),
    ("kind=fdm_printer", ["north-printer", "south-printer"]),
    ("state=running", ["north-kiln", "south-printer"]),
    ("site=north&kind=fdm_printer&state=idle", ["north-printer"]),
    ("site=atlantis", []),
], ids=["site", "kind", "state", "all-three", "unknown-site"])
def test_machines_can_be_filtered_by_site_kind_and_state(client, fleet, query, expected):
    body = get(client, f"/api/v1/machines?{query}", fleet).get_json()

    assert [m["id"] for m in body["items"]] == expected
    assert body["count"] == len(expected)


@sqlite_only
@pytest.mark.parametrize(("query", "field"), [
    ("colour=red", "colour"),
    ("site=north&limit=5", "limit"),
    ("kind=3d_printer", "kind"),
    ("state=broken", "state"),
], ids=["unknown-parameter", "unknown-beside-a-known-one", "bad-kind", "bad-state"])
def test_bad_filter_is_400_naming_the_parameter(client, token, query, field):
    response = get(client, f"/api/v1/machines?{query}", token)

    assert_error(response, 400, "invalid_parameter", field=field)


# --- one machine, and what is not there ----------------------------------------------------------------

def test_one_machine_is_the_same_as_in_the_list(client, fleet):
    listed = get(client, "/api/v1/machines?site=north&kind=kiln", fleet).get_json()["items"][0]

    response = get(client, "/api/v1/machines/north-kiln", fleet)

    assert response.status_code == 200
    assert response.get_json() == listed
    assert listed["site"] == {"slug": "north", "name": "North Works", "time_zone": "Europe/Berlin"}
    assert listed["capabilities"]["build_volume_mm"] == [500, 500, 600]
    assert listed["state"] == "running"


def test_unknown_machine_is_a_json_404(client, token):
    assert_error(get(client, "/api/v1/machines/no-such-machine", token), 404, "not_found")


@sqlite_only
@pytest.mark.parametrize("with_token", [True, False], ids=["with-token", "without-token"])
def test_unknown_api_route_is_a_json_404(client, token, with_token):
    response = get(client, "/api/v1/whatever", token if with_token else None)

    assert_error(response, 404)


@sqlite_only
def test_wrong_method_on_an_api_route_is_a_json_405(client, token):
    response = client.post("/api/v1/machines", headers={"Authorization": f"Bearer {token}"}, json={})

    assert_error(response, 405)


# --- the OpenAPI document ------------------------------------------------------------------------------

@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")  # no token: the document is public
    assert response.status_code == 200
    return response.get_json()


@sqlite_only
def test_openapi_document_is_public_and_valid(spec):
    validate_spec(spec)
    assert spec["openapi"].startswith("3.1")


@sqlite_only
def test_openapi_document_describes_every_api_route_and_method(app, spec):
    prefix = spec["servers"][0]["url"]
    routes = {
        (rule.rule.removeprefix(prefix).replace("<", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}

    assert routes, "no API routes found"
    assert routes == documented


def closed_schema(schema):
    """`schema` with `additionalProperties: false` on every object that lists its properties."""
    schema = copy.deepcopy(schema)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "properties" in node:
                node.setdefault("additionalProperties", False)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return schema


def response_validator(spec: dict, path: str, status: str) -> OAS31Validator:
    """Checks a body against the spec's schema for `GET path` answering `status`; undocumented fields fail."""
    schema = spec["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
    rooted = closed_schema({**schema, "components": spec["components"]})  # so `#/components/...` resolves
    return OAS31Validator(rooted, format_checker=OAS31Validator.FORMAT_CHECKER)


def test_api_answers_match_the_openapi_schemas(client, fleet, spec):
    listing = get(client, "/api/v1/machines", fleet).get_json()
    one = get(client, "/api/v1/machines/south-furnace", fleet).get_json()
    missing = get(client, "/api/v1/machines/no-such-machine", fleet)
    refused = get(client, "/api/v1/machines?kind=spaceship", fleet)
    unauthorized = get(client, "/api/v1/machines")

    response_validator(spec, "/machines", "200").validate(listing)
    response_validator(spec, "/machines/{machine_id}", "200").validate(one)
    response_validator(spec, "/machines/{machine_id}", "404").validate(missing.get_json())
    response_validator(spec, "/machines", "400").validate(refused.get_json())
    response_validator(spec, "/machines", "401").validate(unauthorized.get_json())
    assert one["acquisition"]["cost"] is None and one["capabilities"]["build_volume_mm"] is None
    printer = next(m for m in listing["items"] if m["id"] == "north-printer")
    assert printer["acquisition"] == {"cost": "1099.00", "currency": "EUR", "date": None}


def test_machine_answers_its_booking_rules_and_when_a_broken_machine_is_expected_back(client, session, token):
    make_machine(session, id="lathe-1", name="Lathe", kind="other", capabilities=Capabilities(),
                 booking_min_minutes=60, booking_max_minutes=240, booking_notice_minutes=120)
    back = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    change_state(session, "lathe-1", "fault", by="test", reason="chuck jammed", expected_back_at=back)

    machine = get(client, "/api/v1/machines/lathe-1", token).get_json()

    assert machine["booking_rules"] == {"min_minutes": 60, "max_minutes": 240, "notice_minutes": 120,
                                        "horizon_days": 180}
    assert machine["expected_back_at"] == back.strftime("%Y-%m-%dT%H:%M:%S.000Z")
