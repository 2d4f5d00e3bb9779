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
from factory.domain.local_time import Span
from factory.web.machine_chart import CHAR_W, LEFT, Frame, day_axis, days_span, fit, legend, machine_row, now_line, svg

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
HEADER, ROW_H, BAR_TOP, BAR_H, FOOTER = 36, 40, 12, 24, 16
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


def week_timeline(rows: Sequence[Row], *, first_day: date, time_zone: str, now: datetime | None = None,
                  member_coop_id: int | None = None, title: str = "Machine time", width: int = 960) -> Markup:
    """An `<svg>` of `rows` over the seven local days from `first_day`, as `member_coop_id` may see them."""
    zone = ZoneInfo(time_zone)
    week = days_span(first_day, 7, zone)
    shown = [replace(row, bars=tuple(for_viewer(bar, member_coop_id) for bar in row.bars
                                     if bar.start < week.end and week.start < bar.end)) for row in rows]
    swatches, legend_height = _legend(shown, width, member=member_coop_id is not None)
    frame = Frame(first_day, 7, zone, width, legend_height + HEADER, ROW_H, BAR_TOP, BAR_H)
    bottom = frame.top + ROW_H * max(1, len(shown))
    parts = [HATCH, *swatches, *day_axis(frame, bottom, HOURS, heading_above=22)]
    parts += [_row(frame, row, frame.top + i * ROW_H) for i, row in enumerate(shown)]
    if not shown:
        parts.append(f'<text x="{LEFT + 8}" y="{frame.top + 24}" fill="#5f6b73">No machines here.</text>')
    parts += now_line(frame, now, bottom, clock=False)
    last = first_day + timedelta(days=6)
    said = f"{title}, {first_day:%a} {first_day.day} {first_day:%b} to {last:%a} {last.day} {last:%b %Y} " \
           f"({time_zone}): " + "; ".join(_row_summary(row) for row in shown)
    return svg("timeline", width, bottom + FOOTER, said, parts)


def held_bar(frame: Frame, bar: Bar, y: float, *, style: str, ink: str, words: str) -> str:
    """`bar` on the row at `y`: a lease as a band the row's height behind the rest, the others in the row's
    lane; `style` gives the fill, `ink` the label's colour, `words` the label (shortened to fit)."""
    x, width = frame.extent(bar.start, bar.end)
    band = bar.kind == LEASE
    top, height = (y + 1, frame.row_h - 2) if band else (y + frame.lane_top, frame.lane_h)
    text = fit(words, bar.short or bar.label, width, CHAR_W * (10 / 11 if band else 1))
    label = (f'<text x="{x + 4:.1f}" y="{top + (10 if band else frame.lane_h / 2 + 4):.1f}" '
             f'font-size="{10 if band else 11}" fill="{ink}">{escape(text)}</text>') if text else ""
    body = (f'<title>{escape(tooltip(bar, frame.zone))}</title><rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{height}" rx="3" {style}/>{label}')
    if bar.href:
        return f'<a class="bar {bar.kind}" href="{escape(bar.href)}">{body}</a>'
    return f'<g class="bar {bar.kind}">{body}</g>'


def held_first(bars: Sequence[Bar]) -> list[Bar]:
    """`bars` by start, the lease bands first so that what happens inside them is drawn over them."""
    return sorted(bars, key=lambda bar: (bar.kind != LEASE, bar.start))


def _row_summary(row: Row) -> str:
    counts = Counter(bar.kind for bar in row.bars)
    said = [f"{name} {counts[kind]}" for kind, name in COUNTED if counts[kind]]
    return f"{row.name}: {', '.join(said) or 'nothing booked'}"


def _legend(rows: list[Row], width: int, *, member: bool) -> tuple[list[str], int]:
    """Swatches of the co-ops on show and of the other kinds."""
    coops = sorted({(bar.label, bar.coop_id) for row in rows for bar in row.bars if bar.kind == BOOKING})
    entries = [(coop_colour(coop_id), name) for name, coop_id in coops]
    entries += [(FILLS[kind], name) for kind, name in LEGEND if member or kind != BOOKED]
    return legend(((f'fill="{fill}"', name) for fill, name in entries), width)


def _row(frame: Frame, row: Row, y: float) -> str:
    bars = [held_bar(frame, bar, y, style=f'fill="{_fill(bar)}"', ink=INK.get(bar.kind, "#fff"), words=bar.label)
            for bar in held_first(row.bars)]
    return machine_row(frame, row.name, row.href, y, bars)


def _fill(bar: Bar) -> str:
    return coop_colour(bar.coop_id) if bar.kind == BOOKING else FILLS[bar.kind]
