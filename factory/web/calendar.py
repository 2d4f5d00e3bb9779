"""Machine time as calendars: a site's week timeline, a machine's month, and secret iCalendar links.

Times are stored in UTC and shown in the site's zone. What a member may see is decided once, by
`timeline.for_viewer`, for the timeline, the month grid and the lists alike. The `.ics` feeds need no
login (calendar apps have none): the link's token is the key, and a wrong one answers 404.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField

from factory.app import db
from factory.domain.booking_rules import Kind
from factory.domain.errors import InvalidParameter, NotFound
from factory.domain.local_time import SUPPORTED_YEARS, Span, local_date, wall_to_utc
from factory.domain.vocabulary import Role
from factory.models import CalendarFeed, Machine, Reservation, Site, utcnow
from factory.services.calendar_feeds import create_feed, current_feed, feed_calendar, feed_for_token, may_make_feed
from factory.services.coops import list_coops
from factory.services.machine_time import breakdown, lease_busy, reservations
from factory.services.machines import get_machine
from factory.services.sites import get_site, list_sites
from factory.web.access import registry_keepers
from factory.web.timeline import (
    BOOKING,
    BREAKDOWN,
    LEASE,
    MAINTENANCE,
    Bar,
    Row,
    coop_colour,
    for_viewer,
    tooltip,
    week_timeline,
)

bp = Blueprint("calendar", __name__)

WEEK = re.compile(r"(\d{4})-W(\d{2})")
MONTH = re.compile(r"(\d{4})-(\d{2})")
YEARS = SUPPORTED_YEARS
FEED_CACHE = "private, max-age=300"


class FeedForm(FlaskForm):
    # Not checked against the choices: the service decides who may link which co-op (and says so).
    coop = SelectField("Co-op", choices=[], validate_choice=False)


# --- query parameters ------------------------------------------------------------------------------------

def only_params(*allowed: str) -> None:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise InvalidParameter(f"unknown parameter {unknown[0]!r}; this page takes {', '.join(allowed)}",
                               field=unknown[0])


def parse_week(raw: str | None, today: date) -> date:
    """The Monday of ISO week `YYYY-Www`, or of the week holding `today`."""
    if raw is None:
        return today - timedelta(days=today.weekday())
    match = WEEK.fullmatch(raw)
    try:
        if match is None or int(match[1]) not in YEARS:
            raise ValueError(raw)
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise InvalidParameter("week must be an ISO week such as 2026-W14", field="week") from None


def week_name(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def parse_month(raw: str | None, today: date) -> date:
    """The first day of month `YYYY-MM`, or of the month holding `today`."""
    if raw is None:
        return today.replace(day=1)
    match = MONTH.fullmatch(raw)
    try:
        if match is None or int(match[1]) not in YEARS:
            raise ValueError(raw)
        return date(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise InvalidParameter("month must be a month such as 2026-04", field="month") from None


def month_after(first: date) -> date:
    return (first + timedelta(days=31)).replace(day=1)


# --- what is on a machine's time, as its viewer may see it ---------------------------------------------------

def member_coop_id() -> int | None:
    """The viewer's co-op when the viewer is a member; None for stewards and admins, who see every booking."""
    return current_user.coop_id if Role(current_user.role) is Role.MEMBER else None


def reservation_bar(reservation: Reservation) -> Bar:
    if reservation.kind == Kind.MAINTENANCE:
        return Bar(reservation.starts_at, reservation.ends_at, MAINTENANCE, "maintenance", reservation.purpose)
    return Bar(reservation.starts_at, reservation.ends_at, BOOKING, reservation.coop.name, reservation.purpose,
               href=f"/bookings/{reservation.id}", coop_id=reservation.coop_id)


def machine_bars(machines: list[Machine], start: datetime, end: datetime) -> dict[str, list[Bar]]:
    """Everything on each machine's time in `[start, end)`, unmasked: callers pass it through `for_viewer`."""
    found: dict[str, list[Bar]] = {machine.id: [] for machine in machines}
    for reservation in reservations(db(), list(found), start, end):
        found[reservation.machine_id].append(reservation_bar(reservation))
    lessees = {coop.id: coop.name for coop in list_coops(db())}
    for machine in machines:
        found[machine.id] += lease_bars(machine, start, end, lessees)
        out = breakdown(machine)
        if out is not None and out.span.overlaps(Span(start, end)):
            found[machine.id].append(Bar(out.span.start, out.span.end, BREAKDOWN, "out of use", out.label))
    return found


def lease_bars(machine: Machine, start: datetime, end: datetime, lessees: dict[int, str]) -> list[Bar]:
    """The machine's approved lease windows, each shortened to its lessee's name where space is tight."""
    return [Bar(lease.span.start, lease.span.end, LEASE, lease.label, coop_id=lease.coop_id,
                short=lessees.get(lease.coop_id, "")) for lease in lease_busy(db(), machine, start, end)]


def visible(bars: list[Bar]) -> list[Bar]:
    viewer = member_coop_id()
    return sorted((for_viewer(bar, viewer) for bar in bars), key=lambda bar: (bar.start, bar.kind))


def day_item(bar: Bar, day: Span, zone: ZoneInfo) -> dict:
    """A bar's part of one local day, with its local start and end (`24:00` when it runs past midnight)."""
    start, end = max(bar.start, day.start), min(bar.end, day.end)
    until = "24:00" if end == day.end else f"{end.astimezone(zone):%H:%M}"
    return {"kind": bar.kind, "label": bar.label, "detail": bar.detail, "href": bar.href,
            "times": f"{start.astimezone(zone):%H:%M}–{until}", "tooltip": tooltip(bar, zone),
            "colour": coop_colour(bar.coop_id) if bar.kind == BOOKING else None}


def month_grid(bars: list[Bar], first: date, zone: ZoneInfo) -> list[list[dict]]:
    """Monday-first weeks covering the month of `first`; each day with what meets it."""
    start = first - timedelta(days=first.weekday())
    days = -(-(month_after(first) - start).days // 7) * 7
    cells = []
    for n in range(days):
        day = start + timedelta(days=n)
        whole = Span(wall_to_utc(day, 0, zone), wall_to_utc(day, 1440, zone))
        items = [day_item(bar, whole, zone) for bar in bars if bar.start < whole.end and whole.start < bar.end]
        cells.append({"day": day, "in_month": day.month == first.month, "entries": items})
    return [cells[i:i + 7] for i in range(0, days, 7)]


# --- pages ---------------------------------------------------------------------------------------------------

def _site(slug: str | None) -> Site:
    if slug is not None:
        return get_site(db(), slug)
    sites = list_sites(db())
    if not sites:
        raise NotFound("no sites yet: a steward adds one under Manage")
    return sites[0]


@bp.get("/calendar")
@login_required
def week():
    only_params("site", "week")
    site, now = _site(request.args.get("site")), utcnow()
    zone = ZoneInfo(site.time_zone)
    monday = parse_week(request.args.get("week"), local_date(now, zone))
    machines = list(site.machines)
    bars = machine_bars(machines, wall_to_utc(monday, 0, zone), wall_to_utc(monday, 7 * 1440, zone))
    rows = [Row(m.name, tuple(bars[m.id]), url_for("calendar.month", machine_id=m.id, month=f"{monday:%Y-%m}"))
            for m in machines]
    svg = week_timeline(rows, first_day=monday, time_zone=site.time_zone, now=now, member_coop_id=member_coop_id(),
                        title=f"Machine time at {site.name}")
    listing = [(m, [(bar, tooltip(bar, zone)) for bar in visible(bars[m.id])]) for m in machines]
    links = {name: week_name(monday + timedelta(days=days)) for name, days in (("prev", -7), ("next", 7))}
    return render_template("calendar/week.html", site=site, sites=list_sites(db()), svg=svg, listing=listing,
                           week=week_name(monday), monday=monday, links=links,
                           this_week=week_name(parse_week(None, local_date(now, zone))))


@bp.get("/machines/<machine_id>/calendar")
@login_required
def month(machine_id: str):
    only_params("month")
    return _month_page(get_machine(db(), machine_id))


@bp.post("/machines/<machine_id>/calendar/link")  # CSRFProtect has checked the form's token before this runs
@registry_keepers
def machine_link(machine_id: str):
    machine = get_machine(db(), machine_id)
    plain = create_feed(db(), "machine", machine.id, by=current_user.user)
    # Rendered once, never stored: the page says so and offers no way to see it again.
    return _month_page(machine, new_link=url_for("calendar.machine_feed", machine_id=machine.id, token=plain,
                                                 _external=True)), 201


def _month_page(machine: Machine, *, new_link: str | None = None) -> str:
    zone = ZoneInfo(machine.site.time_zone)
    today = local_date(utcnow(), zone)
    first = parse_month(request.args.get("month"), today)
    start = first - timedelta(days=first.weekday())
    end = start + timedelta(days=42)
    bars = visible(machine_bars([machine], wall_to_utc(start, 0, zone), wall_to_utc(end, 0, zone))[machine.id])
    can_link = may_make_feed(current_user.user, "machine")
    return render_template("calendar/month.html", machine=machine, first=first, today=today,
                           weeks=month_grid(bars, first, zone), week=week_name(start),
                           prev=f"{first - timedelta(days=1):%Y-%m}", next=f"{month_after(first):%Y-%m}",
                           can_link=can_link, new_link=new_link, link_form=FlaskForm(formdata=None),
                           feed=current_feed(db(), "machine", machine.id) if can_link else None)


@bp.route("/calendar/feeds/mine", methods=["GET", "POST"])
@login_required
def my_feed():
    """A member's link to their co-op's calendar; stewards and admins pick the co-op."""
    form = FeedForm()
    viewer = current_user.user
    coops = [viewer.coop] if Role(viewer.role) is Role.MEMBER else list_coops(db())
    form.coop.choices = [(coop.slug, coop.name) for coop in coops]
    new_link, status = None, 200
    if request.method == "POST":  # CSRFProtect has checked the form's token before this runs
        slug = form.coop.data or ""
        plain = create_feed(db(), "coop", slug, by=viewer)
        new_link, status = url_for("calendar.coop_feed", coop_slug=slug, token=plain, _external=True), 201
    links = [(coop, current_feed(db(), "coop", coop.slug)) for coop in coops]
    return render_template("calendar/feeds.html", form=form, links=links, new_link=new_link), status


# --- the iCalendar feeds ---------------------------------------------------------------------------------------

@bp.get("/calendar/feeds/machine/<machine_id>.ics")
def machine_feed(machine_id: str):
    return _ics(feed_for_token(db(), request.args.get("token"), "machine", machine_id), machine_id)


@bp.get("/calendar/feeds/coop/<coop_slug>.ics")
def coop_feed(coop_slug: str):
    return _ics(feed_for_token(db(), request.args.get("token"), "coop", coop_slug), coop_slug)


def _ics(feed: CalendarFeed, name: str) -> Response:
    response = Response(feed_calendar(db(), feed), mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{name}.ics"'
    response.headers["Cache-Control"] = FEED_CACHE
    return response
