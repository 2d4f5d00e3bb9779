"""/api/v1/plan: stewards re-plan now and get the published version, whose placements keep off bookings and
maintenance and keep pinned operations at their pins; members read only their co-op's part of the plan; the
versions list pages newest first; pins and starts are checked field by field. The works (printer-1 at north,
PETG for 6 brackets): tests/integration/production_api.py. The solver gets one second (PLAN_SECONDS).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from factory.models import MachineCommand, Operation, PlanVersion, utcnow
from tests.integration.booking_api import book, call, conforms, monday, ts
from tests.integration.conftest import api_get, assert_error, count, make_machine, sqlite_only
from tests.integration.production_api import make_works, place


@pytest.fixture
def works(app, session):
    app.config["PLAN_SECONDS"] = 1.0
    return make_works(session)


def replan(client, token: str, body=None) -> dict:
    response = call(client, "POST", "/api/v1/plan", token, body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def operation_id(order: dict) -> int:
    return order["jobs"][0]["operations"][0]["id"]


def span(item: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def soon(minutes: int = 2) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def pin(client, token: str, operation: int, start: datetime, machine: str = "printer-1"):
    return call(client, "POST", f"/api/v1/operations/{operation}/pin", token, {"machine": machine, "start": ts(start)})


def both_running_on_printer_1(session, *operations: int) -> None:
    """Two operations started at once on one printer (by hand, past the plan): no plan can keep both."""
    session.execute(update(Operation).where(Operation.id.in_(operations))
                    .values(status="running", machine_id="printer-1", started_at=utcnow()))
    session.commit()


# --- the plan in force ---------------------------------------------------------------------------------

def test_plan_before_any_was_published_is_404_saying_how_to_get_one(client, works):
    error = assert_error(api_get(client, "/api/v1/plan", works.mia), 404, "not_found")

    assert "POST /api/v1/plan" in error["message"]


def test_replan_places_every_placeable_operation_around_maintenance_and_bookings(client, works, session):
    first, second = place(client, works.mia, quantity=4), place(client, works.gus, coop="gears", quantity=2)
    short = place(client, works.mia, quantity=10)  # 3 kg of PETG; what is left of 2 kg is not enough
    down_from = soon()
    maintenance = call(client, "POST", "/api/v1/maintenance", works.steward, {
        "machine": "printer-1", "starts_at": ts(down_from), "ends_at": ts(monday(10)), "purpose": "new hotend"})
    assert maintenance.status_code == 201, maintenance.get_json()
    booked = book(client, works.steward, monday(10), monday(12))
    held = [(down_from, monday(10)), (datetime.fromisoformat(booked["starts_at"]),
                                      datetime.fromisoformat(booked["ends_at"]))]

    version = replan(client, works.steward, {"note": "first plan"})

    assert (version["outcome"], version["reason"], version["based_on"]) == ("published", "", None)
    assert version["solver_status"] in ("optimal", "feasible")
    assert [(t["kind"], t["detail"]) for t in version["triggers"]][-1] == ("manual", "first plan")
    assert version["requested_by"] == "steward:sam"
    assert {a["operation_id"] for a in version["assignments"]} == {operation_id(first), operation_id(second)}
    for assignment in version["assignments"]:
        assert assignment["machine"] == "printer-1"
        assert not any(overlaps(span(assignment), window) for window in held), assignment
    assert not overlaps(span(version["assignments"][0]), span(version["assignments"][1]))
    [unplanned] = version["unplanned"]
    assert (unplanned["operation_id"], unplanned["order_id"], unplanned["reason"]) == (
        operation_id(short), short["id"], "waiting_for_material")
    assert unplanned["explanation"]
    assert api_get(client, "/api/v1/plan", works.gus).status_code == 200
    assert api_get(client, "/api/v1/plan", works.steward).get_json() == version


def test_assignment_names_its_order_job_step_and_coop(client, works):
    order = place(client, works.mia, quantity=2)

    [assignment] = replan(client, works.admin)["assignments"]

    assert (assignment["operation_id"], assignment["order_id"], assignment["step"]) == (
        operation_id(order), order["id"], "print")
    assert isinstance(assignment["job_id"], int)
    assert assignment["coop"] == {"slug": "spokes", "name": "Spokes Co-op"}
    assert (assignment["fixed"], assignment["moved"], assignment["late_minutes"]) == (None, False, 0)
    start, end = span(assignment)
    assert end - start == timedelta(minutes=10 + 45 * 2)
    assert api_get(client, f"/api/v1/orders/{order['id']}", works.mia).get_json()["status"] == "planned"


def test_second_replan_keeps_a_pinned_operation_at_its_pin_and_counts_it_moved(client, works):
    ours, theirs = place(client, works.mia, quantity=4), place(client, works.gus, coop="gears", quantity=2)
    first = replan(client, works.steward)
    pinned_at = monday(13)
    response = pin(client, works.steward, operation_id(ours), pinned_at)
    assert response.status_code == 200, response.get_json()

    second = replan(client, works.steward)

    assert second["based_on"] == first["id"]
    assert [t["kind"] for t in second["triggers"]] == ["pin", "manual"]
    placed = {a["operation_id"]: a for a in second["assignments"]}
    assert set(placed) == {operation_id(ours), operation_id(theirs)}
    kept = placed[operation_id(ours)]
    assert (kept["machine"], span(kept)[0], kept["fixed"], kept["moved"]) == ("printer-1", pinned_at, "pinned", True)
    assert second["moved"] == sum(a["moved"] for a in second["assignments"]) >= 1


def test_unpinned_operation_is_planned_freely_again(client, works):
    order = place(client, works.mia, quantity=2)
    replan(client, works.steward)
    pin(client, works.steward, operation_id(order), monday(13))
    assert replan(client, works.steward)["assignments"][0]["fixed"] == "pinned"

    response = call(client, "DELETE", f"/api/v1/operations/{operation_id(order)}/pin", works.steward)

    assert response.status_code == 200
    assert (response.get_json()["machine"], response.get_json()["start"]) == (None, None)
    assert replan(client, works.steward)["assignments"][0]["fixed"] is None


def test_replan_that_cannot_be_published_is_409_naming_the_stored_version(client, works, session):
    ours, theirs = place(client, works.mia, quantity=4), place(client, works.gus, coop="gears", quantity=2)
    in_force = replan(client, works.steward)
    both_running_on_printer_1(session, operation_id(ours), operation_id(theirs))

    error = assert_error(call(client, "POST", "/api/v1/plan", works.steward), 409, "plan_not_published")

    version = session.get(PlanVersion, error["version_id"])
    assert version.outcome == "failed" and error["message"] == version.reason
    assert api_get(client, "/api/v1/plan", works.steward).get_json()["id"] == in_force["id"]
    detail = api_get(client, f"/api/v1/plan/versions/{error['version_id']}", works.steward).get_json()
    assert (detail["outcome"], detail["reason"], detail["assignments"]) == ("failed", version.reason, [])


# --- who may see and do what ---------------------------------------------------------------------------

def test_member_sees_only_their_coops_assignments_and_unplanned_operations(client, works):
    ours, theirs = place(client, works.mia, quantity=2), place(client, works.gus, coop="gears", quantity=2)
    ours_short = place(client, works.mia, quantity=10)
    version = replan(client, works.steward)
    assert len(version["assignments"]) == 2 and len(version["unplanned"]) == 1

    mine = api_get(client, "/api/v1/plan", works.mia).get_json()
    gears = api_get(client, f"/api/v1/plan/versions/{version['id']}", works.gus).get_json()

    assert [a["operation_id"] for a in mine["assignments"]] == [operation_id(ours)]
    assert [u["operation_id"] for u in mine["unplanned"]] == [operation_id(ours_short)]
    assert [a["operation_id"] for a in gears["assignments"]] == [operation_id(theirs)] and gears["unplanned"] == []
    assert {a["coop"]["slug"] for a in mine["assignments"]} == {"spokes"}
    assert_error(api_get(client, f"/api/v1/plan?order={theirs['id']}", works.mia), 404, "not_found", field="order")


def test_member_may_neither_replan_nor_pin_nor_start(client, works, session):
    order = place(client, works.mia, quantity=2)
    replan(client, works.steward)
    path = f"/api/v1/operations/{operation_id(order)}"

    assert_error(call(client, "POST", "/api/v1/plan", works.mia), 403, "forbidden")
    assert_error(pin(client, works.mia, operation_id(order), monday(13)), 403, "forbidden")
    assert_error(call(client, "DELETE", f"{path}/pin", works.mia), 403, "forbidden")
    assert_error(call(client, "POST", f"{path}/start", works.mia), 403, "forbidden")
    assert count(session, PlanVersion) == 1 and count(session, MachineCommand) == 0


@sqlite_only
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/plan"), ("POST", "/api/v1/plan"), ("GET", "/api/v1/plan/versions"),
    ("GET", "/api/v1/plan/versions/1"), ("POST", "/api/v1/operations/1/pin"), ("DELETE", "/api/v1/operations/1/pin"),
    ("POST", "/api/v1/operations/1/start")])
def test_plan_endpoints_without_a_token_are_401(client, works, method, path):
    assert_error(call(client, method, path), 401, "unauthorized")


# --- filters, bodies and ids ---------------------------------------------------------------------------

def test_plan_filtered_by_site_machine_and_order(client, works, session):
    make_machine(session, id="printer-2", name="Printer 2", state="idle")
    orders = [place(client, works.mia, quantity=2), place(client, works.gus, coop="gears", quantity=2),
              place(client, works.mia, quantity=2)]
    version = replan(client, works.steward)
    on = {a["operation_id"]: a["machine"] for a in version["assignments"]}
    assert len(on) == 3

    def ids(query: str, token: str = works.steward) -> set[int]:
        return {a["operation_id"] for a in api_get(client, f"/api/v1/plan?{query}", token).get_json()["assignments"]}

    assert ids("machine=printer-2") == {op for op, machine in on.items() if machine == "printer-2"}
    assert ids("site=north") == set(on) and ids("site=south") == set()
    assert ids(f"order={orders[1]['id']}") == {operation_id(orders[1])}
    assert ids(f"site=north&order={orders[2]['id']}", works.mia) == {operation_id(orders[2])}


@sqlite_only
@pytest.mark.parametrize(("query", "status", "field"), [
    ("site=nowhere", 404, "site"), ("machine=printer-9", 404, "machine"), ("order=999", 404, "order"),
    ("order=abc", 400, "order"), ("colour=red", 400, "colour"), ("site=north&site=south", 400, "site")],
    ids=["unknown-site", "unknown-machine", "unknown-order", "order-not-a-number", "unknown-filter", "twice"])
def test_bad_plan_filter_is_refused_naming_it(client, works, query, status, field):
    replan(client, works.steward)

    assert_error(api_get(client, f"/api/v1/plan?{query}", works.steward), status, field=field)


@sqlite_only
@pytest.mark.parametrize(("payload", "status", "field"), [
    ("[1]", 400, "body"), ("not json", 400, "body"), ('{"note": 3}', 400, "note"), ('{"colour": "red"}', 400, "colour"),
    (json.dumps({"note": "x" * 301}), 422, "note")],
    ids=["array", "not-json", "note-not-a-string", "unknown-field", "note-too-long"])
def test_malformed_replan_body_is_refused_and_plans_nothing(client, works, session, payload, status, field):
    response = client.post("/api/v1/plan", data=payload, content_type="application/json",
                           headers={"Authorization": f"Bearer {works.steward}"})

    assert_error(response, status, field=field)
    assert count(session, PlanVersion) == 0


@sqlite_only
def test_replan_without_a_body_is_fine(client, works):
    response = client.post("/api/v1/plan", headers={"Authorization": f"Bearer {works.steward}"})

    assert response.status_code == 201
    last = response.get_json()["triggers"][-1]
    assert (last["kind"], last["detail"]) == ("manual", "")


@sqlite_only
@pytest.mark.parametrize("version_id", ["999", "abc", "0", "4294967296", "99999999999999"],
                         ids=["unknown", "not-a-number", "zero", "past-32-bits", "huge"])
def test_unknown_plan_version_is_404(client, works, version_id):
    replan(client, works.steward)

    assert_error(api_get(client, f"/api/v1/plan/versions/{version_id}", works.steward), 404, "not_found")


# --- versions ------------------------------------------------------------------------------------------

def test_versions_are_listed_newest_first_with_counts_and_paged_by_before(client, works):
    place(client, works.mia, quantity=2)
    place(client, works.mia, quantity=10)
    made = [replan(client, works.steward)["id"] for _ in range(3)]

    page = api_get(client, "/api/v1/plan/versions?limit=2", works.mia).get_json()
    rest = api_get(client, f"/api/v1/plan/versions?limit=2&before={page['next_before']}", works.mia).get_json()

    assert [v["id"] for v in page["items"]] == made[:0:-1] and page["count"] == 2
    assert page["next_before"] == made[1]
    assert [v["id"] for v in rest["items"]] == made[:1] and rest["next_before"] is None
    newest = page["items"][0]
    assert (newest["outcome"], newest["reason"], newest["counts"]) == ("published", "", {"assigned": 1, "unplanned": 1})
    assert "assignments" not in newest
    everything = api_get(client, "/api/v1/plan/versions", works.steward).get_json()
    assert [v["id"] for v in everything["items"]] == made[::-1] and everything["next_before"] is None


@sqlite_only
@pytest.mark.parametrize(("query", "field"), [
    ("limit=0", "limit"), ("limit=101", "limit"), ("limit=two", "limit"), ("before=abc", "before"),
    ("before=99999999999", "before"), ("page=2", "page")])
def test_bad_versions_paging_is_400_naming_it(client, works, query, field):
    assert_error(api_get(client, f"/api/v1/plan/versions?{query}", works.steward), 400, "invalid_parameter",
                 field=field)


# --- pins ----------------------------------------------------------------------------------------------

def test_pin_answers_the_operations_pin(client, works):
    order = place(client, works.mia, quantity=2)

    response = pin(client, works.steward, operation_id(order), monday(13))

    assert response.status_code == 200
    assert response.get_json() == {"operation_id": operation_id(order), "order_id": order["id"],
                                   "job_id": response.get_json()["job_id"], "step": "print", "status": "waiting",
                                   "machine": "printer-1", "start": ts(monday(13))}


@sqlite_only
@pytest.mark.parametrize(("body", "status", "field"), [
    ({"start": "MONDAY"}, 400, "machine"), ({"machine": "printer-1"}, 400, "start"),
    ({"machine": 7, "start": "MONDAY"}, 400, "machine"),
    ({"machine": "printer-1", "start": "2030-01-07T13:00:00"}, 400, "start"),
    ({"machine": "printer-1", "start": "next monday"}, 400, "start"),
    ({"machine": "printer-1", "start": "MONDAY", "until": "MONDAY"}, 400, "until"),
    ({"machine": "printer-9", "start": "MONDAY"}, 422, "machine"),
    ({"machine": "printer-1", "start": "2020-01-06T13:00:00Z"}, 422, "start"),
    ({"machine": "printer-1", "start": "IN_A_MONTH"}, 422, "start"),
    ({"machine": "printer-1", "start": "BOOKED"}, 409, "start"),
], ids=["no-machine", "no-start", "machine-not-a-string", "no-offset", "not-a-time", "unknown-field",
        "unknown-machine", "in-the-past", "beyond-the-horizon", "over-a-booking"])
def test_bad_pin_is_refused_naming_the_field(client, works, session, body, status, field):
    order = place(client, works.mia, quantity=2)
    book(client, works.steward, monday(10), monday(12))
    times = {"MONDAY": ts(monday(13)), "BOOKED": ts(monday(11)), "IN_A_MONTH": ts(monday(13, weeks=3))}
    body = {name: times.get(value, value) for name, value in body.items()}

    response = call(client, "POST", f"/api/v1/operations/{operation_id(order)}/pin", works.steward, body)

    assert_error(response, status, field=field)
    assert session.get(Operation, operation_id(order)).pinned_start is None


def test_running_operation_cannot_be_pinned(client, works, session):
    order = place(client, works.mia, quantity=2)
    replan(client, works.steward)
    session.execute(update(Operation).where(Operation.id == operation_id(order)).values(status="running"))
    session.commit()

    assert_error(pin(client, works.steward, operation_id(order), monday(13)), 409, field="status")


@sqlite_only
@pytest.mark.parametrize("operation", ["999", "abc", "99999999999"], ids=["unknown", "not-a-number", "huge"])
def test_pin_unpin_and_start_of_an_unknown_operation_are_404(client, works, operation):
    path = f"/api/v1/operations/{operation}"

    assert_error(call(client, "POST", f"{path}/pin", works.steward, {"machine": "printer-1",
                                                                    "start": ts(monday(13))}), 404, "not_found")
    assert_error(call(client, "DELETE", f"{path}/pin", works.steward), 404, "not_found")
    assert_error(call(client, "POST", f"{path}/start", works.steward), 404, "not_found")


# --- starting an operation -----------------------------------------------------------------------------

def test_start_of_an_operation_not_due_yet_is_409_and_queues_nothing(client, works, session):
    order = place(client, works.mia, quantity=2)
    pin(client, works.steward, operation_id(order), monday(13))
    replan(client, works.steward)

    error = assert_error(call(client, "POST", f"/api/v1/operations/{operation_id(order)}/start", works.steward),
                         409, field="status")

    assert "planned for" in error["message"] and count(session, MachineCommand) == 0


def test_start_of_a_due_operation_queues_start_job_for_its_machine_once(client, works, session):
    order = place(client, works.mia, quantity=2)
    replan(client, works.steward)
    due = operation_id(order)
    session.execute(update(Operation).where(Operation.id == due).values(planned_start=utcnow()))  # its time came
    session.commit()
    path = f"/api/v1/operations/{due}/start"

    response = call(client, "POST", path, works.steward)

    assert response.status_code == 202
    command = response.get_json()
    assert (command["machine"], command["command"], command["job"], command["status"], command["operation_id"]) == (
        "printer-1", "start_job", f"op-{due}", "queued", due)
    assert command["command_id"] and command["id"] == session.get(MachineCommand, command["id"]).id
    assert_error(call(client, "POST", path, works.steward), 409, field="status")
    assert count(session, MachineCommand) == 1


# --- the documented shapes -----------------------------------------------------------------------------

@sqlite_only
def test_plan_answers_match_the_openapi_schemas(client, works, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    conforms(spec, "/plan", "get", 404, api_get(client, "/api/v1/plan", works.mia).get_json())
    ours, theirs = place(client, works.mia, quantity=4), place(client, works.gus, coop="gears", quantity=2)
    short = place(client, works.mia, quantity=10)
    version = replan(client, works.steward, {"note": "shapes"})
    pinned = pin(client, works.steward, operation_id(ours), monday(13))

    conforms(spec, "/plan", "post", 201, version)
    conforms(spec, "/plan", "post", 403, call(client, "POST", "/api/v1/plan", works.mia).get_json())
    conforms(spec, "/plan", "get", 200, api_get(client, "/api/v1/plan", works.mia).get_json())
    conforms(spec, "/plan/versions", "get", 200, api_get(client, "/api/v1/plan/versions", works.gus).get_json())
    conforms(spec, "/plan/versions/{version_id}", "get", 200,
             api_get(client, f"/api/v1/plan/versions/{version['id']}", works.gus).get_json())
    conforms(spec, "/plan/versions/{version_id}", "get", 404,
             api_get(client, "/api/v1/plan/versions/999", works.gus).get_json())
    conforms(spec, "/operations/{operation_id}/pin", "post", 200, pinned.get_json())
    conforms(spec, "/operations/{operation_id}/pin", "post", 422,
             pin(client, works.steward, operation_id(theirs), monday(13), machine="printer-9").get_json())
    conforms(spec, "/operations/{operation_id}/pin", "delete", 200,
             call(client, "DELETE", f"/api/v1/operations/{operation_id(ours)}/pin", works.steward).get_json())
    conforms(spec, "/operations/{operation_id}/start", "post", 409,
             call(client, "POST", f"/api/v1/operations/{operation_id(short)}/start", works.steward).get_json())
    session.execute(update(Operation).where(Operation.id == operation_id(theirs)).values(planned_start=utcnow()))
    session.commit()
    conforms(spec, "/operations/{operation_id}/start", "post", 202,
             call(client, "POST", f"/api/v1/operations/{operation_id(theirs)}/start", works.steward).get_json())
    both_running_on_printer_1(session, operation_id(ours), operation_id(short))
    conforms(spec, "/plan", "post", 409, call(client, "POST", "/api/v1/plan", works.steward).get_json())
