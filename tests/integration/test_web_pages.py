"""The web pages through Flask's test client, on a real database, with CSRF protection on."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit

import pytest
from sqlalchemy import select

from factory.domain.capabilities import Capabilities
from factory.models import Machine, MachineStateChange, Member, Site, User
from factory.services.users import UserDraft, update_user
from tests.integration.conftest import (
    PASSWORD,
    count,
    csrf_token,
    field_errors,
    logged_in,
    make_commune_with_site,
    make_coop,
    make_machine,
    make_user,
    sqlite_only,
    submit,
)


def text(response) -> str:
    return response.get_data(as_text=True)


def machine_form(**overrides) -> dict:
    """What a steward types into the add-machine form for an FDM printer on site `north`."""
    return {"id": "prusa-xl", "name": "Prusa XL", "kind": "fdm_printer", "site": "north", "model": "Prusa XL",
            "build_x_mm": "360", "build_y_mm": "360", "build_z_mm": "360", "materials": "PLA, petg",
            "max_temperature_c": "290", "spindle_power_w": "", "acquisition_cost": "2999.00",
            "acquired_on": "2025-05-10", "notes": "", **overrides}


def site_form(**overrides) -> dict:
    week = {f"hours_{day}": "08:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")}
    return {"slug": "east", "name": "East Shop", "time_zone": "Asia/Tokyo", "address": "",
            **week, "hours_sat": "closed", "hours_sun": "", **overrides}


# --- logging in ----------------------------------------------------------------------------------------

def test_login_with_a_wrong_password_shows_an_error_and_answers_422(session, client):
    make_user(session, "steward", login="sam")

    response = submit(client, "/login", {"login": "sam", "password": "not-the-password"})

    assert response.status_code == 422
    assert "Unknown login or wrong password." in text(response)
    assert client.get("/").status_code == 302, "a failed login must not sign the client in"


def test_login_of_an_inactive_user_is_refused(session, client):
    make_user(session, "steward", login="sam", active=False)

    response = submit(client, "/login", {"login": "sam", "password": PASSWORD})

    assert response.status_code == 422


def test_login_leads_to_the_machines_overview_grouped_by_site(session, client):
    make_commune_with_site(session, "north", time_zone="Europe/Berlin", name="North Works")
    make_commune_with_site(session, "south", time_zone="America/Toronto", name="South Shop")
    make_machine(session, id="south-printer", name="B printer", site="south")
    make_machine(session, id="north-printer", name="Printer", site="north", state="running")
    make_machine(session, id="north-kiln", name="Kiln", site="north", kind="kiln",
                 capabilities=Capabilities(500, 500, 600, max_temperature_c=1290))
    make_user(session, "member", coop=make_coop(session, "spokes").slug, login="mia")

    response = submit(client, "/login", {"login": "mia", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    overview = text(client.get("/"))

    grouped: list[tuple[str, list[str]]] = []
    for attribute, value in re.findall(r'data-(site|machine)="([^"]+)"', overview):
        if attribute == "site":
            grouped.append((value, []))
        else:
            grouped[-1][1].append(value)
    assert grouped == [("north", ["north-kiln", "north-printer"]), ("south", ["south-printer"])]
    assert "Europe/Berlin" in overview and "America/Toronto" in overview
    assert "3 machines" in overview


def test_signed_in_user_is_logged_out_once_deactivated(session, client):
    make_user(session, "steward", login="sam")
    logged_in(client, "sam")
    assert client.get("/").status_code == 200

    update_user(session, "sam", UserDraft("sam", "steward", active=False))

    response = client.get("/")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"


@sqlite_only
@pytest.mark.parametrize("path", ["/", "/machines/printer-1", "/manage/", "/manage/machines/new"])
def test_anonymous_user_is_sent_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert location.query == f"next={quote(path, safe='')}"


@sqlite_only
@pytest.mark.parametrize("target", [
    "//evil.example/phish", "https://evil.example/phish", "/\\evil.example", "/\t/evil.example",
    "http:/evil.example", "javascript:alert(1)",
])
def test_login_never_redirects_off_site(session, client, target):
    make_user(session, "steward", login="sam")

    response = submit(client, f"/login?next={quote(target, safe='')}", {"login": "sam", "password": PASSWORD})

    assert response.status_code == 302
    location = response.headers["Location"]
    assert urlsplit(urljoin("http://localhost/login", location)).netloc == "localhost"
    assert "\\" not in location and not location.startswith("//")


@sqlite_only
def test_login_follows_a_next_on_this_site(session, client):
    make_user(session, "steward", login="sam")

    response = submit(client, "/login?next=%2Fmanage%2F", {"login": "sam", "password": PASSWORD})

    assert response.headers["Location"] == "/manage/"


# --- who may open what ---------------------------------------------------------------------------------

REGISTRY_PAGES = ("/manage/", "/manage/machines/new", "/manage/sites/new", "/manage/sites/north",
                  "/manage/coops/new", "/manage/coops/spokes", "/manage/users/new", "/manage/users/mia")


def test_member_gets_a_403_page_on_every_registry_page(member):
    responses = {path: member.get(path) for path in REGISTRY_PAGES}

    assert {path: r.status_code for path, r in responses.items()} == dict.fromkeys(REGISTRY_PAGES, 403)
    assert all(r.mimetype == "text/html" and "Not allowed" in text(r) for r in responses.values())
    assert 'href="/manage/"' not in text(member.get("/")), "a member is not offered the registry pages"


def test_member_cannot_add_a_machine_by_posting_the_form(member, session):
    token = csrf_token(text(member.get("/")))  # a valid token, so only the role can refuse the post

    response = member.post("/manage/machines/new", data={**machine_form(), "csrf_token": token})

    assert response.status_code == 403
    assert count(session, Machine) == 0


def test_member_cannot_change_a_machine_state(member, session):
    make_machine(session, id="printer-1", state="idle")
    page = member.get("/machines/printer-1")
    assert page.status_code == 200 and "Set state" not in text(page)

    response = member.post("/machines/printer-1/state", data={
        "state": "maintenance", "reason": "mine now", "csrf_token": csrf_token(text(page))})

    assert response.status_code == 403
    session.expire_all()
    assert session.get(Machine, "printer-1").state == "idle"


@pytest.mark.parametrize("path", ["/manage/users/new", "/manage/users/sam"])
def test_only_admins_reach_user_management(steward, path):
    response = steward.get(path)

    assert response.status_code == 403
    assert "Not allowed" in text(response)


def test_admin_adds_a_member_of_a_coop(session, client):
    make_coop(session, "spokes")
    make_user(session, "admin", login="ada")
    logged_in(client, "ada")

    response = submit(client, "/manage/users/new", {
        "login": "mia", "display_name": "Mia", "role": "member", "coop": "spokes", "active": "y",
        "password": "a-long-password"})

    assert response.status_code == 302
    user = session.scalars(select(User).where(User.login == "mia")).one()
    assert (user.role, user.coop.slug, user.active) == ("member", "spokes", True)
    assert logged_in(client.application.test_client(), "mia", "a-long-password")


def test_admin_adding_a_member_without_a_coop_sees_the_error_on_the_coop_field(session, client):
    make_coop(session, "spokes")
    make_user(session, "admin", login="ada")
    logged_in(client, "ada")

    response = submit(client, "/manage/users/new", {
        "login": "mia", "role": "member", "coop": "", "active": "y", "password": "a-long-password"})

    assert response.status_code == 422
    assert list(field_errors(text(response))) == ["coop"]
    assert count(session, User) == 1


# --- the registry forms --------------------------------------------------------------------------------

def test_steward_adds_a_machine_and_it_appears_on_the_overview(steward, session):
    response = submit(steward, "/manage/machines/new", machine_form())

    assert response.status_code == 302
    assert response.headers["Location"] == "/manage/"
    assert "Machine Prusa XL added." in text(steward.get("/manage/"))
    assert 'data-machine="prusa-xl"' in text(steward.get("/"))
    stored = session.get(Machine, "prusa-xl")
    assert stored.state == "offline"
    assert stored.capabilities == Capabilities(360, 360, 360, ("pla", "petg"), 290)
    assert stored.state_changes[0].source == "steward:sam"


@sqlite_only  # the shape and rules of the form; the rollback on both databases is in the taken-id test
@pytest.mark.parametrize(("overrides", "field"), [
    ({"id": "Prusa XL!"}, "id"),
    ({"build_x_mm": "", "build_y_mm": "", "build_z_mm": ""}, "build_x_mm"),
    ({"build_z_mm": ""}, "build_z_mm"),
    ({"max_temperature_c": ""}, "max_temperature_c"),
    ({"materials": "pla, hot glue!"}, "materials"),
    ({"build_x_mm": "wide"}, "build_x_mm"),
    ({"acquired_on": "2999-01-01"}, "acquired_on"),
    ({"site": "atlantis"}, "site"),
], ids=["bad-id", "printer-without-build-volume", "partial-volume", "printer-without-temperature",
        "bad-material", "not-a-number", "acquired-in-the-future", "unknown-site"])
def test_invalid_machine_form_shows_the_error_on_its_field_and_stores_nothing(steward, session, overrides, field):
    response = submit(steward, "/manage/machines/new", machine_form(**overrides))

    assert response.status_code == 422
    assert list(field_errors(text(response))) == [field]
    assert count(session, Machine) == 0


def test_machine_with_a_taken_id_shows_the_conflict_on_the_id_field(steward, session):
    make_machine(session, id="prusa-xl", name="The first one")

    response = submit(steward, "/manage/machines/new", machine_form(id="prusa-xl", name="Another"))

    assert response.status_code == 422
    assert "already exists" in field_errors(text(response))["id"][0]
    session.expire_all()
    assert [m.name for m in session.scalars(select(Machine))] == ["The first one"]


def test_steward_edits_a_machine_but_not_its_id(steward, session):
    make_machine(session, id="printer-1", name="Printer 1")

    response = submit(steward, "/manage/machines/printer-1",
                      machine_form(id="renamed", name="Printer One", max_temperature_c="300"))

    assert response.status_code == 302
    session.expire_all()
    assert session.get(Machine, "renamed") is None
    edited = session.get(Machine, "printer-1")
    assert (edited.name, edited.max_temperature_c) == ("Printer One", 300)


def test_steward_adds_a_site_with_its_opening_hours(steward, session):
    response = submit(steward, "/manage/sites/new", site_form(hours_wed="08:00-12:00, 13:00-18:00"))

    assert response.status_code == 302
    site = session.scalars(select(Site).where(Site.slug == "east")).one()
    assert site.time_zone == "Asia/Tokyo"
    assert [(h.weekday, h.opens_min, h.closes_min) for h in site.opening_hours if h.weekday == 2] == [
        (2, 480, 720), (2, 780, 1080)]
    assert {h.weekday for h in site.opening_hours} == {0, 1, 2, 3, 4}


@sqlite_only
@pytest.mark.parametrize(("overrides", "field"), [
    ({"hours_wed": "9 to 5"}, "hours_wed"),
    ({"hours_fri": "18:00-08:00"}, "hours_fri"),
    ({"hours_mon": "08:00-12:00, 11:00-14:00"}, "hours_mon"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"slug": "East Shop"}, "slug"),
    ({"slug": "north"}, "slug"),
], ids=["unreadable-hours", "closes-before-it-opens", "overlapping-hours", "unknown-time-zone", "bad-slug",
        "taken-slug"])
def test_invalid_site_form_shows_the_error_on_its_field_and_stores_nothing(steward, session, overrides, field):
    response = submit(steward, "/manage/sites/new", site_form(**overrides))

    assert response.status_code == 422
    assert list(field_errors(text(response))) == [field]
    assert count(session, Site) == 1  # only `north`, made by the fixture


def test_steward_adds_a_member_on_the_coop_page(steward, session):
    make_coop(session, "spokes", name="Spokes Bicycle Co-op")

    response = submit(steward, "/manage/coops/spokes/members", {"member-name": "Ana Sousa",
                                                                "member-email": "Ana@Spokes.example"},
                      form_page="/manage/coops/spokes")

    assert response.status_code == 302
    page = text(steward.get("/manage/coops/spokes"))
    assert "Ana Sousa joined Spokes Bicycle Co-op." in page
    assert "Ana Sousa &lt;ana@spokes.example&gt;" in page


@pytest.mark.parametrize(("email", "message"), [("ANA@spokes.example", "already a member"),
                                                ("not-an-address", "not an e-mail address")],
                         ids=["taken", "malformed"])
def test_invalid_member_shows_the_error_on_the_email_field_and_stores_nothing(steward, session, email, message):
    make_coop(session, "spokes")
    submit(steward, "/manage/coops/spokes/members", {"member-name": "Ana", "member-email": "ana@spokes.example"},
           form_page="/manage/coops/spokes")

    response = submit(steward, "/manage/coops/spokes/members", {"member-name": "Ana B", "member-email": email},
                      form_page="/manage/coops/spokes")

    assert response.status_code == 422
    errors = field_errors(text(response))
    assert list(errors) == ["member-email"] and message in errors["member-email"][0]
    assert count(session, Member) == 1


@sqlite_only
@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["no-token", "forged-token"])
def test_form_post_without_a_valid_csrf_token_is_refused_with_400(steward, session, token):
    data = machine_form() if token is None else {**machine_form(), "csrf_token": token}

    response = steward.post("/manage/machines/new", data=data)

    assert response.status_code == 400
    assert "reload the page" in text(response)
    assert count(session, Machine) == 0


@sqlite_only
def test_login_post_without_a_csrf_token_is_refused_with_400(session, client):
    make_user(session, "steward", login="sam")

    response = client.post("/login", data={"login": "sam", "password": PASSWORD})

    assert response.status_code == 400
    assert client.get("/").status_code == 302


# --- machine states ------------------------------------------------------------------------------------

def test_steward_changes_a_state_with_a_reason_and_the_history_shows_it(steward, session):
    make_machine(session, id="printer-1", name="Printer 1", state="idle")

    response = submit(steward, "/machines/printer-1/state", {"state": "maintenance", "reason": "new nozzle"},
                      form_page="/machines/printer-1")

    assert response.status_code == 302
    assert response.headers["Location"] == "/machines/printer-1"
    page = text(steward.get("/machines/printer-1"))
    assert "Printer 1 is now maintenance." in page
    history = page.split("State history", 1)[1]
    first_row = history.split("<tr>")[2]
    assert all(part in first_row for part in ("state-idle", "state-maintenance", "steward:sam", "new nozzle"))
    session.expire_all()
    assert session.get(Machine, "printer-1").state == "maintenance"


def test_state_change_without_a_reason_is_refused_on_the_reason_field(steward, session):
    make_machine(session, id="printer-1", state="idle")

    response = submit(steward, "/machines/printer-1/state", {"state": "maintenance", "reason": ""},
                      form_page="/machines/printer-1")

    assert response.status_code == 422
    assert list(field_errors(text(response))) == ["reason"]
    session.expire_all()
    assert session.get(Machine, "printer-1").state == "idle"


def test_unknown_machine_page_is_a_404_page(steward):
    response = steward.get("/machines/no-such-machine")

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in text(response)


def test_choosing_the_current_state_again_says_nothing_was_recorded(steward, session):
    make_machine(session, id="printer-1", name="Printer 1", state="idle")
    rows_before = count(session, MachineStateChange)

    response = submit(steward, "/machines/printer-1/state", {"state": "idle", "reason": "checked"},
                      form_page="/machines/printer-1")

    assert response.status_code == 302
    assert "Printer 1 is already idle; nothing recorded." in text(steward.get("/machines/printer-1"))
    assert count(session, MachineStateChange) == rows_before
