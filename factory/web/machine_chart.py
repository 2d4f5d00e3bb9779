"""The drawing the week timeline (timeline.py) and the plan's Gantt chart (gantt.py) share: a frame of
site-local day columns with its day axis, a machine's row, the legend, label fitting, the now-line and the
`<svg>` around them.

A day column is one site-local date, and x inside it is the real time since local midnight over the day's
real length, so the 23- and 25-hour days of a clock change are drawn as they were lived and the hour ticks
sit where the site's clocks showed them (a tick in an hour the clocks skip is left out).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from factory.domain.local_time import Span, local_date, wall_to_utc

LEFT, RIGHT = 150, 10  # room for the machine names; margin after the last day
CHAR_W = 6.4  # rough width of a label character, to tell whether a label fits its bar
NAME_CHARS = 22
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
NOW = "#c62828"


def days_span(first_day: date, days: int, zone: ZoneInfo) -> Span:
    """The `days` local days from `first_day`, in UTC."""
    return Span(wall_to_utc(first_day, 0, zone), wall_to_utc(first_day, days * 1440, zone))


@dataclass(frozen=True)
class Frame:
    """`days` day columns from `first_day` across `width`, the first row's top at `top`; a row is `row_h`
    high and its bars `lane_h`, `lane_top` below the row's top."""

    first_day: date
    days: int
    zone: ZoneInfo
    width: int
    top: float
    row_h: int
    lane_top: int
    lane_h: int

    @property
    def day_width(self) -> float:
        return (self.width - LEFT - RIGHT) / self.days

    @property
    def span(self) -> Span:
        return days_span(self.first_day, self.days, self.zone)

    def day_span(self, day: date) -> Span:
        return days_span(day, 1, self.zone)

    def x(self, moment: datetime) -> float:
        whole = self.span
        if moment <= whole.start:
            return LEFT
        if moment >= whole.end:
            return self.width - RIGHT
        day = local_date(moment, self.zone)
        within = self.day_span(day)
        return LEFT + ((day - self.first_day).days + (moment - within.start) / within.duration) * self.day_width

    def extent(self, start: datetime, end: datetime) -> tuple[float, float]:
        """x and width of `[start, end)`, cut at the frame's edges and at least 1.5 wide."""
        x1 = self.x(start)
        return x1, max(self.x(end) - x1, 1.5)


def svg(css_class: str, width: int, height: float, description: str, parts: Sequence[str]) -> Markup:
    label = escape(description)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" viewBox="0 0 {width} {height:.0f}" '
                  f'role="img" aria-label="{label}" {FONT}><title>{label}</title>{"".join(parts)}</svg>')


def legend(entries: Iterable[tuple[str, str]], width: int) -> tuple[list[str], int]:
    """Swatches of `(style, name)`, `style` the swatch's fill (and stroke) attributes, wrapped onto as many
    lines as they need; with the height they take."""
    parts, x, y = [], 8.0, 16
    for style, name in entries:
        needed = 22 + CHAR_W * len(name) + 14
        if x + needed > width and x > 8:
            x, y = 8.0, y + 18
        outline = "" if "stroke=" in style else 'stroke="#8a959c" '
        parts.append(f'<g class="legend-item"><rect x="{x:.1f}" y="{y - 10}" width="16" height="11" rx="2" '
                     f'{outline}{style}/><text x="{x + 22:.1f}" y="{y}" fill="#1d2327">{escape(name)}'
                     f'</text></g>')
        x += needed
    return parts, y + 10


def day_axis(frame: Frame, bottom: float, hours: Iterable[int], *, heading_above: int) -> list[str]:
    """A heading per day (with its length when it is not 24 hours), a tick at each of the local `hours`
    and a line after the last day; the headings sit `heading_above` over the first row."""
    parts, hours = [], tuple(hours)
    for index in range(frame.days):
        day = frame.first_day + timedelta(days=index)
        length = frame.day_span(day).duration / timedelta(hours=1)
        name = f"{day:%a} {day.day}" + ("" if frame.days > 7 else f" {day:%b}")
        heading = name + ("" if length == 24 else f" ({length:g} h)")
        centre = LEFT + (index + 0.5) * frame.day_width
        parts.append(f'<text class="day" data-day="{day.isoformat()}" x="{centre:.1f}" '
                     f'y="{frame.top - heading_above}" text-anchor="middle" font-weight="600" fill="#1d2327">'
                     f'{escape(heading)}</text>')
        for hour in hours:
            moment = wall_to_utc(day, hour * 60, frame.zone)
            if moment.astimezone(frame.zone).hour != hour:
                continue  # the clocks skip this hour today
            x = frame.x(moment)
            stroke = "#8a959c" if hour == 0 else "#e3e7ea"
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top - 16}" y2="{bottom}" stroke="{stroke}"/>'
                         f'<text class="tick" data-day="{day.isoformat()}" x="{x + 2:.1f}" y="{frame.top - 4}" '
                         f'font-size="10" fill="#5f6b73">{hour:02d}</text>')
    right = frame.width - RIGHT
    parts.append(f'<line x1="{right}" x2="{right}" y1="{frame.top - 16}" y2="{bottom}" stroke="#8a959c"/>')
    return parts


def machine_row(frame: Frame, name: str, href: str | None, y: float, drawn: Iterable[str]) -> str:
    """A machine's row at `y`: its name (cut to NAME_CHARS, in full in the tooltip, linked to `href`), the
    already drawn bars and a line under it."""
    shown = name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…"
    text = (f'<text class="machine" x="8" y="{y + frame.row_h / 2 + 4:.1f}" fill="#1d2327">'
            f'<title>{escape(name)}</title>{escape(shown)}</text>')
    if href:
        text = f'<a href="{escape(href)}">{text}</a>'
    bottom = y + frame.row_h
    return (f'<g class="row" data-machine="{escape(name)}"><line x1="0" x2="{frame.width - RIGHT}" '
            f'y1="{bottom}" y2="{bottom}" stroke="#e3e7ea"/>{text}{"".join(drawn)}</g>')


def fit(label: str, short: str, width: float, char_width: float) -> str:
    """`label` if it fits `width`, else `short` cut to fit with an ellipsis, else nothing."""
    room = int((width - 8) // char_width)
    if len(label) <= room:
        return label
    short = short or label
    if len(short) <= room:
        return short
    return short[:room - 1] + "…" if room >= 4 else ""


def now_line(frame: Frame, now: datetime | None, bottom: float, *, clock: bool) -> list[str]:
    """A red line at `now` if it is within the frame, labelled "now" (and the local time when `clock`)."""
    whole = frame.span
    if now is None or not whole.start <= now < whole.end:
        return []
    x, local = frame.x(now), now.astimezone(frame.zone)
    said = f"now {local:%H:%M}" if clock else "now"
    return [f'<g class="now"><title>now, {escape(f"{local:%a %H:%M %Z}")}</title>'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{frame.top - 16}" y2="{bottom}" stroke="{NOW}" '
            f'stroke-width="2"/><text x="{x + 3:.1f}" y="{bottom + 12}" font-size="10" fill="{NOW}">'
            f'{said}</text></g>']
