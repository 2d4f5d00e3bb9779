"""A steward orders spur gears and bottle-cage risers in a real browser, a plan is published, and the site's
Gantt chart shows the orders' operations on the machines the planner chose.

The test has its own live server on a fresh demo commune (the shared one belongs to the other journeys, and
this one needs the database too, to run the planner as the planner worker would).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from factory.models import ProductionOrder
from factory.seed import seed_demo_commune
from factory.services.orders import operations_of
from factory.services.planning import replan
from tests.e2e.conftest import DESKTOP, TIMEOUT_MS, app_served
from tests.e2e.test_journeys import log_in


@pytest.fixture(scope="module")
def plan_server(tmp_path_factory) -> Iterator[SimpleNamespace]:
    with app_served(tmp_path_factory.mktemp("e2e-plan"), "plan", seed_demo_commune) as served:
        yield served


@pytest.fixture
def plan_page(plan_server, browser) -> Iterator[Page]:
    context = browser.new_context(base_url=plan_server.url, viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def place_order(page: Page, design: str, quantity: int, coop: str = "spokes") -> int:
    page.goto(f"/orders/new?design={design}")
    page.get_by_label("Co-op", exact=True).select_option(coop)
    page.get_by_label("Quantity (pieces)").fill(str(quantity))
    page.get_by_label("Needed by").fill((date.today() + timedelta(days=20)).isoformat())
    page.get_by_role("button", name="Place the order").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    return int(re.search(r"/orders/(\d+)$", page.url).group(1))


def planned_sites(session: Session, order_id: int) -> set[str]:
    return {op.machine.site.slug for op in operations_of(session.get(ProductionOrder, order_id))
            if op.planned_start is not None}


def test_steward_orders_and_sees_the_orders_operations_on_the_plans_gantt_chart(plan_server, plan_page,
                                                                                  screenshot):
    page = plan_page
    log_in(page, "steward")
    gears = place_order(page, "spur-gear-m1-36", 4)
    risers = place_order(page, "bottle-cage-riser", 3)
    expect(page.locator(".job-outlook")).to_contain_text("Not in a plan yet")

    with plan_server.sessions() as session:
        version = replan(session, by="test", kind="manual", time_limit_s=1.0)
        assert version.outcome == "published", version.reason
        sites = {order: planned_sites(session, order) for order in (gears, risers)}
    assert all(sites.values()), f"an order was left out of the plan: {sites}"

    for order, order_sites in sites.items():
        page.goto(f"/plan?site={sorted(order_sites)[0]}&days=14")
        bars = page.locator(f'svg.gantt a.op[data-order="{order}"]')
        expect(bars.first).to_be_attached()
        assert f"Order #{order}" in bars.first.locator("title").text_content()
        expect(page.locator(f'table.plan-operations tr[data-order="{order}"]').first).to_be_visible()

    page.goto(f"/orders/{gears}")
    expect(page.locator(".job-outlook .planned-finish")).to_be_visible()
    page.goto(f"/plan?site={sorted(sites[gears])[0]}")
    expect(page.locator("svg.gantt")).to_be_visible()
    screenshot(page, "plan-gantt")
