"""The registry's services on a real database: machines and their states, users, tokens, the demo data."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from factory.domain.capabilities import Capabilities
from factory.domain.errors import Conflict, InvalidInput, NotFound, Unauthorized
from factory.models import ApiToken, Commune, Coop, Machine, MachineStateChange, Member, Site, User
from factory.seed import seed_demo_commune
from factory.services.machines import (
    MachineDraft,
    MachineFilter,
    change_state,
    create_machine,
    get_machine,
    list_machines,
)
from factory.services.tokens import create_token, revoke_token, user_for_token
from factory.services.users import UserDraft, authenticate, create_user
from tests.integration.conftest import (
    PASSWORD,
    count,
    make_commune_with_site,
    make_coop,
    make_machine,
    make_user,
    sqlite_only,
)

# --- creating machines ---------------------------------------------------------------------------------

VOLUME = {"build_x_mm": 300, "build_y_mm": 300, "build_z_mm": 300}


@sqlite_only  # the rule is in the domain; what matters here is that the service applies it and stores nothing
@pytest.mark.parametrize(("kind", "capabilities", "field"), [
    ("fdm_printer", Capabilities(**VOLUME, materials=("pla",)), "max_temperature_c"),
    ("fdm_printer", Capabilities(materials=("pla",), max_temperature_c=260), "build_x_mm"),
    ("resin_printer", Capabilities(**VOLUME), "materials"),
    ("cnc_mill", Capabilities(**VOLUME, materials=("aluminium",)), "spindle_power_w"),
    ("laser_cutter", Capabilities(**VOLUME, materials=("plywood",)), "spindle_power_w"),
    ("kiln", Capabilities(max_temperature_c=1290), "build_x_mm"),
    ("furnace", Capabilities(), "max_temperature_c"),
    ("cnc_router", Capabilities(300, None, 100, ("mdf",), None, 800), "build_y_mm"),
    ("fdm_printer", Capabilities(**VOLUME, materials=("pla",), max_temperature_c=9000), "max_temperature_c"),
], ids=["fdm-no-temperature", "fdm-no-volume", "resin-no-materials", "mill-no-spindle", "laser-no-power",
        "kiln-no-volume", "furnace-no-temperature", "router-partial-volume", "fdm-temperature-too-high"])
def test_create_machine_refuses_capabilities_its_kind_lacks_and_names_the_field(session, kind, capabilities, field):
    make_commune_with_site(session)

    with pytest.raises(InvalidInput) as refused:
        create_machine(session, MachineDraft("m-1", "Machine", kind, "north", capabilities), by="test")

    assert refused.value.field == field
    session.rollback()
    assert count(session, Machine) == 0


@pytest.mark.parametrize(("kind", "given", "stored"), [
    ("furnace", Capabilities(max_temperature_c=1650), Capabilities(max_temperature_c=1650)),
    ("other", Capabilities(), Capabilities()),
    ("cnc_mill", Capabilities(**VOLUME, materials=("Aluminium", "aluminium", " mild steel "), spindle_power_w=1500),
     Capabilities(**VOLUME, materials=("aluminium", "mild-steel"), spindle_power_w=1500)),
], ids=["furnace", "other", "mill-with-messy-materials"])
def test_create_machine_stores_the_normalised_capabilities_its_kind_needs(session, kind, given, stored):
    make_commune_with_site(session)

    create_machine(session, MachineDraft("m-1", "Machine", kind, "north", given), by="test")

    session.expire_all()
    machine = session.get(Machine, "m-1")
    assert (machine.kind, machine.capabilities) == (kind, stored)


def test_new_machine_starts_offline_with_a_registration_in_its_history(session):
    make_commune_with_site(session)

    make_machine(session, id="printer-1")

    session.expire_all()
    machine = session.get(Machine, "printer-1")
    assert machine.state == "offline"
    assert [(c.from_state, c.to_state, c.source, c.reason) for c in machine.state_changes] == [
        (None, "offline", "test", "registered")]


def test_duplicate_machine_id_is_a_conflict_on_the_id_field(session):
    make_commune_with_site(session)
    make_machine(session, id="printer-1", name="First")

    with pytest.raises(Conflict) as refused:
        make_machine(session, id="printer-1", name="Second")

    assert refused.value.field == "id"
    session.rollback()
    assert [m.name for m in session.scalars(select(Machine))] == ["First"]


def test_machine_on_an_unknown_site_is_refused_on_the_site_field(session):
    make_commune_with_site(session, "north")

    with pytest.raises(NotFound) as refused:
        make_machine(session, site="atlantis")

    assert refused.value.field == "site"
    session.rollback()
    assert count(session, Machine) == 0


# --- states --------------------------------------------------------------------------------------------

def test_change_state_records_from_to_source_and_reason(session):
    make_commune_with_site(session)
    registered = make_machine(session, id="printer-1").state_since
    at = registered + timedelta(hours=1)

    change_state(session, "printer-1", "maintenance", by="steward:ana", reason="  new nozzle  ", at=at)

    session.expire_all()
    machine = session.get(Machine, "printer-1")
    assert (machine.state, machine.state_since) == ("maintenance", at)
    latest = machine.state_changes[0]
    assert (latest.from_state, latest.to_state, latest.source, latest.reason, latest.at) == (
        "offline", "maintenance", "steward:ana", "new nozzle", at)


def test_change_state_to_the_current_state_records_nothing(session):
    make_commune_with_site(session)
    make_machine(session, id="printer-1", state="idle")
    session.expire_all()
    since = session.get(Machine, "printer-1").state_since
    rows_before = count(session, MachineStateChange)

    change_state(session, "printer-1", "idle", by="steward:ana", reason="still idle")

    session.expire_all()
    assert count(session, MachineStateChange) == rows_before
    assert session.get(Machine, "printer-1").state_since == since


def test_change_state_refuses_a_state_outside_the_vocabulary(session):
    make_commune_with_site(session)
    make_machine(session, id="printer-1")

    with pytest.raises(InvalidInput) as refused:
        change_state(session, "printer-1", "exploded", by="test")

    assert refused.value.field == "state"


# --- listing -------------------------------------------------------------------------------------------

@pytest.fixture
def two_sites_of_machines(session):
    make_commune_with_site(session, "north", time_zone="Europe/Berlin", name="North Works")
    make_commune_with_site(session, "south", time_zone="America/Toronto", name="South Shop")
    make_machine(session, id="north-printer", name="Printer N", site="north", state="idle")
    make_machine(session, id="north-kiln", name="Kiln N", site="north", kind="kiln",
                 capabilities=Capabilities(500, 500, 600, max_temperature_c=1290), state="running")
    make_machine(session, id="south-printer", name="Printer S", site="south", state="running")
    make_machine(session, id="south-furnace", name="Furnace S", site="south", kind="furnace",
                 capabilities=Capabilities(max_temperature_c=1650))


@pytest.mark.usefixtures("two_sites_of_machines")
@pytest.mark.parametrize(("where", "expected"), [
    (MachineFilter(), ["north-kiln", "north-printer", "south-furnace", "south-printer"]),
    (MachineFilter(site="south"), ["south-furnace", "south-printer"]),
    (MachineFilter(kind="fdm_printer"), ["north-printer", "south-printer"]),
    (MachineFilter(state="running"), ["north-kiln", "south-printer"]),
    (MachineFilter(site="north", kind="fdm_printer", state="idle"), ["north-printer"]),
    (MachineFilter(site="atlantis"), []),
], ids=["all-by-site-then-name", "site", "kind", "state", "all-three", "unknown-site"])
def test_list_machines_filters_by_site_kind_and_state(session, where, expected):
    assert [m.id for m in list_machines(session, where)] == expected


@sqlite_only
@pytest.mark.parametrize("where", [MachineFilter(kind="3d_printer"), MachineFilter(state="broken")])
def test_list_machines_refuses_a_kind_or_state_outside_the_vocabulary(session, where):
    field = "kind" if where.kind else "state"
    with pytest.raises(InvalidInput) as refused:
        list_machines(session, where)

    assert refused.value.field == field


# --- users ---------------------------------------------------------------------------------------------

def test_authenticate_returns_the_user_and_records_the_login(session):
    make_user(session, "steward", login="ana")

    user = authenticate(session, " ANA ", PASSWORD)

    assert user is not None and user.login == "ana"
    session.expire_all()
    assert session.get(User, user.id).last_login_at is not None


@pytest.mark.parametrize(("login", "password"), [("ana", "wrong-password"), ("nobody", PASSWORD), ("ana", "")])
def test_authenticate_returns_none_for_a_wrong_login_or_password(session, login, password):
    make_user(session, "steward", login="ana")

    assert authenticate(session, login, password) is None


def test_authenticate_returns_none_for_an_inactive_user_with_the_right_password(session):
    make_user(session, "steward", login="ana", active=False)

    assert authenticate(session, "ana", PASSWORD) is None


def test_member_without_a_coop_is_refused_on_the_coop_field(session):
    with pytest.raises(InvalidInput) as refused:
        create_user(session, UserDraft("ana", "member", password=PASSWORD))

    assert refused.value.field == "coop"
    session.rollback()
    assert count(session, User) == 0


def test_member_of_a_coop_is_stored_with_it(session):
    make_coop(session, "spokes")

    make_user(session, "member", coop="spokes", login="ana")

    session.expire_all()
    user = session.scalars(select(User).where(User.login == "ana")).one()
    assert (user.role, user.coop.slug) == ("member", "spokes")


def test_duplicate_login_is_a_conflict_on_the_login_field(session):
    make_user(session, "steward", login="ana")

    with pytest.raises(Conflict) as refused:
        make_user(session, "admin", login="Ana")

    assert refused.value.field == "login"


def test_short_password_is_refused_on_the_password_field(session):
    with pytest.raises(InvalidInput) as refused:
        make_user(session, "admin", password="short")

    assert refused.value.field == "password"
    session.rollback()
    assert count(session, User) == 0


# --- tokens --------------------------------------------------------------------------------------------

def test_token_identifies_its_user_and_records_its_last_use(session):
    make_user(session, "steward", login="ana")
    token, plain = create_token(session, "ana", "laptop")
    assert token.last_used_at is None

    user = user_for_token(session, plain)

    assert user.login == "ana"
    session.expire_all()
    stored = session.get(ApiToken, token.id)
    assert stored.last_used_at is not None
    assert stored.token_hash != plain and plain not in stored.token_hash
    assert plain.startswith(stored.prefix)


def test_revoked_token_is_rejected(session):
    make_user(session, "steward", login="ana")
    token, plain = create_token(session, "ana", "laptop")

    revoke_token(session, token.id)

    with pytest.raises(Unauthorized):
        user_for_token(session, plain)


def test_token_of_an_inactive_user_is_rejected(session):
    make_user(session, "steward", login="ana", active=False)
    _token, plain = create_token(session, "ana", "laptop")

    with pytest.raises(Unauthorized):
        user_for_token(session, plain)


def test_unknown_token_is_rejected(session):
    make_user(session, "steward", login="ana")
    create_token(session, "ana", "laptop")

    with pytest.raises(Unauthorized):
        user_for_token(session, "mf_not-a-token-anyone-was-given")


# --- the demo commune ----------------------------------------------------------------------------------

def test_seed_demo_commune_loads_a_usable_commune(session):
    assert seed_demo_commune(session) is True

    session.expire_all()
    machines = list(session.scalars(select(Machine)))
    sites = list(session.scalars(select(Site)))
    assert len(machines) >= 10
    assert len({m.site_id for m in machines}) >= 2
    assert len({s.time_zone for s in sites}) >= 2
    assert sorted(u.role for u in session.scalars(select(User))) == ["admin", "member", "steward"]
    assert count(session, Coop) == 4
    assert len({m.state for m in machines}) >= 4, "the demo should show machines in several states"
    for login, password, _role in (("admin", "admin-demo", ""), ("steward", "steward-demo", ""),
                                   ("member", "member-demo", "")):
        assert authenticate(session, login, password) is not None


def test_seed_demo_commune_twice_changes_nothing(session):
    seed_demo_commune(session)
    before = {model: count(session, model) for model in (Commune, Site, Coop, Member, User, Machine,
                                                         MachineStateChange)}

    assert seed_demo_commune(session) is False

    assert {model: count(session, model) for model in before} == before


def test_a_state_change_dated_before_the_current_state_is_refused_and_history_is_kept(session):
    make_commune_with_site(session)
    machine = make_machine(session)
    change_state(session, machine.id, "idle", by="test", reason="commissioned")
    since = get_machine(session, machine.id).state_since
    with pytest.raises(Conflict):
        change_state(session, machine.id, "fault", by="telemetry", at=since - timedelta(minutes=5))
    session.rollback()
    fresh = get_machine(session, machine.id)
    assert fresh.state == "idle" and fresh.state_since == since
    recorded = session.scalars(select(MachineStateChange.to_state).where(MachineStateChange.machine_id == machine.id))
    assert sorted(recorded) == ["idle", "offline"]
