"""Server-rendered SVG charts of the commune's books: money in against money out for a month, a machine's
payback (cumulative rent against what its bonds still owe) and its utilisation (hours charged a month).

No JavaScript; amounts are integer cents and labelled with format_cents. Every chart carries an aria-label
and a <title> that say in words what it shows, and each series has a colour and a dash or hatch of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from factory.domain.money import format_cents
from factory.web.charts import FONT, STYLES

INK, MUTED, GRID, FRAME = "#1d2327", "#5f6b73", "#e3e7ea", "#8a959c"
Segment = tuple[str, int]  # (label, cents)


def nice_ticks(high: int, wanted: int = 4) -> list[int]:
    """0 and round steps (1, 2 or 5 times a power of ten) up to at least `high` (>= 0)."""
    if high <= 0:
        return [0, 1]
    rough = high / wanted
    power = 1
    while power * 10 <= rough:
        power *= 10
    step = next(k * power for k in (1, 2, 5, 10) if k * power >= rough)
    last = -(-high // step)
    return [k * step for k in range(last + 1)]


def stacked_bars(rows: Sequence[tuple[str, Sequence[Segment]]], *, title: str, width: int = 560,
                 row_height: int = 34) -> Markup:
    """Horizontal bars, one a row, each stacked from its segments (label, cents); on one scale so the rows
    compare. Negative segments are not drawn (they are named in the description)."""
    left, right, top = 110, 96, 14
    labels = list(dict.fromkeys(label for _row, segments in rows for label, _c in segments))
    legend_rows = -(-len(labels) // 3)
    height = top + row_height * len(rows) + 12 + 20 * legend_rows
    totals = [sum(max(c, 0) for _l, c in segments) for _row, segments in rows]
    scale = max([*totals, 1])
    span = width - left - right
    parts = []
    for index, (row, segments) in enumerate(rows):
        y = top + index * row_height
        parts.append(f'<text x="{left - 8}" y="{y + row_height / 2 + 4:.0f}" text-anchor="end" fill="{INK}">'
                     f'{escape(row)}</text>')
        x = float(left)
        for label, cents in segments:
            if cents <= 0:
                continue
            w = span * cents / scale
            colour = STYLES[labels.index(label) % len(STYLES)][0]
            parts.append(f'<rect class="segment" data-segment="{escape(label)}" data-cents="{cents}" x="{x:.1f}" '
                         f'y="{y + 6}" width="{w:.1f}" height="{row_height - 12}" fill="{colour}" '
                         f'fill-opacity="{_opacity(labels.index(label))}" stroke="#fff">'
                         f'<title>{escape(label)}: {escape(format_cents(cents))}</title></rect>')
            x += w
        parts.append(f'<text class="total" x="{x + 6:.1f}" y="{y + row_height / 2 + 4:.0f}" fill="{INK}">'
                     f'{escape(format_cents(totals[index]))}</text>')
    parts += _swatches(labels, top + row_height * len(rows) + 12, width)
    said = "; ".join(f"{row} {format_cents(sum(c for _l, c in segments))}"
                     + (f" ({', '.join(f'{label} {format_cents(c)}' for label, c in segments)})" if len(segments) > 1
                        else "") for row, segments in rows)
    return _svg(width, height, f"{title}: {said}", parts)


def payback_chart(points: Sequence[tuple[str, int, int]], *, width: int = 560, height: int = 240) -> Markup:
    """Per closed month (month, cumulative rent, bond balance at its end): two lines on one euro axis."""
    title = "Payback: cumulative rent against bond balance"
    if not points:
        return _empty(width, height, f"{title}: no closed months yet", "No closed months yet.")
    series = {"Cumulative rent": [rent for _m, rent, _b in points], "Bonds still owed": [b for _m, _r, b in points]}
    ticks = nice_ticks(max(max(values) for values in series.values()))
    frame = _Frame(width, height, len(points), ticks[-1])
    parts = [frame.box(), *frame.y_axis(ticks), *frame.x_labels([m for m, _r, _b in points])]
    for i, (label, values) in enumerate(series.items()):
        colour, dash = STYLES[i % len(STYLES)]
        xy = [(frame.x(k), frame.y(v)) for k, v in enumerate(values)]
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in xy)
        parts.append(f'<g class="series" data-series="{escape(label)}"><path d="{path}{" h0.1" if len(xy) == 1 else ""}'
                     f'" fill="none" stroke="{colour}" stroke-width="2"{dashing}/>{dots}'
                     f'<title>{escape(label)}</title></g>')
    parts += _legend_lines(list(series))
    last_month, rent, owed = points[-1]
    return _svg(width, height, f"{title}, {points[0][0]} to {last_month}: rent so far {format_cents(rent)}, "
                               f"bonds still owed {format_cents(owed)}", parts)


def utilisation_chart(rows: Sequence[tuple[str, int]], *, width: int = 560, height: int = 220) -> Markup:
    """Per closed month (month, minutes charged): a bar of hours."""
    title = "Utilisation: hours charged per closed month"
    if not rows:
        return _empty(width, height, f"{title}: no closed months yet", "No closed months yet.")
    hours = [minutes / 60 for _m, minutes in rows]
    ticks = nice_ticks(int(-(-max(hours) // 1)))
    frame = _Frame(width, height, len(rows), ticks[-1], bars=True)
    parts = [frame.box(), *frame.y_axis(ticks, unit="h", money=False), *frame.x_labels([m for m, _ in rows])]
    bar = max(4.0, frame.slot * 0.6)
    for k, ((month, minutes), value) in enumerate(zip(rows, hours, strict=True)):
        y = frame.y(value)
        parts.append(f'<rect class="bar" data-month="{month}" data-minutes="{minutes}" x="{frame.x(k) - bar / 2:.1f}" '
                     f'y="{y:.1f}" width="{bar:.1f}" height="{frame.y(0) - y:.1f}" fill="{STYLES[0][0]}">'
                     f'<title>{month}: {_hours(minutes)}</title></rect>')
    said = ", ".join(f"{month} {_hours(minutes)}" for month, minutes in rows)
    return _svg(width, height, f"{title}: {said}", parts)


class _Frame:
    """Maps (column index, value) onto the plot area; columns are evenly spaced months."""

    left, right, top, bottom = 72, 16, 34, 40

    def __init__(self, width: int, height: int, columns: int, high: int | float, *, bars: bool = False):
        self.width, self.height, self.columns, self.high = width, height, columns, high or 1
        self.bars = bars
        plot = width - self.left - self.right
        self.slot = plot / columns if bars else plot / max(columns - 1, 1)

    def x(self, column: int) -> float:
        if self.bars:
            return self.left + self.slot * (column + 0.5)
        if self.columns == 1:
            return self.left + (self.width - self.left - self.right) / 2
        return self.left + self.slot * column

    def y(self, value: float) -> float:
        return self.height - self.bottom - value / self.high * (self.height - self.top - self.bottom)

    def box(self) -> str:
        w, h = self.width - self.left - self.right, self.height - self.top - self.bottom
        return (f'<rect class="plot" x="{self.left}" y="{self.top}" width="{w}" height="{h}" fill="#fff" '
                f'stroke="{FRAME}"/>')

    def y_axis(self, ticks: list[int], *, unit: str = "", money: bool = True) -> list[str]:
        parts = []
        for value in ticks:
            y = self.y(value)
            text = format_cents(value) if money else f"{value} {unit}"
            parts.append(f'<line x1="{self.left}" x2="{self.width - self.right}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="{GRID}"/><text x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end" '
                         f'fill="{INK}">{escape(text)}</text>')
        return parts

    def x_labels(self, months: list[str]) -> list[str]:
        every = max(1, -(-len(months) * 64 // max(self.width - self.left - self.right, 1)))
        bottom = self.height - self.bottom
        return [f'<text class="tick" x="{self.x(k):.1f}" y="{bottom + 18}" text-anchor="middle" fill="{INK}">'
                f'{escape(month)}</text>' for k, month in enumerate(months) if k % every == 0 or k == len(months) - 1]


def _legend_lines(labels: list[str]) -> list[str]:
    parts, x = [], _Frame.left
    for i, label in enumerate(labels):
        colour, dash = STYLES[i % len(STYLES)]
        dashing = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="legend-item"><line x1="{x}" x2="{x + 26}" y1="14" y2="14" stroke="{colour}" '
                     f'stroke-width="3"{dashing}/><text x="{x + 32}" y="18" fill="{INK}">{escape(label)}</text></g>')
        x += 44 + 7 * len(label)
    return parts


def _swatches(labels: list[str], y: int, width: int) -> list[str]:
    parts, column = [], (width - 20) // 3
    for i, label in enumerate(labels):
        x, row_y = 10 + (i % 3) * column, y + (i // 3) * 20
        parts.append(f'<g class="legend-item"><rect x="{x}" y="{row_y}" width="14" height="14" '
                     f'fill="{STYLES[i % len(STYLES)][0]}" fill-opacity="{_opacity(i)}"/>'
                     f'<text x="{x + 20}" y="{row_y + 12}" fill="{INK}">{escape(label)}</text></g>')
    return parts


def _opacity(index: int) -> str:
    """Past the four colours, lighter shades of them, so neighbouring segments still differ."""
    return "1" if index < len(STYLES) else "0.55"


def _hours(minutes: int) -> str:
    return f"{minutes / 60:.1f} h"


def _empty(width: int, height: int, description: str, words: str) -> Markup:
    return _svg(width, height, description, [
        f'<rect class="plot" x="1" y="1" width="{width - 2}" height="{height - 2}" fill="#fff" stroke="{FRAME}"/>',
        f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" fill="{MUTED}" class="chart-empty">'
        f'{escape(words)}</text>'])


def _svg(width: int, height: int, description: str, parts: list[str]) -> Markup:
    label = escape(description)
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart ledger-chart" viewBox="0 0 {width} {height}" '
                  f'role="img" aria-label="{label}" {FONT}><title>{label}</title>{"".join(parts)}</svg>')
