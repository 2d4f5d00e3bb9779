"""A steward books machine time in a real browser, sees it on the site's week timeline, and on a second try
at the same slot gets a clear conflict with free slots that fill the form in.

Runs against the demo commune; it books the Tormach mill on the Wednesday two weeks ahead, which the demo's
own bookings leave free.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.e2e.test_journeys import log_in

LEIPZIG = ZoneInfo("Europe/Berlin")
MACHINE = "tormach-1100"


def wednesday_after_next() -> date:
    today = datetime.now(LEIPZIG).date()
    return today + timedelta(days=14 + (2 - today.weekday()) % 7)


def fill_booking(page: Page, coop: str, day: date, start: str, end: str, purpose: str) -> None:
    page.goto(f"/bookings/new?machine={MACHINE}")
    page.get_by_label("Machine", exact=True).select_option(MACHINE)
    page.get_by_label("Co-op", exact=True).select_option(coop)
    page.get_by_label("Start", exact=True).fill(f"{day.isoformat()}T{start}")
    page.get_by_label("End", exact=True).fill(f"{day.isoformat()}T{end}")
    page.get_by_label("Purpose", exact=True).fill(purpose)
    page.get_by_role("button", name="Book", exact=True).click()


def test_steward_books_a_slot_sees_it_on_the_timeline_and_gets_suggestions_on_a_second_try(page, screenshot):
    day = wednesday_after_next()
    log_in(page, "steward")

    fill_booking(page, "spokes", day, "10:00", "12:00", "Chainstay yokes, e2e")

    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    booking_path = re.search(r"/bookings/\d+$", page.url).group(0)
    expect(page.get_by_text("Chainstay yokes, e2e")).to_be_visible()
    iso_year, iso_week, _ = day.isocalendar()
    page.goto(f"/calendar?site=leipzig&week={iso_year}-W{iso_week:02d}")
    bar = page.locator(f'svg a.bar.booking[href="{booking_path}"]')
    expect(bar).to_have_count(1)
    expect(bar.locator("title")).to_contain_text("10:00")
    screenshot(page, "calendar-week")

    fill_booking(page, "clayworks", day, "11:00", "12:00", "Second try at the same time")

    conflict = page.locator(".conflict[role=alert]")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("Tormach mill is not free then")
    expect(conflict).to_contain_text("Spokes Bicycle Co-op")
    slots = conflict.locator("a.slot")
    expect(slots.first).to_be_visible()
    first = slots.first.inner_text()
    assert "Tormach mill" in first and "12:00" in first, first  # the first free hour is right after the booking
    screenshot(page, "booking-conflict")

    slots.first.click()

    expect(page.get_by_label("Start", exact=True)).to_have_value(f"{day.isoformat()}T12:00")
    expect(page.get_by_label("End", exact=True)).to_have_value(f"{day.isoformat()}T13:00")
    expect(page.get_by_label("Co-op", exact=True)).to_have_value("clayworks")
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))
    assert page.url.rsplit("/", 1)[-1] != booking_path.rsplit("/", 1)[-1]
