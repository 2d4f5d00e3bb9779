"""/api/v1/leases: a co-op proposes a standing weekly use of a machine, a steward or admin approves or
declines it, and the lessee gives single days back to the pool. A member sees their own co-op's leases."""

from __future__ import annotations

from flask import g, jsonify

from factory.api import api
from factory.api.bookings import booking_json
from factory.api.machines import rfc3339
from factory.api.parsing import (
    actor,
    check_keys,
    date_field,
    decimal_field,
    json_object,
    obj,
    query,
    require_steward,
    row_id,
    string,
)
from factory.app import db
from factory.domain.errors import InvalidInput, InvalidParameter
from factory.domain.opening_hours import WEEKDAYS, Week, format_day, parse_day
from factory.models import Lease
from factory.services.leases import (
    LeaseDraft,
    approve_lease,
    decline_lease,
    get_lease,
    list_leases,
    propose_lease,
    release_day,
)
from factory.services.machine_time import lease_week

FILTERS = ("machine", "status")
LEASE_FIELDS = ("machine", "coop", "starts_on", "ends_on", "windows", "rent_per_hour", "note")
REQUIRED = ("machine", "coop", "starts_on", "ends_on", "windows", "rent_per_hour")
DECIDES = "decide on leases"


@api.get("/leases")
def leases_index():
    args = query(FILTERS)
    try:
        found = list_leases(db(), g.api_user, machine=args.get("machine"), status=args.get("status"))
    except InvalidInput as exc:
        raise InvalidParameter(exc.message, field=exc.field) from None
    return jsonify({"items": [lease_json(lease) for lease in found], "count": len(found)})


@api.post("/leases")
def leases_propose():
    body = json_object(LEASE_FIELDS, required=REQUIRED)
    draft = LeaseDraft(machine=string(body, "machine"), coop=string(body, "coop"),
                       starts_on=date_field(body, "starts_on"), ends_on=date_field(body, "ends_on"),
                       windows=_windows(obj(body, "windows")), rent_per_hour=decimal_field(body, "rent_per_hour"),
                       note=string(body, "note", ""))
    lease = propose_lease(db(), draft, viewer=g.api_user, by=actor())
    return jsonify(lease_json(lease)), 201, {"Location": f"/api/v1/leases/{lease.id}"}


@api.get("/leases/<lease_id>")
def leases_show(lease_id: str):
    return jsonify(lease_json(get_lease(db(), row_id(lease_id, "lease"), g.api_user)))


@api.post("/leases/<lease_id>/approve")
def leases_approve(lease_id: str):
    require_steward(DECIDES)
    body = json_object(("note",), empty_ok=True)
    lease, honoured = approve_lease(db(), row_id(lease_id, "lease"), by=actor(), note=string(body, "note", ""))
    return jsonify({**lease_json(lease), "honoured_bookings": [booking_json(booking) for booking in honoured]})


@api.post("/leases/<lease_id>/decline")
def leases_decline(lease_id: str):
    require_steward(DECIDES)
    body = json_object(("note",), empty_ok=True)
    lease = decline_lease(db(), row_id(lease_id, "lease"), by=actor(), note=string(body, "note", ""))
    return jsonify(lease_json(lease))


@api.post("/leases/<lease_id>/release")
def leases_release(lease_id: str):
    """Give one day back to the pool: the lessee's members, stewards and admins (the service checks)."""
    body = json_object(("on_date", "reason"), required=("on_date",))
    release = release_day(db(), row_id(lease_id, "lease"), date_field(body, "on_date"), viewer=g.api_user, by=actor(),
                          reason=string(body, "reason", ""))
    return jsonify(lease_json(release.lease))


def lease_json(lease: Lease) -> dict:
    week = lease_week(lease)
    return {
        "id": lease.id,
        "machine": lease.machine_id,
        "coop": {"slug": lease.coop.slug, "name": lease.coop.name},
        "status": lease.status,
        "starts_on": lease.starts_on.isoformat(),
        "ends_on": lease.ends_on.isoformat(),
        "windows": {WEEKDAYS[day]: format_day(week[day]) for day in range(7) if week[day]},
        "rent_per_hour": f"{lease.rent_per_hour:.2f}",
        "note": lease.note,
        "proposed_by": lease.proposed_by,
        "proposed_at": rfc3339(lease.proposed_at),
        "decided_by": lease.decided_by,
        "decided_at": rfc3339(lease.decided_at) if lease.decided_at else None,
        "decision_note": lease.decision_note,
        "releases": [{"on_date": release.on_date.isoformat(), "released_by": release.released_by,
                      "released_at": rfc3339(release.released_at), "reason": release.reason}
                     for release in sorted(lease.releases, key=lambda release: release.on_date)],
    }


def _windows(body: dict) -> Week:
    """`{"mon": "09:00-12:00, 13:00-17:00", ...}`: a text per weekday named, the others closed."""
    check_keys(body, WEEKDAYS, prefix="windows.")
    return {day: parse_day(string(body, name, "", prefix="windows."), field=f"windows.{name}")
            for day, name in enumerate(WEEKDAYS)}
