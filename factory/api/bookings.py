"""/api/v1/bookings and /api/v1/booking-series: stewards book machine time for co-ops, edit and cancel it
with a reason; a member reads their own co-op's bookings only (another co-op's reads as not found)."""

from __future__ import annotations

from contextlib import contextmanager

from flask import g, jsonify

from factory.api import api
from factory.api.machines import rfc3339
from factory.api.parsing import (
    actor,
    boolean,
    check_keys,
    date_field,
    integer,
    json_object,
    obj,
    query,
    query_bool,
    query_time,
    row_id,
    string,
    time_field,
)
from factory.app import db
from factory.domain.errors import InvalidInput
from factory.models import Booking, BookingSeries
from factory.services.booking_series import (
    SeriesResult,
    Weekly,
    cancel_series,
    create_series,
    occurrence_json,
    preview_series,
)
from factory.services.bookings import (
    BookingDraft,
    BookingQuery,
    cancel_booking,
    create_booking,
    get_booking,
    list_bookings,
    require_booker,
    update_booking,
)

FILTERS = ("machine", "coop", "site", "since", "until", "include_cancelled")
BOOKING_FIELDS = ("machine", "coop", "starts_at", "ends_at", "purpose", "repeat", "skip_conflicts")
REQUIRED = ("machine", "coop", "starts_at", "ends_at")
EDIT_FIELDS = ("starts_at", "ends_at", "purpose", "reason")
WEEKLY = "repeat.weekly."


@api.get("/bookings")
def bookings_index():
    args = query(FILTERS)
    found = list_bookings(db(), g.api_user, BookingQuery(
        machine=args.get("machine"), coop=args.get("coop"), site=args.get("site"),
        since=query_time(args, "since"), until=query_time(args, "until"),
        include_cancelled=query_bool(args, "include_cancelled")))
    return jsonify({"items": [booking_json(booking) for booking in found], "count": len(found)})


@api.post("/bookings")
def bookings_create():
    require_booker(g.api_user)
    body = json_object(BOOKING_FIELDS, required=REQUIRED)
    draft, repeat = _draft(body), _repeat(body)
    if repeat is None:
        booking = create_booking(db(), draft, by=actor())
        return jsonify(booking_json(booking, history=True)), 201, {"Location": f"/api/v1/bookings/{booking.id}"}
    with _series_fields():
        result = create_series(db(), draft, repeat, by=actor(), skip_conflicts=boolean(body, "skip_conflicts"))
    return jsonify(series_json(result)), 201


@api.post("/bookings/preview")
def bookings_preview():
    """Each occurrence of a booking or series and whether it can be booked; nothing is booked."""
    require_booker(g.api_user)
    body = json_object(BOOKING_FIELDS, required=REQUIRED)
    draft, repeat = _draft(body), _repeat(body) or Weekly(count=1)
    with _series_fields():
        found = preview_series(db(), draft, repeat)
    return jsonify({"occurrences": [occurrence_json(occurrence) for occurrence in found],
                    "free": sum(occurrence.free for occurrence in found), "count": len(found)})


@api.get("/bookings/<booking_id>")
def bookings_show(booking_id: str):
    return jsonify(booking_json(get_booking(db(), row_id(booking_id, "booking"), g.api_user), history=True))


@api.patch("/bookings/<booking_id>")
def bookings_update(booking_id: str):
    require_booker(g.api_user)
    body = json_object(EDIT_FIELDS)
    booking = get_booking(db(), row_id(booking_id, "booking"), g.api_user)
    booking = update_booking(
        db(), booking.id, by=actor(), reason=string(body, "reason", ""),
        starts_at=time_field(body, "starts_at") if "starts_at" in body else booking.starts_at,
        ends_at=time_field(body, "ends_at") if "ends_at" in body else booking.ends_at,
        purpose=string(body, "purpose", booking.purpose))
    return jsonify(booking_json(booking, history=True))


@api.delete("/bookings/<booking_id>")
def bookings_cancel(booking_id: str):
    require_booker(g.api_user)
    booking = cancel_booking(db(), row_id(booking_id, "booking"), reason=reason_given(), by=actor())
    return jsonify(booking_json(booking, history=True))


@api.post("/booking-series/<series_id>/cancel")
def booking_series_cancel(series_id: str):
    require_booker(g.api_user)
    body = json_object(("reason",), empty_ok=True)
    series = row_id(series_id, "booking series")
    cancelled = cancel_series(db(), series, reason=string(body, "reason", ""), by=actor())
    return jsonify({"series": series, "cancelled": [booking_json(booking) for booking in cancelled]})


def reason_given() -> str:
    """A DELETE's reason: `{"reason": ...}` in the body, else `?reason=`; the service refuses none at all."""
    args = query(("reason",))
    body = json_object(("reason",), empty_ok=True)
    return string(body, "reason", None) or args.get("reason", "")


def booking_json(booking: Booking, *, history: bool = False) -> dict:
    answer = {
        "id": booking.id,
        "machine": booking.machine_id,
        "coop": {"slug": booking.coop.slug, "name": booking.coop.name},
        "starts_at": rfc3339(booking.starts_at),
        "ends_at": rfc3339(booking.ends_at),
        "purpose": booking.purpose,
        "status": booking.status,
        "series_id": booking.series_id,
        "created_by": booking.created_by,
        "cancel_reason": booking.cancel_reason or None,
    }
    if history:
        answer["history"] = [{"at": rfc3339(change.at), "by": change.by, "action": change.action,
                              "reason": change.reason, "starts_at": rfc3339(change.starts_at),
                              "ends_at": rfc3339(change.ends_at)} for change in booking.changes]
    return answer


def series_json(result: SeriesResult) -> dict:
    series: BookingSeries = result.series
    return {
        "series": {"id": series.id, "machine": series.machine_id, "coop": result.booked[0].coop.slug,
                   "count": series.count, "until": series.until.isoformat() if series.until else None,
                   "purpose": series.purpose, "created_by": series.created_by},
        "bookings": [booking_json(booking) for booking in result.booked],
        "skipped": [occurrence_json(occurrence) for occurrence in result.skipped],
    }


def _draft(body: dict) -> BookingDraft:
    return BookingDraft(machine=string(body, "machine"), coop=string(body, "coop"),
                        starts_at=time_field(body, "starts_at"), ends_at=time_field(body, "ends_at"),
                        purpose=string(body, "purpose", ""))


def _repeat(body: dict) -> Weekly | None:
    """`{"weekly": {"count": N}}` or `{"weekly": {"until": "YYYY-MM-DD"}}`, or None for a single booking."""
    if "repeat" not in body:
        return None
    repeat = obj(body, "repeat")
    check_keys(repeat, ("weekly",), required=("weekly",), prefix="repeat.")
    weekly = obj(repeat, "weekly", prefix="repeat.")
    check_keys(weekly, ("count", "until"), prefix=WEEKLY)
    return Weekly(count=integer(weekly, "count", prefix=WEEKLY) if "count" in weekly else None,
                  until=date_field(weekly, "until", prefix=WEEKLY) if "until" in weekly else None)


@contextmanager
def _series_fields():
    """Name the series' own fields as the body does: the service's `count` is `repeat.weekly.count`."""
    try:
        yield
    except InvalidInput as exc:
        if exc.field in ("count", "until"):
            exc.field = WEEKLY + exc.field
        raise
