"""A site's machine time for one week as a server-rendered SVG: a row per machine, a column per local day.

Pure: the page hands in rows of `Bar`s (UTC spans) and who is looking. A day column is one site-local
date, and x inside it is the real time since local midnight over the day's real length, so the 23- and
25-hour days of a clock change are drawn as they were lived and the hour ticks (local 00, 06, 12, 18) sit
where the site's clocks showed them. The privacy rule is applied here, once, in `for_viewer`: a member
sees another co-op's booking only as an anonymous grey "booked" block, without co-op, purpose or id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from factory.domain.booking_rules import span_text
from factory.domain.local_time import Span, local_date, wall_to_utc

BOOKING, BOOKED, MAINTENANCE, LEASE, BREAKDOWN = "booking", "booked", "maintenance", "lease", "breakdown"
# A co-op's colour, by its id so it keeps it week after week; each carries white text at 4.5:1 or better.
COOP_COLOURS = ("#0b5fa5", "#14733a", "#7a3e9d", "#a3324a", "#0f6b6b", "#3f51b5")
FILLS = {MAINTENANCE: "url(#tl-hatch)", BREAKDOWN: "#59636a", BOOKED: "#c3cacf", LEASE: "#dcebf7"}
INK = {BOOKED: "#1d2327", LEASE: "#0b3d6b"}  # label colour on light fills; white on the others
LEGEND = ((BOOKED, "booked (another co-op)"), (MAINTENANCE, "maintenance"), (LEASE, "lease window"),
          (BREAKDOWN, "out of use"))
COUNTED = ((BOOKING, "bookings"), (BOOKED, "booked by other co-ops"), (MAINTENANCE, "maintenance"),
           (LEASE, "lease windows"), (BREAKDOWN, "out of use"))
HOURS = (0, 6, 12, 18)
LEFT, RIGHT, HEADER, ROW_H, BAR_TOP, BAR_H, FOOTER = 150, 10, 36, 40, 12, 24, 16
CHAR_W = 6.4  # rough width of a label character, to tell whether a label fits its bar
NAME_CHARS = 22
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
HATCH = ('<defs><pattern id="tl-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
         'patternTransform="rotate(45)"><rect width="6" height="6" fill="#b45309"/>'
         '<rect width="2.5" height="6" fill="#7c2d12"/></pattern></defs>')


@dataclass(frozen=True)
class Bar:
    """Something on a machine's row, `[start, end)` in UTC. `label` is shown (or `short`, cut to fit, when the
    label does not fit the bar), `detail` only in the tooltip."""

    start: datetime
    end: datetime
    kind: str
    label: str
    detail: str = ""
    href: str | None = None
    coop_id: int | None = None
    short: str = ""


@dataclass(frozen=True)
class Row:
    name: str
    bars: tuple[Bar, ...] = ()
    href: str | None = None


def for_viewer(bar: Bar, member_coop_id: int | None) -> Bar:
    """What the viewer may know of `bar`. `member_coop_id` is the viewer's co-op when they are a member,
    None for stewards and admins, who see every booking."""
    if bar.kind != BOOKING or member_coop_id is None or bar.coop_id == member_coop_id:
        return bar
    return Bar(bar.start, bar.end, BOOKED, "booked")


def coop_colour(coop_id: int | None) -> str:
    return COOP_COLOURS[(coop_id or 0) % len(COOP_COLOURS)]


def tooltip(bar: Bar, zone: ZoneInfo) -> str:
    """`Makers Co-op: test prints, Mon 30 Mar 09:00 CEST–11:00`: the bar's words and local times."""
    words = f"{bar.label}: {bar.detail}" if bar.detail else bar.label
    return f"{words}, {span_text(Span(bar.start, bar.end), zone)}"


@dataclass(frozen=True)
class _Frame:
    first_day: date
    zone: ZoneInfo
    width: int
    top: float

    @property
    def day_width(self) -> float:
        return (self.width - LEFT - RIGHT) / 7

    @property
    def span(self) -> Span:
        return Span(wall_to_utc(self.first_day, 0, self.zone), wall_to_utc(self.first_day, 7 * 1440, self.zone))

    def day_span(self, day: date) -> Span:
        return Span(wall_to_utc(day, 0, self.zone), wall_to_utc(day, 1440, self.zone))

    def x(self, moment: datetime) -> float:
        day = local_date(moment, self.zone)
        index = (day - self.first_day).days
        if index < 0:
            return LEFT
        if index > 6:
            return self.width - RIGHT
        whole = self.day_span(day)
        return LEFT + (index + (moment - whole.start) / whole.duration) * self.day_width


def week_timeline(rows: Sequence[Row], *, first_day: date, time_zone: str, now: datetime | None = None,
                  member_coop_id: int | None = None, title: str = "Machine time", width: int = 960) -> Markup:
    """An `<svg>` of `rows` over the seven local days from `first_day`, as `member_coop_id` may see them."""
    zone = ZoneInfo(time_zone)
    week = _Frame(first_day, zone, width, 0).span
    shown = [replace(row, bars=tuple(for_viewer(bar, member_coop_id) for bar in row.bars
                                     if bar.start < week.end and week.start < bar.end)) for row in rows]
    legend, legend_height = _legend(shown, width, member=member_coop_id is not None)
    frame = _Frame(first_day, zone, width, legend_height + HEADER)
    bottom = frame.top + ROW_H * max(1, len(shown))
    parts = [HATCH, *legend, *_day_axis(frame, bottom)]
    parts += [_row(frame, row, frame.top + i * ROW_H) for i, row in enumerate(shown)]
    if not shown:
        parts.append(f'<text x="{LEFT + 8}" y="{frame.top + 24}" fill="#5f6b73">No machines here.</text>')
    parts += _now_line(frame, now, bottom)
    last = first_day + timedelta(days=6)
    said = f"{title}, {first_day:%a} {first_day.day} {first_day:%b} to {last:%a} {last.day} {last:%b %Y} " \
           f"({time_zone}): " + "; ".join(_row_summary(row) for row in shown)
    return _svg(width, bottom + FOOTER, said, parts)


def _svg(width: int, height: float, description: str, parts: list[str]) -> Markup:
    label = escape(description)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {width} {height:.0f}" '
                  f'role="img" aria-label="{label}" {FONT}><title>{label}</title>{"".join(parts)}</svg>')


def _row_summary(row: Row) -> str:
    counts = Counter(bar.kind for bar in row.bars)
    said = [f"{name} {counts[kind]}" for kind, name in COUNTED if counts[kind]]
    return f"{row.name}: {', '.join(said) or 'nothing booked'}"


def _legend(rows: list[Row], width: int, *, member: bool) -> tuple[list[str], int]:
    """Swatches of the co-ops on show and of the other kinds, wrapped onto as many lines as they need."""
    coops = sorted({(bar.label, bar.coop_id) for row in rows for bar in row.bars if bar.kind == BOOKING})
    entries = [(coop_colour(coop_id), name) for name, coop_id in coops]
    entries += [(FILLS[kind], name) for kind, name in LEGEND if member or kind != BOOKED]
    parts, x, y = [], 8.0, 16
    for fill, name in entries:
        needed = 22 + CHAR_W * len(name) + 14
        if x + needed > width and x > 8:
            x, y = 8.0, y + 18
        parts.append(f'<g class="legend-item"><rect x="{x:.1f}" y="{y - 10}" width="16" height="11" rx="2" '
                     f'fill="{fill}" stroke="#8a959c"/><text x="{x + 22:.1f}" y="{y}" fill="#1d2327">'
                     f'{escape(name)}</text></g>')
        x += needed
    return parts, y + 10


def _day_axis(frame: _Frame, bottom: float) -> list[str]:
    parts = []
    for index in range(7):
        day = frame.first_day + timedelta(days=index)
        hours = frame.day_span(day).duration / timedelta(hours=1)
        heading = f"{day:%a} {day.day} {day:%b}" + ("" if hours == 24 else f" ({hours:g} h)")
        centre = LEFT + (index + 0.5) * frame.day_width
        parts.append(f'<text class="day" x="{centre:.1f}" y="{frame.top - 22}" text-anchor="middle" '
                     f'font-weight="600" fill="#1d2327">{escape(heading)}</text>')
        for hour in HOURS:
            x = frame.x(wall_to_utc(day, hour * 60, frame.zone))
            stroke = "#8a959c" if hour == 0 else "#e3e7ea"
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top - 16}" y2="{bottom}" stroke="{stroke}"/>'
                         f'<text class="tick" data-day="{day.isoformat()}" x="{x + 2:.1f}" y="{frame.top - 4}" '
                         f'font-size="10" fill="#5f6b73">{hour:02d}</text>')
    right = frame.width - RIGHT
    parts.append(f'<line x1="{right}" x2="{right}" y1="{frame.top - 16}" y2="{bottom}" stroke="#8a959c"/>')
    return parts


def _row(frame: _Frame, row: Row, y: float) -> str:
    name = row.name if len(row.name) <= NAME_CHARS else row.name[:NAME_CHARS - 1] + "…"
    text = (f'<text class="machine" x="8" y="{y + ROW_H / 2 + 4:.1f}" fill="#1d2327">'
            f'<title>{escape(row.name)}</title>{escape(name)}</text>')
    if row.href:
        text = f'<a href="{escape(row.href)}">{text}</a>'
    bars = [_bar(frame, bar, y) for bar in sorted(row.bars, key=lambda bar: (bar.kind != LEASE, bar.start))]
    return (f'<g class="row" data-machine="{escape(row.name)}"><line x1="0" x2="{frame.width - RIGHT}" '
            f'y1="{y + ROW_H}" y2="{y + ROW_H}" stroke="#e3e7ea"/>{text}{"".join(bars)}</g>')


def _bar(frame: _Frame, bar: Bar, y: float) -> str:
    week = frame.span
    x1, x2 = frame.x(max(bar.start, week.start)), frame.x(min(bar.end, week.end))
    width = max(x2 - x1, 1.5)
    band = bar.kind == LEASE
    top, height = (y + 1, ROW_H - 2) if band else (y + BAR_TOP, BAR_H)
    fill = coop_colour(bar.coop_id) if bar.kind == BOOKING else FILLS[bar.kind]
    label, text = "", _fit(bar, width, CHAR_W * (10 / 11 if band else 1))
    if text:
        label = (f'<text x="{x1 + 4:.1f}" y="{top + (10 if band else 16):.1f}" font-size="{10 if band else 11}" '
                 f'fill="{INK.get(bar.kind, "#fff")}">{escape(text)}</text>')
    body = (f'<title>{escape(tooltip(bar, frame.zone))}</title><rect x="{x1:.1f}" y="{top:.1f}" '
            f'width="{width:.1f}" height="{height}" rx="3" fill="{fill}"/>{label}')
    if bar.href:
        return f'<a class="bar {bar.kind}" href="{escape(bar.href)}">{body}</a>'
    return f'<g class="bar {bar.kind}">{body}</g>'


def _fit(bar: Bar, width: float, char_width: float) -> str:
    """The bar's label if it fits, else its short label cut to fit with an ellipsis, else nothing."""
    room = int((width - 8) // char_width)
    if len(bar.label) <= room:
        return bar.label
    short = bar.short or bar.label
    if len(short) <= room:
        return short
    return short[:room - 1] + "…" if room >= 4 else ""


def _now_line(frame: _Frame, now: datetime | None, bottom: float) -> list[str]:
    week = frame.span
    if now is None or not week.start <= now < week.end:
        return []
    x, local = frame.x(now), now.astimezone(frame.zone)
    return [f'<g class="now"><title>now, {escape(f"{local:%a %H:%M %Z}")}</title>'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top - 16}" y2="{bottom}" stroke="#c62828" '
            f'stroke-width="2"/><text x="{x + 3:.1f}" y="{bottom + 12}" font-size="10" fill="#c62828">now</text></g>']
