"""An admin closes last month in a real browser, with bookings in it, and a member then finds their dividend on
the commune's statement (docs/screenshots/ledger-statement.png).

The test has its own live server on a fresh commune built with the services (the demo commune belongs to the
other journeys, and its books would change under them when a month closes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from factory.domain.capabilities import Capabilities
from factory.domain.opening_hours import parse_day
from factory.models import Member
from factory.services.bookings import BookingDraft, create_booking
from factory.services.coops import CoopDraft, add_member, create_coop
from factory.services.finance import set_rate
from factory.services.ledger import books_zone, month_of, shift_month
from factory.services.machines import MachineDraft, change_state, create_machine
from factory.services.sites import SiteDraft, create_site, ensure_commune
from factory.services.users import UserDraft, create_user
from tests.e2e.conftest import DESKTOP, TIMEOUT_MS, app_served

PASSWORD = "ledger-journey-pass"
OPEN_ALL_DAY = {day: parse_day("00:00-24:00", field="hours") for day in range(7)}


def build_books(session) -> str:
    """Site north (Berlin), a printer at €12.00 an hour, co-ops spokes and gears with four members since long
    ago (Mia Spokes among them), admin ada and member mia; last month spokes booked 3 h and gears 2 h.
    Returns last month (YYYY-MM)."""
    ensure_commune(session, "Ledger Commune")
    create_site(session, SiteDraft("north", "North Works", "Europe/Berlin", OPEN_ALL_DAY))
    create_machine(session, MachineDraft(id="printer-1", name="Printer 1", kind="fdm_printer", site="north",
                                         capabilities=Capabilities(250, 210, 220, ("pla",), 290),
                                         acquisition_cost=Decimal("1099.00")), by="test")
    change_state(session, "printer-1", "idle", by="test", reason="set up by the test")
    set_rate(session, "printer-1", "12.00", 5)
    for slug in ("spokes", "gears"):
        create_coop(session, CoopDraft(slug, f"{slug.capitalize()} Co-op"))
    for name, coop in (("Mia Spokes", "spokes"), ("Sol Spokes", "spokes"), ("Gina Gears", "gears"),
                       ("Gus Gears", "gears")):
        add_member(session, name, f"{name.split()[0].lower()}@example.org", coop)
    last_month = shift_month(month_of(session, datetime.now(UTC)), -1)
    start = datetime(int(last_month[:4]), int(last_month[5:]), 12, 8, 0, tzinfo=UTC)
    session.execute(update(Member).values(joined_at=start - timedelta(days=60)))
    session.commit()
    for coop, begins, hours in (("spokes", start, 3), ("gears", start + timedelta(days=2), 2)):
        create_booking(session, BookingDraft("printer-1", coop, begins, begins + timedelta(hours=hours)),
                       by="steward:test", now=begins - timedelta(days=1))
    create_user(session, UserDraft("ada", "admin", "Ada Admin", None, True, PASSWORD))
    create_user(session, UserDraft("mia", "member", "Mia Spokes", "spokes", True, PASSWORD))
    assert books_zone(session).key == "Europe/Berlin"
    return last_month


@pytest.fixture(scope="module")
def ledger_server(tmp_path_factory) -> Iterator[SimpleNamespace]:
    with app_served(tmp_path_factory.mktemp("e2e-ledger"), "ledger", build_books) as served:
        yield SimpleNamespace(url=served.url, month=served.prepared)


@pytest.fixture
def new_page(ledger_server, browser):
    contexts = []

    def open_page() -> Page:
        context = browser.new_context(base_url=ledger_server.url, viewport=DESKTOP)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def log_in(page: Page, login: str) -> None:
    page.goto("/login")
    page.get_by_label("Login", exact=True).fill(login)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_attached()


def test_an_admin_closes_last_month_and_a_member_sees_their_dividend(ledger_server, new_page, screenshot):
    month = ledger_server.month
    admin = new_page()
    log_in(admin, "ada")
    admin.get_by_role("link", name="Ledger").first.click()
    expect(admin.get_by_role("heading", name="The commune's ledger")).to_be_visible()
    admin.locator(f'tr[data-month="{month}"]').get_by_role("link", name=month).click()
    expect(admin.locator(".period-state")).to_have_text("open: figures so far")
    expect(admin.locator('[data-figure="rents"]')).to_have_text("€60.00")  # 5 h at €12.00

    admin.get_by_role("button", name="Close this month").click()

    expect(admin.locator(".flash.success")).to_contain_text(f"{month} closed: €60.00 paid out to 4 members")
    expect(admin.locator(".period-state")).to_contain_text("closed by admin:ada at")
    expect(admin.get_by_role("button", name="Close this month")).to_have_count(0)

    member = new_page()
    log_in(member, "mia")
    member.goto(f"/ledger/{month}")
    expect(member.locator(".dividend-share .share")).to_contain_text("€15.00 to each of 4 members")
    mine = member.locator("table.dividends tr", has_text="Mia Spokes")
    expect(mine.locator("td.num")).to_have_text("€15.00")
    expect(member.locator("svg.ledger-chart")).to_be_visible()
    member.get_by_role("link", name="Line items").click()
    expect(member).to_have_url(re.compile(rf"/ledger/{month}/coops/spokes$"))
    expect(member.locator("table.line-items tr[data-source=booking]")).to_have_count(1)
    member.goto(f"/ledger/{month}")
    screenshot(member, "ledger-statement")
