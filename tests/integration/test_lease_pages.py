"""The lease pages: a co-op proposes, a steward approves or declines, the lessee gives single days back."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from factory.domain.opening_hours import parse_day
from factory.models import Lease, User
from factory.services.leases import LeaseDraft, approve_lease, propose_lease
from tests.integration.conftest import count, field_errors, logged_in, submit
from tests.integration.test_booking_pages import (
    BERLIN,
    booking_form,
    make_shop,
    next_monday,
    other_client,
    text,
)


@pytest.fixture
def shop(session):
    make_shop(session)


def lease_form(**overrides) -> dict:
    """What a member types to lease Printer 1 on Mondays 09:00-17:00 for the next 60 days."""
    today = datetime.now(BERLIN).date()
    return {"machine": "printer-1", "coop": "spokes", "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=60)).isoformat(), "hours_mon": "09:00-17:00",
            "rent_per_hour": "6.00", "note": "", **overrides}


def propose(session, coop: str = "spokes", weekday: int = 0) -> Lease:
    today = datetime.now(BERLIN).date()
    week = {day: parse_day("09:00-17:00" if day == weekday else "", field="hours") for day in range(7)}
    steward = session.scalars(select(User).where(User.login == "sam")).one()
    draft = LeaseDraft("printer-1", coop, today, today + timedelta(days=60), week, "6.00")
    return propose_lease(session, draft, viewer=steward, by="test")


# --- propose, decide ---------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_approved_lease_refuses_another_coops_booking_in_its_window_naming_the_lessee(app, session, client):
    logged_in(client, "mia")

    proposed = submit(client, "/leases/new", lease_form())

    assert proposed.status_code == 302
    lease = session.scalars(select(Lease)).one()
    assert (lease.status, lease.coop.slug) == ("proposed", "spokes")
    sam = other_client(app, "sam")
    assert f'action="/leases/{lease.id}/approve"' in text(sam.get(f"/leases/{lease.id}"))
    approved = submit(sam, f"/leases/{lease.id}/approve", {"approve-note": "enjoy"}, form_page=f"/leases/{lease.id}")
    assert approved.status_code == 302
    assert "Lease of Printer 1 approved" in text(client.get("/notifications"))

    refused = submit(sam, "/bookings/new", booking_form(next_monday(10), coop="gears"))

    assert refused.status_code == 422
    assert "Printer 1 is not free then: leased to Spokes Co-op" in text(refused)
    assert submit(sam, "/bookings/new", booking_form(next_monday(10))).status_code == 302, "the lessee books freely"


@pytest.mark.usefixtures("shop")
def test_steward_sees_every_lease_with_the_proposals_first(session, client):
    waiting = propose(session, "gears", weekday=1)
    decided = propose(session, "spokes", weekday=0)
    approve_lease(session, decided.id, by="test")
    logged_in(client, "sam")

    listing = text(client.get("/leases"))

    assert listing.index(f'data-lease="{waiting.id}"') < listing.index(f'data-lease="{decided.id}"')


@pytest.mark.usefixtures("shop")
def test_declining_a_lease_needs_a_note_that_the_coop_reads(app, session, client):
    lease = propose(session)
    logged_in(client, "sam")
    url, page = f"/leases/{lease.id}/decline", f"/leases/{lease.id}"

    refused = submit(client, url, {"decline-note": ""}, form_page=page)
    assert refused.status_code == 422
    assert "decline-note" in field_errors(text(refused))

    assert submit(client, url, {"decline-note": "Mondays are for teaching"}, form_page=page).status_code == 302
    session.expire_all()
    assert session.get(Lease, lease.id).status == "declined"
    assert "Mondays are for teaching" in text(other_client(app, "mia").get("/notifications"))


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"hours_mon": "9-17"}, "hours_mon", "'9-17' is not a time range like 08:00-17:30"),
    ({"rent_per_hour": "six"}, "rent_per_hour", "give the rent as a number such as 6.00"),
    ({"ends_on": "2020-01-01"}, "ends_on", "the lease ends before it starts"),
], ids=["window-not-a-range", "rent-not-a-number", "ends-before-it-starts"])
def test_lease_form_shows_the_field_error_and_stores_nothing(session, client, overrides, field, message):
    logged_in(client, "mia")

    response = submit(client, "/leases/new", lease_form(**overrides))

    assert response.status_code == 422
    assert field_errors(text(response))[field] == [message]
    assert count(session, Lease) == 0


@pytest.mark.usefixtures("shop")
def test_member_proposes_only_for_their_own_coop_and_sees_only_its_leases(session, client):
    theirs, ours = propose(session, "gears"), propose(session, "spokes", weekday=2)
    logged_in(client, "mia")
    assert f'action="/leases/{ours.id}/approve"' not in text(client.get(f"/leases/{ours.id}")), "stewards decide"

    response = submit(client, "/leases/new", lease_form(coop="gears"))

    assert response.status_code == 422
    assert "coop" in field_errors(text(response))
    assert count(session, Lease) == 2
    assert f'data-lease="{theirs.id}"' not in text(client.get("/leases"))
    assert client.get(f"/leases/{theirs.id}").status_code == 404


# --- giving a day back ---------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_released_day_of_a_lease_can_be_booked_by_another_coop(app, session, client):
    lease = propose(session)
    approve_lease(session, lease.id, by="test")
    logged_in(client, "mia")
    assert "Release the day" in text(client.get(f"/leases/{lease.id}"))

    released = submit(client, f"/leases/{lease.id}/release",
                      {"on_date": next_monday().date().isoformat(), "reason": "the team is away"},
                      form_page=f"/leases/{lease.id}")

    assert released.status_code == 302
    sam = other_client(app, "sam")
    assert submit(sam, "/bookings/new", booking_form(next_monday(10), coop="gears")).status_code == 302
    week_after = submit(sam, "/bookings/new", booking_form(next_monday(10, weeks=1), coop="gears"))
    assert week_after.status_code == 422, "only the released day opens"
