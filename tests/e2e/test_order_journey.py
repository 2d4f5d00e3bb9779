"""A member orders mugs in a real browser and sees the order's jobs; a steward plans it and sees the stock it
reserves on the inventory page.

Runs against the demo commune: its mug takes 450 g of stoneware clay and 60 ml of glaze, 8 to a job.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect

from tests.e2e.test_journeys import log_in

MUGS = 20
CLAY_PER_MUG, GLAZE_PER_MUG = Decimal("0.45"), Decimal("0.06")  # kg and l, the materials' own units


def reserved_at_leipzig(page: Page, material: str) -> Decimal:
    page.goto("/inventory")
    cell = page.locator(f"section[data-site=leipzig] tr[data-material={material}] td.reserved")
    amount, _unit = cell.inner_text().split()
    return Decimal(amount.replace(",", ""))


def test_member_orders_mugs_and_the_steward_plans_them_reserving_clay_and_glaze(page, screenshot):
    log_in(page, "member")
    page.goto("/designs/stoneware-mug")
    page.get_by_role("link", name="Order this").click()
    expect(page.get_by_label("Design", exact=True)).to_have_value("stoneware-mug")
    page.get_by_label("Quantity (pieces)").fill(str(MUGS))
    page.get_by_label("Needed by").fill((date.today() + timedelta(days=30)).isoformat())
    page.get_by_label("Priority").select_option("high")
    page.get_by_role("button", name="Place the order").click()

    expect(page).to_have_url(re.compile(r"/orders/\d+$"))
    order_path = re.search(r"/orders/\d+$", page.url).group(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{MUGS} × Stoneware mug")
    expect(page.locator("h3.job-heading")).to_have_text(["Job 1 · 7 pieces", "Job 2 · 7 pieces",
                                                         "Job 3 · 6 pieces"])
    expect(page.locator("tr.operation")).to_have_count(6)
    expect(page.get_by_text("0 of 6 operations done")).to_be_visible()
    screenshot(page, "order-page")
    page.get_by_role("button", name="Log out").click()

    log_in(page, "steward")
    clay, glaze = reserved_at_leipzig(page, "stoneware-clay"), reserved_at_leipzig(page, "glaze")
    page.goto(order_path)
    page.get_by_label("Reserve at").select_option("leipzig")
    page.get_by_role("button", name="Plan and reserve materials").click()

    expect(page.locator("p.flash")).to_contain_text("materials of every operation are reserved")
    expect(page.locator("h1 .order-status")).to_have_text("planned")
    assert reserved_at_leipzig(page, "stoneware-clay") == clay + MUGS * CLAY_PER_MUG
    assert reserved_at_leipzig(page, "glaze") == glaze + MUGS * GLAZE_PER_MUG
    screenshot(page, "inventory")
