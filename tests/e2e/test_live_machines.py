"""The machines overview updates itself: what a machine reports shows on its card without a reload.

The machine here is `shapeoko-5`, which no other browser test touches (they share one live server).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

import factory.db
from drivers.messages import StateMessage, TelemetryMessage
from drivers.states import MachineState
from factory.models import utcnow
from factory.services.telemetry import record_messages
from tests.e2e.test_journeys import OVERVIEW, log_in

MACHINE = "shapeoko-5"
POLLS_MS = 10_000  # live.js polls every 3 s; expect() alone waits only 5 s


@pytest.fixture
def live_database(live_server, tmp_path_factory) -> Iterator[Session]:
    """A session on the live server's own SQLite file, to report as the ingest worker would.

    conftest's `live_server` yields only its URL; its database is the one `e2e*/e2e.sqlite3` it made in
    this run's temporary folder (`e2ecurrent` is pytest's link to the same folder).
    """
    found = sorted({path.resolve() for path in tmp_path_factory.getbasetemp().glob("e2e*/e2e.sqlite3")})
    assert len(found) == 1, f"expected the live server's one database, found {found}"
    engine = factory.db.make_engine(f"sqlite:///{found[0]}")
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def test_a_card_follows_what_its_machine_reports_without_a_reload(page: Page, live_database, screenshot):
    log_in(page, "steward")
    expect(page).to_have_url(OVERVIEW)
    card = page.locator(f"li.machine[data-machine={MACHINE}]")
    expect(card.locator(".badge")).to_have_text("idle")
    expect(page.locator(".live-status")).to_contain_text("live")
    page.evaluate("() => { window.notReloaded = true; }")

    at = utcnow()
    record_messages(live_database, [
        StateMessage(MACHINE, at, 1, MachineState.RUNNING, job="chair-legs-07", progress=0.42),
        TelemetryMessage(MACHINE, at, 2, {"spindle_rpm": 18000.0, "feed_mm_min": 2500.0, "power_w": 880.0}),
    ])

    expect(card.locator(".badge")).to_have_text("running", timeout=POLLS_MS)
    expect(card.locator(".job-name")).to_have_text("chair-legs-07")
    expect(card.locator(".pct")).to_have_text("42 %")
    expect(card.locator("progress")).to_have_attribute("value", "42")
    expect(card.locator(".reading[data-metric=spindle_rpm]")).to_have_text("Spindle 18,000 rpm")
    expect(card.locator(".seen")).to_have_text("last seen just now")
    expect(page.locator(".live-status")).to_contain_text("updated")
    screenshot(page, "machines-live")

    record_messages(live_database, [StateMessage(MACHINE, utcnow(), 3, MachineState.FAULT, detail="spindle stall")])

    expect(card.locator(".badge")).to_have_text("fault", timeout=POLLS_MS)
    expect(card).to_have_class("machine unavailable")
    expect(card.locator(".flag-unavailable")).to_be_visible()
    expect(card.locator(".job")).to_be_hidden()
    assert page.evaluate("() => window.notReloaded") is True


def test_a_broken_answer_shows_connection_lost_then_live_again(page: Page):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    answers = iter([{"status": 502, "body": "<html>proxy error</html>", "content_type": "text/html"},
                    {"status": 200, "body": "{not json", "content_type": "application/json"}])

    def broken_then_real(route):
        answer = next(answers, None)
        if answer is None:
            route.continue_()
        else:
            route.fulfill(**answer)

    log_in(page, "member")
    page.route("**/machines/live.json", broken_then_real)
    status = page.locator(".live-status")

    expect(status).to_contain_text("connection lost, retrying", timeout=POLLS_MS)
    expect(status).to_have_class("live-status lost")
    expect(status).to_contain_text("live · updated", timeout=POLLS_MS)  # two polls after the lost one
    expect(page.locator(f"li.machine[data-machine={MACHINE}] .badge")).to_be_visible()
    assert errors == []


def test_polling_pauses_while_the_tab_is_hidden_and_resumes_when_shown(page: Page):
    log_in(page, "member")
    status = page.locator(".live-status")
    flip = ("(hidden) => { Object.defineProperty(document, 'hidden', {value: hidden, configurable: true}); "
            "document.dispatchEvent(new Event('visibilitychange')); }")  # what switching tabs does

    page.evaluate(flip, True)
    expect(status).to_have_class("live-status paused")
    expect(status).to_contain_text("paused while the tab is hidden")
    with page.expect_request("**/machines/live.json"):
        page.evaluate(flip, False)  # coming back polls at once, not after the next period

    expect(status).to_contain_text("live · updated")


def test_a_poll_answered_after_the_tab_was_hidden_leaves_the_indicator_paused(page: Page):
    held = []
    page.route("**/machines/live.json", lambda route: held.append(route))  # answered when the test says so
    log_in(page, "member")
    status = page.locator(".live-status")
    flip = ("(hidden) => { Object.defineProperty(document, 'hidden', {value: hidden, configurable: true}); "
            "document.dispatchEvent(new Event('visibilitychange')); }")
    page.wait_for_timeout(POLLS_MS)  # a poll has gone out and hangs
    assert held, "no poll was sent"

    page.evaluate(flip, True)
    with page.expect_response("**/machines/live.json"):
        held[0].fulfill(response=held[0].fetch())
    page.wait_for_timeout(300)  # the answer's handlers have run

    expect(status).to_have_class("live-status paused")
    expect(status).to_contain_text("paused while the tab is hidden")


def test_a_kilns_page_draws_its_firing_as_a_chart_in_the_sites_time(page: Page, live_database, screenshot):
    kiln = "ll-e23t"  # Montreal; no other browser test touches it
    now = utcnow()
    record_messages(live_database, [
        TelemetryMessage(kiln, now - timedelta(minutes=5 * n), 1000 + n,
                         {"chamber_c": round(20.0 + 2.4 * (72 - n) ** 1.5 / 8.5, 1), "power_w": 9600.0})
        for n in range(72, -1, -1)])
    log_in(page, "steward")
    page.goto(f"/machines/{kiln}")
    chart = page.locator("figure.chart-figure svg.chart").first
    expect(chart).to_be_visible()
    expect(chart.locator("path.series[data-series]")).not_to_have_count(0)
    expect(page.locator("section.charts h2")).to_contain_text("America/Toronto")
    expect(page.locator("dl.latest dd[data-metric=chamber_c]")).to_contain_text("°C")
    screenshot(page, "machine-telemetry")
    page.get_by_role("link", name="24 h").click()
    expect(page.locator("section.charts h2")).to_contain_text("Last 24 hours")
