"""Fixtures and builders for the integration tests: the Flask app on a real database, and test data.

Builders are plain functions that go through the services, so every row a test starts from obeys the
same rules as data a steward would enter. Tests import them:
`from tests.integration.conftest import make_machine, logged_in`.

`db_url` (and so `session` and `app`) runs each test on SQLite and on PostgreSQL. A test about something
the database cannot change (CSRF, a redirect, a query parameter refused before any query) takes the
`sqlite_only` mark instead.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factory.app import EXTENSION, create_app
from factory.domain.capabilities import Capabilities
from factory.domain.opening_hours import parse_day
from factory.models import Coop, Site, User
from factory.services.coops import CoopDraft, create_coop
from factory.services.machines import MachineDraft, change_state, create_machine
from factory.services.sites import SiteDraft, create_site, ensure_commune
from factory.services.tokens import create_token
from factory.services.users import UserDraft, create_user
from factory.settings import Settings

PASSWORD = "correct-horse-battery"
NINE_TO_FIVE = {**{day: parse_day("09:00-17:00", field="hours") for day in range(5)}, 5: (), 6: ()}

sqlite_only = pytest.mark.parametrize("db_url", [pytest.param("sqlite", id="sqlite")], indirect=True)


# --- the app -------------------------------------------------------------------------------------------

@pytest.fixture
def app(db_url, tmp_path):
    """The real app on this test's database, CSRF protection on (as in production)."""
    settings = Settings(database_url=db_url, secret_key="x" * 32, mqtt_url="mqtt://127.0.0.1:1883",
                        instance_dir=tmp_path / "instance")
    app = create_app(settings, TESTING=True)
    yield app
    app.extensions[EXTENSION]["engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


# --- builders ------------------------------------------------------------------------------------------

def make_commune_with_site(session: Session, slug: str = "north", *, time_zone: str = "Europe/Berlin",
                           name: str | None = None) -> Site:
    """A site (open Mon-Fri 09:00-17:00) of the commune, creating the commune if there is none yet."""
    ensure_commune(session, "Test Commune")
    return create_site(session, SiteDraft(slug, name or f"{slug.capitalize()} Works", time_zone, NINE_TO_FIVE))


def make_coop(session: Session, slug: str = "makers", *, name: str | None = None) -> Coop:
    ensure_commune(session, "Test Commune")
    return create_coop(session, CoopDraft(slug, name or f"{slug.capitalize()} Co-op"))


def make_machine(session: Session, **overrides):
    """An FDM printer on site `north` by default; any MachineDraft field can be overridden, and `state`."""
    state = overrides.pop("state", None)
    fields = {
        "id": "printer-1", "name": "Printer 1", "kind": "fdm_printer", "site": "north",
        "capabilities": Capabilities(250, 210, 220, ("pla", "petg"), 290),
        "model": "Prusa MK4", "acquisition_cost": Decimal("1099.00"),
    }
    fields.update(overrides)
    machine = create_machine(session, MachineDraft(**fields), by="test")
    if state is not None:
        machine = change_state(session, machine.id, state, by="test", reason="set up by the test")
    return machine


def make_user(session: Session, role: str, coop: str | None = None, *, login: str | None = None,
              password: str = PASSWORD, active: bool = True) -> User:
    """A user with `role`; a member needs the slug of a co-op (see make_coop)."""
    return create_user(session, UserDraft(login or f"{role}-user", role, f"Test {role}", coop, active, password))


def api_token(session: Session, login: str) -> str:
    """A new bearer token for `login`, as `factory create-token` would print it."""
    _token, plain = create_token(session, login, "tests")
    return plain


def count(session: Session, model) -> int:
    """Rows of `model` now in the database (always a fresh query, never the identity map)."""
    return session.scalar(select(func.count()).select_from(model))


# --- talking to the API -------------------------------------------------------------------------------

def api_get(client, path: str, token: str | None = None, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(path, headers=headers)


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """The response is DESIGN.md 4.4's `{"error": {"code", "message", "field"?}}` with `status`."""
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    if field is not None:
        assert error.get("field") == field
    return error


# --- talking to the pages ------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
_FIELD_ERROR = re.compile(r'<p class="error"[^>]*data-field="([^"]+)">([^<]*)</p>')


def csrf_token(page_html: str) -> str:
    match = _CSRF.search(page_html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def field_errors(page_html: str) -> dict[str, list[str]]:
    """The errors the page shows under each form field, by field name."""
    errors: dict[str, list[str]] = {}
    for name, message in _FIELD_ERROR.findall(page_html):
        errors.setdefault(name, []).append(html.unescape(message))
    return errors


def submit(client, url: str, data: dict, *, form_page: str | None = None):
    """POST `data` to `url` as a browser would: with the CSRF token of the page holding the form."""
    page = client.get(form_page or url)
    assert page.status_code == 200, f"GET {form_page or url} -> {page.status_code}"
    return client.post(url, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})


def logged_in(client, login: str, password: str = PASSWORD):
    """Log `client` in through the login form; returns the client."""
    response = submit(client, "/login", {"login": login, "password": password})
    assert response.status_code == 302, f"login as {login} failed: {response.status_code}"
    return client


@pytest.fixture
def steward(session, client):
    """A commune with site `north`, and the client logged in as a steward."""
    make_commune_with_site(session, "north")
    make_user(session, "steward", login="sam")
    return logged_in(client, "sam")


@pytest.fixture
def member(session, client):
    """A commune with site `north` and co-op `spokes`, and the client logged in as one of its members."""
    make_commune_with_site(session, "north")
    make_coop(session, "spokes")
    make_user(session, "member", coop="spokes", login="mia")
    return logged_in(client, "mia")
