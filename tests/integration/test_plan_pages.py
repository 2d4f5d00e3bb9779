"""The plan pages through Flask's test client, on a real database, with CSRF protection on: the site's Gantt
chart for stewards and members, asking for a new plan, the versions list, a machine's queue with its send-start
and pin forms, and each job's planned finish (or why not) on its order's page.

The works is tests/integration/production_api.make_works: printer-1 (FDM, pla and petg) at site north
(Europe/Berlin, open Mon-Fri 09:00-17:00), co-ops spokes (member mia) and gears (member gus), steward sam.
Charts are asked for 14 days, so a plan made on a Friday evening still shows its operations.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from sqlalchemy import select

from factory.domain.stock import Move
from factory.models import MachineCommand, Operation, PlanTrigger, PlanVersion, ProductionOrder, User, utcnow
from factory.services.machines import change_state
from factory.services.orders import OrderDraft, operations_of, place_order
from factory.services.planning import replan
from factory.services.stock import record_move
from tests.integration.booking_api import monday
from tests.integration.conftest import count, field_errors, logged_in, submit
from tests.integration.production_api import PETG, make_works, today

BERLIN = ZoneInfo("Europe/Berlin")
PLAN = "/plan?site=north&days=14"


@pytest.fixture
def works(session):
    return make_works(session)


def user(session, login: str) -> User:
    return session.scalars(select(User).where(User.login == login)).one()


def order(session, coop: str = "spokes", *, design: str = "bracket", quantity: int = 4, days: int = 30,
          login: str = "sam") -> ProductionOrder:
    return place_order(session, OrderDraft(design, coop, quantity, today() + timedelta(days=days)),
                       viewer=user(session, login), by=f"test:{login}")


def plan(session) -> PlanVersion:
    version = replan(session, by="test", kind="manual", time_limit_s=1.0)
    assert version.outcome == "published", version.reason
    return version


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def svg_of(html: str) -> str:
    return html.split("<svg", 1)[1].split("</svg>", 1)[0]


def first_operation(session, placed: ProductionOrder) -> Operation:
    session.expire_all()
    return operations_of(session.get(ProductionOrder, placed.id))[0]


# --- the site's plan -----------------------------------------------------------------------------------------

def test_steward_sees_the_orders_operations_on_the_chart_with_the_versions_summary_and_the_unplanned(
        session, client, works):
    bracket, short = order(session), order(session, "gears", quantity=10)  # 3 kg of PETG; 2 kg less 1.2 in stock
    version = plan(session)
    (unplanned,) = version.unplanned
    assert unplanned.operation.job.order_id == short.id and "waits for material" in unplanned.explanation
    logged_in(client, "sam")

    html = page(client, PLAN)

    chart = svg_of(html)
    assert f'data-order="{bracket.id}"' in chart and "Printer 1" in chart
    assert re.search(rf'<tr class="plan-operation"[^>]*data-order="{bracket.id}"', html)  # the table says it too
    assert f'data-version="{version.id}"' in html and version.solver_status in html
    listed = html.split('class="card unplanned"', 1)[1]
    assert f"#{short.id}" in listed and escape(unplanned.explanation) in listed
    assert "Plan again now" in html
    assert f"order placed: order {bracket.id}: 4 × Bracket" in html  # what triggered it, in its details


def test_member_sees_their_coops_operations_and_only_anonymous_blocks_of_another_coops(session, client, works):
    mine, theirs = order(session, "spokes"), order(session, "gears", quantity=2)  # 1.8 of the 2 kg of PETG
    order(session, "gears", quantity=10)  # more PETG than there is: not planned
    plan(session)
    logged_in(client, "mia")

    html = page(client, PLAN)

    chart = svg_of(html)
    assert f'data-order="{mine.id}"' in chart
    assert f'data-order="{theirs.id}"' not in chart and 'class="op other"' in chart
    assert "Gears" not in html  # neither on the chart, in the table nor in what is not planned
    assert f'href="/orders/{theirs.id}"' not in html and f"order {theirs.id}:" not in html  # nor what triggered it
    assert "1 operation of other co-ops is not planned either" in html
    assert "Plan again now" not in html


def test_page_before_any_plan_says_there_is_none(session, client, works):
    logged_in(client, "sam")

    html = page(client, PLAN)

    assert "No plan has been published yet." in html and "Nothing planned in these days." in html


def test_a_range_of_days_not_offered_is_refused(session, client, works):
    logged_in(client, "sam")

    assert "days is one of 1, 3, 7, 14" in page(client, "/plan?days=5", 400)


def test_plan_again_queues_a_manual_trigger_and_does_not_plan(session, client, works):
    order(session)
    logged_in(client, "sam")
    waiting_before = count(session, PlanTrigger)

    response = submit(client, "/plan/replan", {"site": "north"}, form_page=PLAN)

    assert response.status_code == 302 and response.headers["Location"].endswith("/plan?site=north")
    assert count(session, PlanVersion) == 0
    triggers = list(session.scalars(select(PlanTrigger).where(PlanTrigger.kind == "manual")))
    assert count(session, PlanTrigger) == waiting_before + 1
    assert [(t.version_id, t.detail) for t in triggers] == [(None, "asked by steward:sam: the plan page")]
    assert "Asked the planner for a new plan" in page(client, response.headers["Location"])


def test_a_member_may_not_ask_for_a_new_plan(session, client, works):
    logged_in(client, "mia")
    before = count(session, PlanTrigger)

    response = submit(client, "/plan/replan", {}, form_page=PLAN)

    assert response.status_code == 403
    assert count(session, PlanTrigger) == before


def test_versions_page_lists_each_run_with_outcome_triggers_and_solver_status(session, client, works):
    order(session)
    first = plan(session)
    second = plan(session)
    logged_in(client, "mia")

    html = page(client, "/plan/versions")

    rows = re.findall(r'<tr class="version outcome-(\w+)" data-version="(\d+)"', html)
    assert rows == [("published", str(second.id)), ("published", str(first.id))]
    assert "order placed" in html and second.solver_status in html and "(in force)" in html
    assert "what changed" not in html  # a member reads what kinds of change, not which orders or bookings


# --- a machine's queue ---------------------------------------------------------------------------------------

def test_queue_lists_the_machines_planned_operations_in_order_with_a_send_start_for_stewards(session, client, works):
    first, second = order(session), order(session, quantity=2)
    plan(session)
    logged_in(client, "sam")

    html = page(client, "/machines/printer-1/queue?days=14")

    listed = [int(n) for n in re.findall(r'<tr class="queued-operation[^"]*" data-operation="(\d+)"', html)]
    expected = sorted((first_operation(session, o) for o in (first, second)), key=lambda op: op.planned_start)
    assert listed == [op.id for op in expected]
    assert html.count("Send start") == 2 and "Recent commands" in html
    start = expected[0].planned_start.astimezone(BERLIN)
    assert f"{start:%a %d %b %H:%M %Z}" in html


def test_member_sees_no_other_coops_details_nor_steward_forms_on_a_queue(session, client, works):
    mine, theirs = order(session, "spokes"), order(session, "gears", quantity=2)
    plan(session)
    logged_in(client, "mia")

    html = page(client, "/machines/printer-1/queue?days=14")

    assert f'href="/orders/{mine.id}"' in html and f'href="/orders/{theirs.id}"' not in html
    assert "another co-op" in html and "Gears" not in html
    assert "Send start" not in html and "Recent commands" not in html
    assert submit(client, f"/machines/printer-1/queue/{first_operation(session, mine).id}/start", {},
                  form_page="/machines/printer-1/queue").status_code == 403


def test_send_start_refused_by_dispatch_is_shown_on_the_queue(session, client, works):
    placed = order(session)
    plan(session)
    change_state(session, "printer-1", "paused", by="test", reason="door open")
    operation = first_operation(session, placed)
    operation.planned_start = utcnow()  # due now, whatever the hour the test runs at: the machine's state refuses
    session.commit()
    logged_in(client, "sam")

    response = submit(client, f"/machines/printer-1/queue/{operation.id}/start", {},
                      form_page="/machines/printer-1/queue?days=14")

    assert response.status_code == 409
    assert "Printer 1 is paused; a job starts on an idle machine" in response.get_data(as_text=True)
    assert count(session, MachineCommand) == 0


def test_send_start_of_a_due_operation_queues_start_job_and_lists_the_command(session, client, works):
    placed = order(session)
    plan(session)
    operation = first_operation(session, placed)
    operation.planned_start = utcnow()  # due now, whatever the clock says about the opening hours
    session.commit()
    logged_in(client, "sam")

    response = submit(client, f"/machines/printer-1/queue/{operation.id}/start", {},
                      form_page="/machines/printer-1/queue?days=14")

    assert response.status_code == 302
    command = session.scalars(select(MachineCommand)).one()
    assert (command.command, command.job, command.status) == ("start_job", f"op-{operation.id}", "queued")
    html = page(client, "/machines/printer-1/queue")
    assert "start_job op-" in html and f'data-command="{command.command_id}"' in html


def last_sunday_of_march(year: int) -> date:
    last = date(year, 3, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def pin_form(operation_id: int, start: str, machine: str = "printer-1") -> dict:
    return {f"pin-{operation_id}-machine": machine, f"pin-{operation_id}-start": start}


def test_pin_form_refuses_a_wall_time_the_clocks_skip_on_its_field(session, client, works):
    placed = order(session)
    plan(session)
    op_id = first_operation(session, placed).id
    logged_in(client, "sam")
    spring = last_sunday_of_march(today().year + 1)  # Berlin's clocks skip 02:00-03:00 that night

    response = submit(client, f"/machines/printer-1/queue/{op_id}/pin", pin_form(op_id, f"{spring}T02:30"),
                      form_page="/machines/printer-1/queue?days=14")

    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True))
    assert "does not exist in Europe/Berlin" in errors[f"pin-{op_id}-start"][0]
    assert first_operation(session, placed).pinned_start is None


def test_pin_form_shows_the_services_refusal_on_its_field(session, client, works):
    placed = order(session)
    plan(session)
    op_id = first_operation(session, placed).id
    logged_in(client, "sam")
    past = (datetime.now(BERLIN) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = submit(client, f"/machines/printer-1/queue/{op_id}/pin", pin_form(op_id, past),
                      form_page="/machines/printer-1/queue?days=14")

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True)) == {f"pin-{op_id}-start": ["a pin starts in the future"]}


def test_pin_and_unpin_from_the_queue_read_the_time_on_the_sites_clock(session, client, works):
    placed = order(session)
    plan(session)
    op_id = first_operation(session, placed).id
    logged_in(client, "sam")
    start = monday(10)  # 10:00 Berlin time on a Monday a week or two ahead

    response = submit(client, f"/machines/printer-1/queue/{op_id}/pin",
                      pin_form(op_id, f"{start.astimezone(BERLIN):%Y-%m-%dT%H:%M}"),
                      form_page="/machines/printer-1/queue?days=14")

    assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    pinned = first_operation(session, placed)
    assert (pinned.pinned_machine_id, pinned.pinned_start) == ("printer-1", start)
    assert session.scalars(select(PlanTrigger.kind).where(PlanTrigger.version_id.is_(None))).all() == ["pin"]

    plan(session)
    assert "Pin (pinned)" in page(client, "/machines/printer-1/queue?days=14")
    response = submit(client, f"/machines/printer-1/queue/{op_id}/unpin", {},
                      form_page="/machines/printer-1/queue?days=14")
    assert response.status_code == 302
    assert first_operation(session, placed).pinned_start is None


# --- the order page ------------------------------------------------------------------------------------------

def test_order_page_shows_each_jobs_planned_finish_in_site_time(session, client, works):
    placed = order(session)
    plan(session)
    finish = first_operation(session, placed).planned_end.astimezone(BERLIN)
    logged_in(client, "mia")

    html = page(client, f"/orders/{placed.id}")

    outlook = html.split('class="job-outlook', 1)[1].split("</p>", 1)[0]
    assert "Planned finish:" in outlook and f"{finish:%Y-%m-%d %H:%M %Z}" in outlook


def test_order_page_says_in_plain_words_why_a_job_is_not_planned(session, client, works):
    short = order(session, "gears", quantity=10)  # 3 kg of PETG, 2 kg in stock and none on order
    (unplanned,) = plan(session).unplanned
    logged_in(client, "gus")

    html = page(client, f"/orders/{short.id}")

    outlook = html.split('class="job-outlook', 1)[1].split("</p>", 1)[0]
    assert "Not planned:" in outlook and escape(unplanned.explanation) in outlook
    assert "waits for material" in outlook


def test_order_page_says_by_how_much_and_why_a_job_is_late(session, client, works):
    record_move(session, PETG, "north", Move("received", Decimal("20")), by="steward:sam")
    rush = order(session, quantity=30, days=1)  # three jobs of ten, 7.7 hours each, needed by tomorrow
    version = plan(session)
    assert any(a.late_minutes > 0 for a in version.assignments)
    logged_in(client, "mia")

    html = page(client, f"/orders/{rush.id}")

    assert "late:" in html and "after it is needed" in html
    assert "outlook-late" in html
