"""Server-rendered SVG line charts of what machines report: no JavaScript, no CDN, prints as it shows.

Times come in as UTC and are labelled in the site's time zone, tick by tick, so a chart over the night the
clocks go back shows both two o'clocks. Each series has its own colour (at least 4.5:1 on white) and its own
dash, so it reads without colour too. A line breaks where readings stop for longer than a few of its own
sample intervals instead of drawing a straight line through a power cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

Point = tuple[datetime, float]

# (colour, dash pattern): Okabe-Ito hues darkened for contrast on white; solid, dashed, dotted, dash-dot.
STYLES = (("#0b5fa5", ""), ("#b4410c", "8 4"), ("#14733a", "2 4"), ("#7a3e9d", "10 4 2 4"))
TICK_STEPS_MIN = (10, 15, 30, 60, 120, 180, 360, 720, 1440)
GAP_FACTOR = 3
MARGIN = {"left": 56, "right": 14, "top": 34, "bottom": 36}
FONT = 'font-family="system-ui, sans-serif" font-size="12"'
TICK_SPACING = 72  # pixels a time label needs, so a narrow chart gets fewer of them


@dataclass(frozen=True)
class ChartSpec:
    """One chart of a machine's page: which metrics share it, its caption and its unit.

    `optional` charts are left out when the machine never reported any of their metrics.
    """

    title: str
    unit: str
    metrics: tuple[str, ...]
    optional: bool = False


TEMPERATURES = ChartSpec("Temperatures", "°C", ("hotend_c", "bed_c", "chamber_c"))
CHARTS_BY_KIND = {
    "fdm_printer": (ChartSpec("Temperatures", "°C", ("hotend_c", "bed_c")),),
    "resin_printer": (ChartSpec("Temperatures", "°C", ("chamber_c",)),),
    "kiln": (ChartSpec("Chamber temperature", "°C", ("chamber_c",)),),
    "furnace": (ChartSpec("Chamber temperature", "°C", ("chamber_c",)),),
    "cnc_mill": (ChartSpec("Spindle speed", "rpm", ("spindle_rpm",)),
                 ChartSpec("Spindle load", "W", ("power_w",), optional=True)),
    "cnc_router": (ChartSpec("Spindle speed", "rpm", ("spindle_rpm",)),
                   ChartSpec("Spindle load", "W", ("power_w",), optional=True)),
    "laser_cutter": (ChartSpec("Laser power", "W", ("power_w",)),),
}


def charts_for(kind: str) -> tuple[ChartSpec, ...]:
    """The charts a machine of `kind` gets on its page; temperatures for any kind not listed."""
    return CHARTS_BY_KIND.get(kind, (TEMPERATURES,))


@dataclass(frozen=True)
class _Frame:
    """Maps times and values onto the plot area of a width x height drawing."""

    since: datetime
    until: datetime
    low: float
    high: float
    width: int
    height: int

    def x(self, moment: datetime) -> float:
        share = (moment - self.since) / (self.until - self.since)
        return MARGIN["left"] + share * (self.width - MARGIN["left"] - MARGIN["right"])

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.height - MARGIN["bottom"] - share * (self.height - MARGIN["top"] - MARGIN["bottom"])


def line_chart(series: dict[str, list[Point]], *, since: datetime, until: datetime, time_zone: str,
               unit: str, title: str = "Readings", width: int = 480, height: int = 220,
               max_gap: timedelta | None = None) -> Markup:
    """An `<svg>` of each series (label -> [(UTC time, value)]) between `since` and `until`.

    `max_gap` overrides where lines break (default: a few times the series' median sample interval);
    pass it when samples were averaged into buckets wider than the raw interval.
    """
    zone = ZoneInfo(time_zone)
    drawn = {label: sorted(p for p in points if since <= p[0] <= until) for label, points in series.items()}
    values = [value for points in drawn.values() for _, value in points]
    window = _window(since, until, zone, time_zone)
    if not values:
        return _svg(width, height, f"{title} ({unit}), {window}: no readings", [
            _frame_box(width, height),
            f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" class="chart-empty">'
            f'No readings from {escape(window)}.</text>'])
    ticks = _value_ticks(min(values), max(values))
    frame = _Frame(since, until, ticks[0], ticks[-1], width, height)
    parts = [_frame_box(width, height), *_y_axis(frame, ticks, unit), *_x_axis(frame, zone)]
    parts += [_series_path(label, points, frame, STYLES[i % len(STYLES)], max_gap)
              for i, (label, points) in enumerate(drawn.items()) if points]
    parts += _legend(drawn)
    return _svg(width, height, f"{title} ({unit}), {window}: {_summary(drawn, unit)}", parts)


def _svg(width: int, height: int, description: str, parts: list[str]) -> Markup:
    label = escape(description)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
                  f'role="img" aria-label="{label}" {FONT}><title>{label}</title>{"".join(parts)}</svg>')


def _frame_box(width: int, height: int) -> str:
    w, h = width - MARGIN["left"] - MARGIN["right"], height - MARGIN["top"] - MARGIN["bottom"]
    return (f'<rect class="plot" x="{MARGIN["left"]}" y="{MARGIN["top"]}" width="{w}" height="{h}" '
            f'fill="#fff" stroke="#8a959c"/>')


def _summary(drawn: dict[str, list[Point]], unit: str) -> str:
    """Latest value and range of each series, for people who cannot see the lines."""
    said = []
    for label, points in drawn.items():
        if not points:
            said.append(f"{label} no readings")
            continue
        values = [value for _, value in points]
        said.append(f"{label} latest {_number(points[-1][1])} {unit}, "
                    f"range {_number(min(values))} to {_number(max(values))}")
    return "; ".join(said)


def _number(value: float, step: float | None = None) -> str:
    if step is not None:
        decimals = max(0, -math.floor(math.log10(step)))
        return f"{value:.{decimals}f}"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _value_ticks(low: float, high: float, wanted: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) covering [low, high]."""
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    rough = (high - low) / wanted
    power = 10 ** math.floor(math.log10(rough))
    step = next(k * power for k in (1, 2, 5, 10) if k * power >= rough)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(k * step, 10) for k in range(first, last + 1)]


def _y_axis(frame: _Frame, ticks: list[float], unit: str) -> list[str]:
    step = ticks[1] - ticks[0]
    left, right = MARGIN["left"], frame.width - MARGIN["right"]
    parts = [f'<text x="12" y="{MARGIN["top"] - 12}" fill="#5f6b73">{escape(unit)}</text>']
    for value in ticks:
        y = frame.y(value)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ea"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#1d2327">'
                     f'{escape(_number(value, step))}</text>')
    return parts


def time_ticks(since: datetime, until: datetime, zone: ZoneInfo, most: int = 7) -> list[tuple[datetime, str]]:
    """Instants in [since, until] where the site's wall clock shows a round time, with their labels.

    Candidates are walked in UTC quarter hours and kept by their local reading, so daylight saving
    changes (a repeated or skipped hour) and half-hour zones come out as the site's clocks show them.
    """
    span_min = (until - since).total_seconds() / 60
    step = next((s for s in TICK_STEPS_MIN if span_min / s <= most), TICK_STEPS_MIN[-1])
    moment = since.replace(second=0, microsecond=0) + timedelta(minutes=-(since.minute % 15))
    ticks, last_abbreviation = [], None
    while moment <= until:
        local = moment.astimezone(zone)
        minute_of_day = local.hour * 60 + local.minute
        if moment >= since and minute_of_day % step == 0:
            abbreviation = local.tzname()
            label = _clock(moment, zone, since, until)
            if last_abbreviation is not None and abbreviation != last_abbreviation:
                label = f"{label} {abbreviation}"
            ticks.append((moment, label))
            last_abbreviation = abbreviation
        moment += timedelta(minutes=15)
    return ticks


def _window(since: datetime, until: datetime, zone: ZoneInfo, time_zone: str) -> str:
    """`08:00 to 14:00 Europe/Berlin`; with each end's abbreviation when daylight saving changed between."""
    ends = [_clock(moment, zone, since, until) for moment in (since, until)]
    names = [moment.astimezone(zone).tzname() for moment in (since, until)]
    if names[0] != names[1]:
        ends = [f"{end} {name}" for end, name in zip(ends, names, strict=True)]
    return f"{ends[0]} to {ends[1]} {time_zone}"


def _clock(moment: datetime, zone: ZoneInfo, since: datetime, until: datetime) -> str:
    fmt = "%a %H:%M" if until - since > timedelta(hours=24) else "%H:%M"
    return moment.astimezone(zone).strftime(fmt)


def _x_axis(frame: _Frame, zone: ZoneInfo) -> list[str]:
    bottom = frame.height - MARGIN["bottom"]
    parts = []
    most = max(2, (frame.width - MARGIN["left"] - MARGIN["right"]) // TICK_SPACING)
    for moment, label in time_ticks(frame.since, frame.until, zone, most):
        x = frame.x(moment)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 5}" stroke="#8a959c"/>'
                     f'<text class="tick" x="{x:.1f}" y="{bottom + 19}" text-anchor="middle" fill="#1d2327">'
                     f'{escape(label)}</text>')
    return parts


def _segments(points: list[Point], max_gap: timedelta | None) -> list[list[Point]]:
    """Runs of points with no silence longer than `max_gap` between neighbours."""
    steps = [b[0] - a[0] for a, b in zip(points, points[1:], strict=False)]
    if max_gap is None:
        max_gap = GAP_FACTOR * median(steps) if steps else timedelta(0)
    runs = [[points[0]]]
    for step, point in zip(steps, points[1:], strict=True):
        if step > max_gap:
            runs.append([])
        runs[-1].append(point)
    return runs


def _thin(run: list[Point], frame: _Frame) -> list[tuple[float, float]]:
    """Pixel coordinates of a run, averaged to one point per pixel column so long windows stay light."""
    columns: dict[int, list[tuple[float, float]]] = {}
    for moment, value in run:
        x, y = frame.x(moment), frame.y(value)
        columns.setdefault(round(x), []).append((x, y))
    return [(sum(x for x, _ in col) / len(col), sum(y for _, y in col) / len(col)) for col in columns.values()]


def _series_path(label: str, points: list[Point], frame: _Frame, style: tuple[str, str],
                 max_gap: timedelta | None) -> str:
    commands = []
    for run in _segments(points, max_gap):
        xy = _thin(run, frame)
        commands.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + (" h0.1" if len(xy) == 1 else ""))
    colour, dash = style
    dashing = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<path class="series" data-series="{escape(label)}" d="{" ".join(commands)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"{dashing}>'
            f'<title>{escape(label)}</title></path>')


def _legend(drawn: dict[str, list[Point]]) -> list[str]:
    parts, x = [], MARGIN["left"]
    for i, (label, points) in enumerate(drawn.items()):
        colour, dash = STYLES[i % len(STYLES)]
        text = label if points else f"{label} (no readings)"
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="legend-item"><line x1="{x}" x2="{x + 26}" y1="14" y2="14" stroke="{colour}" '
                     f'stroke-width="3"{dashing}/><text x="{x + 32}" y="18" fill="#1d2327">{escape(text)}</text></g>')
        x += 44 + 7 * len(text)
    return parts
