"""POST /api/v1/designs and PUT /api/v1/designs/<slug>: stewards and admins publish and change open designs; a
member may not. A malformed body is a 400 naming the field, a broken rule a 422 naming it (`steps.2.…`,
`bom.…`), a taken slug a 409, and so is changing the routing of a design orders use (its name may change).
The works: tests/integration/production_api.py.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.booking_api import MISSING, call, conforms
from tests.integration.conftest import api_get, assert_error
from tests.integration.production_api import PETG, make_works, place


@pytest.fixture
def works(session):
    return make_works(session)


def design_body(**changes) -> dict:
    """A printed hook in two steps, 0.050 kg of PETG at the first; MISSING drops a field."""
    body = {"slug": "hook", "name": "Wall hook", "licence": "CC-BY-4.0", "source_url": "https://example.org/hook",
            "version": "2.1", "summary": "A hook for coats.", "max_batch": 6,
            "steps": [{"name": "print", "machine_kind": "fdm_printer", "minutes_per_unit": "25.5",
                       "setup_minutes": 10, "material": "petg", "min_volume_mm": [120, 80, 40],
                       "setup_family": "petg"},
                      {"name": "deburr", "machine_kind": "fdm_printer", "minutes_per_unit": "3"}],
            "bom": [{"material": PETG, "quantity_per_unit": "50", "unit": "g", "step": 1}], **changes}
    return {name: value for name, value in body.items() if value is not MISSING}


def bracket_body(**changes) -> dict:
    """The works' bracket as it is, without its slug (a PUT's body)."""
    body = design_body(name="Bracket", licence="CC-BY-SA-4.0", source_url="https://example.org/bracket",
                       version="1.0", summary="", max_batch=10, slug=MISSING,
                       steps=[{"name": "print", "machine_kind": "fdm_printer", "minutes_per_unit": "45",
                               "setup_minutes": 10, "material": "petg", "setup_family": "petg"}],
                       bom=[{"material": PETG, "quantity_per_unit": "0.300", "unit": "kg"}])
    return {**body, **changes}


def test_steward_publishes_a_design_and_gets_it_as_the_catalogue_shows_it(client, works):
    response = call(client, "POST", "/api/v1/designs", works.steward, design_body())

    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/designs/hook"
    design = response.get_json()
    assert design == api_get(client, "/api/v1/designs/hook", works.mia).get_json()
    assert (design["name"], design["licence"], design["version"], design["max_batch"]) == (
        "Wall hook", "CC-BY-4.0", "2.1", 6)
    assert [(s["position"], s["name"], s["minutes_per_unit"]) for s in design["steps"]] == [
        (1, "print", "25.50"), (2, "deburr", "3.00")]
    assert design["steps"][0]["requirements"] == {"material": "petg", "min_volume_mm": [120, 80, 40],
                                                  "min_temperature_c": None}
    assert design["bom"] == [{"material": PETG, "quantity_per_unit": "50.000", "unit": "g", "step": 1}]
    assert design["makeable"] is True and design["steps"][0]["machines"] == ["printer-1"]
    conforms(client.get("/api/v1/openapi.json").get_json(), "/designs", "post", 201, design)


def test_admin_publishes_a_withdrawn_design_the_catalogue_leaves_out(client, works):
    response = call(client, "POST", "/api/v1/designs", works.admin, design_body(active=False))

    assert response.status_code == 201 and response.get_json()["active"] is False
    assert "hook" not in [d["slug"] for d in api_get(client, "/api/v1/designs", works.mia).get_json()["items"]]


@pytest.mark.parametrize(("payload", "field"), [
    ("[1]", "body"),
    ({"steps": "print"}, "steps"),
    ({"steps": [{"name": "print", "machine_kind": "fdm_printer", "minutes_per_unit": "5", "setup_minutes": "10"}]},
     "steps.1.setup_minutes"),
    ({"steps": [{"name": "print", "machine_kind": "fdm_printer", "minutes_per_unit": True}]},
     "steps.1.minutes_per_unit"),
    ({"bom": [{"material": PETG, "quantity_per_unit": "1", "unit": "g", "step": "1"}]}, "bom.1.step"),
    ({"bom": [{"material": PETG, "quantity_per_unit": "1"}]}, "bom.1.unit"),
    ({"max_batch": "6"}, "max_batch"),
    ({"slug": MISSING}, "slug"),
    ({"colour": "red"}, "colour"),
], ids=["array", "steps-not-array", "setup-string", "minutes-boolean", "step-string", "unit-missing",
        "max-batch-string", "slug-missing", "unknown-field"])
def test_malformed_design_is_400_naming_the_field(client, works, payload, field):
    body = payload if isinstance(payload, str) else json.dumps(design_body(**payload))

    response = client.post("/api/v1/designs", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {works.steward}"})

    assert_error(response, 400, "invalid_parameter", field=field)


def test_publishing_without_a_token_is_401(client, works):
    assert_error(call(client, "POST", "/api/v1/designs", None, design_body()), 401, "unauthorized")


def test_member_may_not_publish_nor_change_a_design(client, works):
    assert_error(call(client, "POST", "/api/v1/designs", works.mia, design_body()), 403, "forbidden")
    assert_error(call(client, "PUT", "/api/v1/designs/bracket", works.mia, bracket_body(name="Mine")), 403,
                 "forbidden")
    assert api_get(client, "/api/v1/designs/hook", works.mia).status_code == 404


def test_a_taken_slug_is_409(client, works):
    error = assert_error(call(client, "POST", "/api/v1/designs", works.steward, design_body(slug="bracket")), 409,
                         "conflict", field="slug")

    assert "already exists" in error["message"]


@pytest.mark.parametrize(("change", "field"), [
    ({"licence": "CC BY SA"}, "licence"),
    ({"source_url": "example.org/hook"}, "source_url"),
    ({"bom": [{"material": "unobtainium", "quantity_per_unit": "1", "unit": "g"}]}, "bom.material"),
    ({"bom": [{"material": PETG, "quantity_per_unit": "1", "unit": "ml"}]}, "bom.unit"),
    ({"bom": [{"material": PETG, "quantity_per_unit": "1", "unit": "g", "step": 3}]}, "bom.step"),
    ({"steps": [{"name": "print", "machine_kind": "fdm_printer", "minutes_per_unit": "5"},
                {"name": "deburr", "machine_kind": "fdm_printer", "minutes_per_unit": "1.255"}]},
     "steps.2.minutes_per_unit"),
    ({"steps": [{"name": "print", "machine_kind": "toaster", "minutes_per_unit": "5"}]}, "steps.1.machine_kind"),
    ({"steps": []}, "steps"),
], ids=["licence", "source", "unknown-material", "unit-of-another-kind", "no-such-step", "step-minutes",
        "machine-kind", "no-steps"])
def test_design_breaking_a_rule_is_422_naming_the_field_and_nothing_is_stored(client, works, change, field):
    response = call(client, "POST", "/api/v1/designs", works.steward, design_body(**change))

    assert_error(response, 422, field=field)
    conforms(client.get("/api/v1/openapi.json").get_json(), "/designs", "post", 422, response.get_json())
    assert api_get(client, "/api/v1/designs/hook", works.mia).status_code == 404


def test_steward_changes_the_routing_of_a_design_no_order_uses(client, works):
    steps = [{"name": "print", "machine_kind": "fdm_printer", "minutes_per_unit": "40", "material": "petg"}]

    response = call(client, "PUT", "/api/v1/designs/bracket", works.steward, bracket_body(steps=steps))

    assert response.status_code == 200
    assert [(s["name"], s["minutes_per_unit"], s["setup_minutes"]) for s in response.get_json()["steps"]] == [
        ("print", "40.00", 0)]
    assert response.get_json()["bom"][0]["quantity_per_unit"] == "0.300"


def test_changing_the_routing_of_an_ordered_design_is_409(client, works):
    place(client, works.mia)
    steps = [{"name": "print", "machine_kind": "fdm_printer", "minutes_per_unit": "30", "setup_minutes": 10,
              "material": "petg", "setup_family": "petg"}]

    response = call(client, "PUT", "/api/v1/designs/bracket", works.steward, bracket_body(steps=steps))

    error = assert_error(response, 409, "conflict", field="steps")
    assert "new design" in error["message"]
    assert api_get(client, "/api/v1/designs/bracket", works.mia).get_json()["steps"][0]["minutes_per_unit"] == "45.00"


def test_the_name_and_summary_of_an_ordered_design_may_change(client, works):
    place(client, works.mia)

    response = call(client, "PUT", "/api/v1/designs/bracket", works.admin,
                    bracket_body(name="Shelf bracket", summary="Holds a shelf."))

    assert response.status_code == 200
    conforms(client.get("/api/v1/openapi.json").get_json(), "/designs/{slug}", "put", 200, response.get_json())
    shown = api_get(client, "/api/v1/designs/bracket", works.mia).get_json()
    assert (shown["name"], shown["summary"], shown["steps"][0]["minutes_per_unit"]) == (
        "Shelf bracket", "Holds a shelf.", "45.00")


def test_changing_an_unknown_design_is_404_and_a_put_takes_no_slug(client, works):
    assert_error(call(client, "PUT", "/api/v1/designs/no-such", works.steward, bracket_body()), 404, "not_found")
    assert_error(call(client, "PUT", "/api/v1/designs/bracket", works.steward, bracket_body(slug="other")), 400,
                 "invalid_parameter", field="slug")
