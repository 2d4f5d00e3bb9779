"""What stewards and members do in a real browser, against the demo commune.

The tests share one live server: each changes only what it owns (its own machine, its own new id).
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
from collections import defaultdict

from playwright.sync_api import Page, expect

from factory.seed import DEMO_LOGINS, MACHINES

PASSWORDS = {login: password for login, password, _role in DEMO_LOGINS}
SEEDED_BY_SITE: dict[str, list[str]] = defaultdict(list)
for machine_id, _name, _kind, site, *_rest in MACHINES:
    SEEDED_BY_SITE[site].append(machine_id)

OVERVIEW = re.compile(r"^http://127\.0\.0\.1:\d+/$")


def log_in(page: Page, login: str) -> None:
    page.goto("/login")
    page.get_by_label("Login", exact=True).fill(login)
    page.get_by_label("Password", exact=True).fill(PASSWORDS[login])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_attached()


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the phone's screen (0 when nothing scrolls sideways).

    A phone widens its layout viewport to fit too-wide content, so `innerWidth` is no yardstick here.
    """
    return page.evaluate("() => document.documentElement.scrollWidth") - page.viewport_size["width"]


def test_steward_logs_in_and_sees_every_machine_grouped_by_site(page, screenshot):
    log_in(page, "steward")

    expect(page).to_have_url(OVERVIEW)
    expect(page.get_by_role("heading", name="Machines", level=1)).to_be_visible()
    assert set(SEEDED_BY_SITE) == {"leipzig", "montreal"}
    for site, machine_ids in SEEDED_BY_SITE.items():
        section = page.locator(f"section.site[data-site={site}]")
        expect(section).to_be_visible()
        for machine_id in machine_ids:
            expect(section.locator(f"li.machine[data-machine={machine_id}]")).to_be_visible()
    assert page.locator("li.machine").count() >= 10
    badge = page.locator("li.machine[data-machine=bambu-x1c] .badge")
    expect(badge).to_be_visible()
    expect(badge).to_have_text("fault")
    screenshot(page, "machines")


def test_overview_fits_a_phone_screen_without_sideways_scrolling(phone_page, screenshot):
    log_in(phone_page, "steward")

    expect(phone_page).to_have_url(OVERVIEW)
    expect(phone_page.locator("li.machine").first).to_be_visible()
    assert phone_page.evaluate("() => window.innerWidth") == phone_page.viewport_size["width"] == 390
    assert sideways_overflow(phone_page) <= 0
    screenshot(phone_page, "machines-phone")


def test_machine_page_and_manage_page_fit_a_phone_screen(phone_page):
    log_in(phone_page, "steward")

    for path in ("/machines/prusa-mk4-2", "/manage/", "/manage/machines/new"):
        phone_page.goto(path)
        expect(phone_page.get_by_role("heading", level=1)).to_be_visible()
        assert sideways_overflow(phone_page) <= 0, path


def test_steward_opens_a_machine_and_records_maintenance(page, screenshot):
    reason = "replacing the lens and cleaning the mirrors"
    log_in(page, "steward")

    page.locator("li.machine[data-machine=nova-35] a").click()
    expect(page).to_have_url(re.compile(r"/machines/nova-35$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Nova 35 laser")
    page.get_by_label("New state").select_option("maintenance")
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Record").click()

    expect(page).to_have_url(re.compile(r"/machines/nova-35$"))
    expect(page.locator(".flash.success")).to_have_text("Nova 35 laser is now maintenance.")
    expect(page.locator("h1 .badge")).to_have_text("maintenance")
    newest = page.locator("table.history tbody tr").first
    expect(newest.locator("td")).to_have_text(
        [re.compile(r"\S"), "idle", "maintenance", "steward:steward", reason])
    screenshot(page, "machine-detail")


def test_member_is_refused_the_admin_page(page):
    log_in(page, "member")
    nav = page.locator("header nav")
    expect(nav.get_by_role("link", name="Machines")).to_be_visible()
    expect(nav.get_by_role("link", name="Manage")).to_have_count(0)

    response = page.goto("/manage/")

    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.locator(".status-code")).to_have_text("HTTP 403")


def test_member_sees_a_machine_but_no_way_to_change_it(page):
    log_in(page, "member")

    page.goto("/machines/prusa-mk4-1")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Prusa MK4 #1")
    expect(page.locator("table.history tbody tr")).not_to_have_count(0)
    expect(page.get_by_role("heading", name="Set state")).to_have_count(0)
    expect(page.get_by_role("button", name="Record")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)


def test_steward_adding_a_machine_sees_field_errors_then_succeeds(page, screenshot):
    machine_id = f"e2e-printer-{secrets.token_hex(4)}"
    log_in(page, "steward")
    page.goto("/manage/machines/new")
    page.get_by_label("Id", exact=True).fill("Bad Id")
    page.get_by_label("Name", exact=True).fill("Voron 2.4 (e2e)")
    page.get_by_label("Kind").select_option("fdm_printer")
    page.get_by_label("Site").select_option("montreal")
    page.get_by_label("Make and model").fill("LDO Voron 2.4 R2")
    page.get_by_label("Accepted materials").fill("pla, petg, abs")
    page.get_by_label("Max temperature (°C)").fill("300")
    add = page.get_by_role("button", name="Add machine")

    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        add.click()
    assert refused.value.status == 422
    id_field = page.locator(".field.has-error").filter(has=page.locator("#id"))
    expect(id_field.locator(".error[data-field=id]")).to_have_text("use 1 to 64 lower-case letters, digits or '-'")
    expect(page.locator("#id")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".error[data-field]")).to_have_count(1)
    expect(page.locator(".form-error")).to_have_text("Please correct the fields marked below.")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Voron 2.4 (e2e)")
    screenshot(page, "machine-form-errors")

    page.get_by_label("Id", exact=True).fill(machine_id)
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        add.click()
    assert refused.value.status == 422
    expect(page.locator(".error[data-field=id]")).to_have_count(0)
    volume_field = page.locator(".field.has-error").filter(has=page.locator("#build_x_mm"))
    expect(volume_field.locator(".error[data-field=build_x_mm]")).to_contain_text("build volume")
    expect(page.locator(".error[data-field]")).to_have_count(1)

    page.get_by_label("Build X (mm)").fill("350")
    page.get_by_label("Build Y (mm)").fill("350")
    page.get_by_label("Build Z (mm)").fill("340")
    add.click()

    expect(page).to_have_url(re.compile(r"/manage/$"))
    expect(page.locator(".flash.success")).to_have_text("Machine Voron 2.4 (e2e) added.")
    page.get_by_role("navigation").get_by_role("link", name="Machines").click()
    expect(page).to_have_url(OVERVIEW)
    added = page.locator(f"section.site[data-site=montreal] li.machine[data-machine={machine_id}]")
    expect(added).to_contain_text("Voron 2.4 (e2e)")
    expect(added.locator(".badge")).to_have_text("offline")


def test_logout_returns_to_login(page):
    log_in(page, "steward")

    page.locator("header form").get_by_role("button", name="Log out").click()

    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash")).to_have_text("You are logged out.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def call_machines_api(base_url: str, token: str) -> tuple[int, dict]:
    """GET /api/v1/machines on the live server with a bearer token, as a script would."""
    request = urllib.request.Request(f"{base_url}/api/v1/machines", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        with refused:
            return refused.code, json.load(refused)


def test_member_issues_an_api_token_in_the_browser_and_uses_it(page, live_server, screenshot):
    name = "my script"  # the only token the journeys issue on the shared server; plain for the screenshot
    log_in(page, "member")

    page.locator("header").get_by_role("link", name=re.compile(r"^Member · member")).click()
    expect(page).to_have_url(re.compile(r"/account/$"))
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    page.get_by_label("What is it for?").fill(name)
    with page.expect_response(lambda r: r.request.method == "POST") as issued:
        page.get_by_role("button", name="Issue token").click()
    assert issued.value.status == 201
    shown = page.locator("#new-token")
    expect(shown).to_be_visible()
    token = shown.input_value()
    assert token.startswith("mf_")
    screenshot(page, "account-token")

    status, body = call_machines_api(live_server, token)
    assert status == 200
    assert body["count"] >= 10

    row = page.locator("table.tokens tbody tr").filter(has_text=name)
    row.get_by_role("button", name="Revoke").click()

    expect(page).to_have_url(re.compile(r"/account/$"))
    expect(page.locator(".flash.success")).to_contain_text("is revoked")
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("table.tokens tbody tr").filter(has_text=name)).to_contain_text("revoked")
    status, body = call_machines_api(live_server, token)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"
