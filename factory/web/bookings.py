"""Booking pages: the list (a member sees their co-op's, read-only), booking a machine once or weekly, a
booking's page with its history, and editing or cancelling with a reason (the co-op is told)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from drivers.messages import MessageError, format_ts, parse_ts
from factory.app import db
from factory.domain.booking_rules import span_text
from factory.domain.errors import BookingConflict, DomainError, InvalidParameter
from factory.domain.local_time import Span, entered_to_utc, wall_clock
from factory.domain.vocabulary import Role
from factory.models import Booking, utcnow
from factory.services.booking_series import cancel_series, create_series, occurrences
from factory.services.bookings import (
    BookingQuery,
    cancel_booking,
    create_booking,
    get_booking,
    list_bookings,
    update_booking,
)
from factory.services.coops import list_coops
from factory.services.machines import list_machines
from factory.services.sites import list_sites
from factory.web.access import actor, registry_keepers
from factory.web.booking_forms import (
    BookingEditForm,
    BookingForm,
    ReasonForm,
    SeriesCancelForm,
)
from factory.web.forms import attempt, show_error

bp = Blueprint("bookings", __name__, url_prefix="/bookings")


@bp.get("")
@login_required
def index():
    show_all = request.args.get("show") == "all"
    keeper = Role(current_user.role).manages_registry
    query = BookingQuery(machine=request.args.get("machine") or None, site=request.args.get("site") or None,
                         coop=(request.args.get("coop") or None) if keeper else None,
                         since=None if show_all else utcnow(), include_cancelled=show_all)
    return render_template("bookings/index.html", bookings=list_bookings(db(), current_user, query), query=query,
                           show_all=show_all, keeper=keeper, machines=list_machines(db()), sites=list_sites(db()),
                           coops=list_coops(db()) if keeper else [])


@bp.route("/new", methods=["GET", "POST"])
@registry_keepers
def new():
    form = BookingForm()
    form.offer_machines(list_machines(db()))
    form.offer_coops(list_coops(db()))
    if not form.is_submitted():
        _prefill(form)
        return render_template("bookings/new.html", form=form)
    if form.validate():
        try:
            return _book(form)
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
            return _refused_page(form, exc)
    return render_template("bookings/new.html", form=form), 422


def _book(form: BookingForm):
    draft, repeat = form.draft(), form.weekly()
    zone = form.zones[draft.machine]
    if repeat is None:
        booking = create_booking(db(), draft, by=actor())
        flash(f"Booked {booking.machine.name} for {booking.coop.name}, "
              f"{span_text(Span(booking.starts_at, booking.ends_at), zone)}.", "success")
        return redirect(url_for("bookings.detail", booking_id=booking.id))
    result = create_series(db(), draft, repeat, by=actor(), skip_conflicts=form.skip_conflicts.data)
    skipped = f"; skipped {len(result.skipped)} that could not be had" if result.skipped else ""
    flash(f"Booked {len(result.booked)} weekly occurrences{skipped}.", "success")
    return redirect(url_for("bookings.index", machine=draft.machine))


def _refused_page(form: BookingForm, exc: DomainError):
    """The form again, with what holds the time and other slots, or the series' occurrences one by one."""
    series = conflict = None
    if isinstance(exc, BookingConflict) and exc.code == "series_conflict":
        series = series_rows(form, exc)
    elif isinstance(exc, BookingConflict):
        conflict = conflict_view(exc, form.zones, lambda slot: url_for(
            "bookings.new", machine=slot["machine"], coop=form.coop.data, start=slot["starts_at"],
            end=slot["ends_at"], purpose=form.purpose.data or None))
    return render_template("bookings/new.html", form=form, conflict=conflict, series=series), 422


def _prefill(form: BookingForm) -> None:
    """Fill the empty form from `?machine=&coop=&start=&end=&purpose=` (a suggested slot's link)."""
    args = request.args
    form.machine.data = args.get("machine") or form.machine.data
    form.coop.data = args.get("coop") or form.coop.data
    form.purpose.data = args.get("purpose", "")
    zone = form.zones.get(form.machine.data)
    if zone is not None:
        _prefill_times(form, zone)


def _prefill_times(form: BookingForm | BookingEditForm, zone: ZoneInfo) -> None:
    for field, key in ((form.starts_at, "start"), (form.ends_at, "end")):
        if request.args.get(key):
            field.data = wall_clock(parse_moment(request.args[key], key), zone)


def parse_moment(text: str, name: str):
    try:
        return parse_ts(text)
    except MessageError:
        raise InvalidParameter(f"{name} must be an RFC 3339 UTC time such as 2026-12-14T09:00:00Z",
                               field=name) from None


def conflict_view(exc: BookingConflict, zones: dict[str, ZoneInfo], link) -> dict:
    """What the page shows of a conflict: the message, what holds the time, and suggested slots with links."""
    holders = [{"label": c.get("label", ""), "start": _moment(c.get("starts_at")), "end": _moment(c.get("ends_at"))}
               for c in exc.conflicts]
    slots = [{"machine_name": s["machine_name"], "start": parse_ts(s["starts_at"]), "end": parse_ts(s["ends_at"]),
              "zone": zones[s["machine"]].key if s["machine"] in zones else "UTC", "url": link(s)}
             for s in exc.suggestions]
    return {"message": exc.message, "holders": holders, "suggestions": slots}


def series_rows(form: BookingForm, exc: BookingConflict) -> dict:
    """Every occurrence of the wanted series, free or not and why, from the conflict's blocked list."""
    draft, zone = form.draft(), form.zones[form.machine.data]
    blocked = {item["starts_at"]: item for item in exc.conflicts}
    rows = []
    for span in occurrences(Span(draft.starts_at, draft.ends_at), zone, form.weekly()):
        item = blocked.get(format_ts(span.start))
        rows.append({"start": span.start, "end": span.end, "free": item is None,
                     "reason": item["message"] if item else "",
                     "holders": [c.get("label", "") for c in item["conflicts"]] if item else []})
    free = sum(1 for row in rows if row["free"])
    return {"rows": rows, "free": free, "skipped": len(rows) - free}


def _moment(text: str | None):
    return parse_ts(text) if text else None


@bp.get("/<int:booking_id>")
@login_required
def detail(booking_id: int):
    return _detail_page(get_booking(db(), booking_id, current_user))


def _detail_page(booking: Booking, *, cancel_form: ReasonForm | None = None,
                 series_form: SeriesCancelForm | None = None):
    return render_template("bookings/detail.html", booking=booking, tz=_zone(booking).key,
                           keeper=Role(current_user.role).manages_registry, open=_still_open(booking),
                           cancel_form=cancel_form or ReasonForm(formdata=None),
                           series_form=series_form or SeriesCancelForm(formdata=None, prefix="series",
                                                                       booking=booking.id))


@bp.route("/<int:booking_id>/edit", methods=["GET", "POST"])
@registry_keepers
def edit(booking_id: int):
    booking = get_booking(db(), booking_id, current_user)
    zone, conflict = _zone(booking), None
    form = BookingEditForm()
    if not form.is_submitted():
        form.starts_at.data, form.ends_at.data = wall_clock(booking.starts_at, zone), wall_clock(booking.ends_at, zone)
        form.purpose.data = booking.purpose
        _prefill_times(form, zone)
        return render_template("bookings/edit.html", booking=booking, form=form, tz=zone.key)
    if form.validate():
        try:
            update_booking(db(), booking.id, starts_at=_kept_or_entered(form.starts_at, booking.starts_at, zone),
                           ends_at=_kept_or_entered(form.ends_at, booking.ends_at, zone),
                           purpose=form.purpose.data or "", reason=form.reason.data or "", by=actor())
            flash(f"Booking changed; {booking.coop.name} is told.", "success")
            return redirect(url_for("bookings.detail", booking_id=booking.id))
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
            if isinstance(exc, BookingConflict):
                conflict = conflict_view(exc, _zones(), lambda slot: _edit_link(booking, slot))
    return render_template("bookings/edit.html", booking=booking, form=form, tz=zone.key, conflict=conflict), 422


def _kept_or_entered(field, current: datetime, zone: ZoneInfo) -> datetime:
    """The time typed in `field`, or the booking's own when it is unchanged (which may lie in the hour the
    clocks show twice: the form cannot say which of the two it means, the booking can)."""
    if field.data == wall_clock(current, zone):
        return current
    return entered_to_utc(field.data, zone, field=field.name)


def _edit_link(booking: Booking, slot: dict) -> str:
    """A suggested slot on the same machine moves this booking; one on another machine is a new booking."""
    if slot["machine"] == booking.machine_id:
        return url_for("bookings.edit", booking_id=booking.id, start=slot["starts_at"], end=slot["ends_at"])
    return url_for("bookings.new", machine=slot["machine"], coop=booking.coop.slug, start=slot["starts_at"],
                   end=slot["ends_at"], purpose=booking.purpose or None)


@bp.post("/<int:booking_id>/cancel")
@registry_keepers
def cancel(booking_id: int):
    booking = get_booking(db(), booking_id, current_user)
    form = ReasonForm()
    if attempt(form, lambda: cancel_booking(db(), booking.id, reason=form.reason.data or "", by=actor())):
        flash(f"Booking cancelled; {booking.coop.name} is told.", "success")
        return redirect(url_for("bookings.detail", booking_id=booking.id))
    return _detail_page(booking, cancel_form=form), 422


@bp.post("/series/<int:series_id>/cancel")
@registry_keepers
def cancel_whole_series(series_id: int):
    form = SeriesCancelForm(prefix="series")
    cancelled = attempt(form, lambda: cancel_series(db(), series_id, reason=form.reason.data or "", by=actor()))
    if cancelled is not None:
        flash(f"Series cancelled: {len(cancelled)} bookings still to come are cancelled and the co-op is told.",
              "success")
        return redirect(url_for("bookings.index"))
    return _detail_page(get_booking(db(), form.booking.data or 0, current_user), series_form=form), 422


def _zones() -> dict[str, ZoneInfo]:
    return {machine.id: ZoneInfo(machine.site.time_zone) for machine in list_machines(db())}


def _still_open(booking: Booking) -> bool:
    return booking.active and booking.ends_at > utcnow()


def _zone(booking: Booking) -> ZoneInfo:
    return ZoneInfo(booking.machine.site.time_zone)
