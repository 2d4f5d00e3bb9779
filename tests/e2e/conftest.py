"""Real-browser fixtures: Debian's Chromium driven by Playwright against the app on a loopback port.

- `chromium_path` (session): /usr/bin/chromium, or a LOUD skip (a failure when CI=true) without it.
- `live_server` (session): the app on a migrated, demo-seeded SQLite database; yields its base URL.
  `app_served(directory, name, prepare)` serves another app on its own database, for a module's fixture.
- `browser` (session): headless Chromium, with flags that keep it off the network (no updates, no sync).
- `page`: a fresh browser context per test (no cookies shared, so logins do not leak), desktop size.
- `phone_page`: the same on a 390x844 phone viewport.
- `screenshot`: `screenshot(page, name)` saves `<FACTORY_SCREENSHOT_DIR>/<name>.png` when that is set.

Every test in this folder is marked `browser`.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

import factory.db
from factory.app import EXTENSION, create_app
from factory.seed import seed_demo_commune
from factory.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = "CHROMIUM NOT INSTALLED"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        message = f"{CHROMIUM_MISSING} — apt-get install chromium; browser tests did NOT run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}. CI=true: {CHROMIUM} is required.", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@contextmanager
def app_served(directory: Path, name: str, prepare: Callable[[Session], object] | None = None
               ) -> Iterator[SimpleNamespace]:
    """The app on a fresh, migrated SQLite database under `directory` (`prepare(session)` run on it first),
    served on a free loopback port until the block ends; yields `.url`, `.sessions` and `.prepared`."""
    url = f"sqlite:///{directory / f'{name}.sqlite3'}"
    factory.db.upgrade(url)
    settings = Settings(database_url=url, secret_key=secrets.token_urlsafe(32), mqtt_url="mqtt://127.0.0.1:1883",
                        instance_dir=directory / "instance")
    app = create_app(settings)
    sessions = app.extensions[EXTENSION]["sessions"]
    with sessions() as session:
        prepared = prepare(session) if prepare is not None else None
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"e2e-{name}-server", daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", sessions=sessions, prepared=prepared)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions[EXTENSION]["engine"].dispose()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    with app_served(tmp_path_factory.mktemp("e2e"), "e2e", seed_demo_commune) as served:
        yield served.url


@pytest.fixture(scope="session")
def browser(chromium_path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _open_page(browser: Browser, base_url: str, **context_options) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


# `live_server` comes before `browser` so the browser (and its keep-alive connections) closes first.
@pytest.fixture
def page(live_server, browser) -> Iterator[Page]:
    yield from _open_page(browser, live_server, viewport=DESKTOP)


@pytest.fixture
def phone_page(live_server, browser) -> Iterator[Page]:
    yield from _open_page(browser, live_server, viewport=PHONE, is_mobile=True, has_touch=True)


def save_screenshot(page: Page, name: str) -> Path | None:
    """A full-page PNG in $FACTORY_SCREENSHOT_DIR (the README's screenshots); nothing when it is unset."""
    directory = os.environ.get("FACTORY_SCREENSHOT_DIR")
    if not directory:
        return None
    path = Path(directory) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => document.fonts.ready.then(() => true)")  # no half-laid-out text
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path | None]:
    return save_screenshot

