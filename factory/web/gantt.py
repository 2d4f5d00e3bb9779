"""A site's plan as a server-rendered SVG Gantt chart: a row per machine over 1 to 14 site-local days.

Pure, like the week timeline (timeline.py) whose colours and held-time bars it shares, and drawn on the
same site-local day columns (machine_chart.py): the page hands in rows of planned operations (`Planned`,
UTC spans) and of what else holds the machines' time (timeline `Bar`s: bookings, maintenance, lease
windows, breakdowns), and who is looking.

The privacy rule is applied here, once, in `operation_for_viewer` (and the timeline's `for_viewer` for
bookings): a member sees another co-op's operation only as an anonymous grey "planned" block, without
order, co-op, step, lateness or marks. `listing` gives the same operations, as the viewer may see them, as
the lines of a text table for screen readers and paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from factory.domain.booking_rules import span_text
from factory.domain.local_time import Span
from factory.web.machine_chart import (
    CHAR_W,
    LEFT,
    NOW,
    Frame,
    day_axis,
    days_span,
    fit,
    legend,
    machine_row,
    now_line,
    svg,
)
from factory.web.timeline import (
    BOOKED,
    BOOKING,
    BREAKDOWN,
    FILLS,
    HATCH,
    INK,
    LEASE,
    MAINTENANCE,
    Bar,
    coop_colour,
    for_viewer,
    held_bar,
    held_first,
)

DAY_CHOICES = (1, 3, 7, 14)
DEFAULT_DAYS = 3
TICK_HOURS = {1: 2, 3: 6, 7: 12, 14: 24}  # hours between ticks, by the number of days shown
HEADER, ROW_H, LANE_TOP, LANE_H, FOOTER = 40, 46, 9, 28, 18
LATE, MARK, OTHER = NOW, "#1d2327", FILLS[BOOKED]  # another co-op's operation: the grey of "booked"
LEGEND_MARKS = (("booking", "booking (pale)"), (BOOKED, "booked (another co-op)"), (MAINTENANCE, "maintenance"),
                (LEASE, "lease window"), (BREAKDOWN, "out of use"))
PRINT = ("<style>@media print { .gantt .now line { stroke: #000; } .gantt .now text { fill: #000; } "
         ".gantt .op rect.body { stroke: #000; stroke-width: .8; } }</style>")


@dataclass(frozen=True)
class Planned:
    """A planned operation, `[start, end)` in UTC. `order_id` None: an operation the viewer may not know."""

    start: datetime
    end: datetime
    order_id: int | None = None
    job: int | None = None
    step: int | None = None
    step_name: str = ""
    coop_id: int | None = None
    coop: str = ""
    design: str = ""
    status: str = "planned"
    fixed: str = ""  # "running", "pinned" or "" (the planner's choice)
    late_minutes: int = 0  # of its job, on the job's last step
    href: str | None = None
    operation_id: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.order_id is None

    @property
    def label(self) -> str:
        if self.anonymous:
            return "planned"
        return f"#{self.order_id} job {self.job} · {self.step}. {self.step_name}"

    @property
    def short(self) -> str:
        return "" if self.anonymous else f"#{self.order_id}/{self.job}/{self.step}"

    @property
    def marks(self) -> list[str]:
        """What is special about it, in words: running, pinned, late by how much."""
        said = [self.fixed] if self.fixed else []
        if self.status == "running" and "running" not in said:
            said.insert(0, "running")
        if self.late_minutes > 0:
            said.append(f"late by {hours_text(self.late_minutes)}")
        return said


@dataclass(frozen=True)
class GanttRow:
    name: str
    operations: tuple[Planned, ...] = ()
    held: tuple[Bar, ...] = ()  # bookings, maintenance, lease windows and breakdowns, as timeline bars
    href: str | None = None


@dataclass(frozen=True)
class Line:
    """One line of the text table under the chart."""

    machine: str
    starts: str
    ends: str
    operation: Planned
    coop: str
    what: str


def hours_text(minutes: int) -> str:
    return f"{minutes} min" if minutes < 60 else f"{minutes / 60:.1f} h".replace(".0 h", " h")


def operation_for_viewer(op: Planned, member_coop_id: int | None) -> Planned:
    """What the viewer may know of `op`: everything for stewards and admins (None) and for the op's own
    co-op's members; for other members only that the machine has planned work then."""
    if member_coop_id is None or op.coop_id == member_coop_id:
        return op
    return Planned(op.start, op.end)


def op_tooltip(op: Planned, zone: ZoneInfo) -> str:
    when = span_text(Span(op.start, op.end), zone)
    if op.anonymous:
        return f"planned operation of another co-op, {when}"
    words = f"Order #{op.order_id}" + (f" ({op.design})" if op.design else "") + f" for {op.coop}, job {op.job}, " \
            f"step {op.step} ({op.step_name}), {when}; {op.status}"
    return "; ".join([words, *(m for m in op.marks if m != op.status)])


def gantt_chart(rows: Sequence[GanttRow], *, first_day: date, days: int = DEFAULT_DAYS, time_zone: str,
                now: datetime | None = None, member_coop_id: int | None = None, title: str = "Plan",
                width: int = 1100) -> Markup:
    """An `<svg>` of `rows` over the `days` local days from `first_day`, as `member_coop_id` may see them."""
    if days not in DAY_CHOICES:
        raise ValueError(f"days must be one of {DAY_CHOICES}")
    zone = ZoneInfo(time_zone)
    shown = _shown(rows, days_span(first_day, days, zone), member_coop_id)
    swatches, legend_height = _legend(shown, width, member=member_coop_id is not None)
    frame = Frame(first_day, days, zone, width, legend_height + HEADER, ROW_H, LANE_TOP, LANE_H)
    bottom = frame.top + ROW_H * max(1, len(shown))
    hours = range(0, 24, TICK_HOURS[days])
    parts = [PRINT, HATCH, *swatches, *day_axis(frame, bottom, hours, heading_above=24)]
    parts += [_row(frame, row, frame.top + i * ROW_H) for i, row in enumerate(shown)]
    if not shown:
        parts.append(f'<text x="{LEFT + 8}" y="{frame.top + 26}" fill="#5f6b73">No machines here.</text>')
    parts += now_line(frame, now, bottom, clock=True)
    last = first_day + timedelta(days=days - 1)
    said = f"{title}, {first_day:%a} {first_day.day} {first_day:%b}" + \
           ("" if days == 1 else f" to {last:%a} {last.day} {last:%b}") + f" {last:%Y} ({time_zone}): " + \
           "; ".join(_row_summary(row) for row in shown)
    return svg("timeline gantt", width, bottom + FOOTER, said, parts)


def listing(rows: Sequence[GanttRow], *, first_day: date, days: int = DEFAULT_DAYS, time_zone: str,
            member_coop_id: int | None = None) -> list[Line]:
    """The chart's operations as text lines, by start, as `member_coop_id` may see them."""
    zone = ZoneInfo(time_zone)
    shown = _shown(rows, days_span(first_day, days, zone), member_coop_id)
    lines = []
    for row in shown:
        for op in row.operations:
            what = "another co-op's operation" if op.anonymous else ", ".join(dict.fromkeys([op.status, *op.marks]))
            lines.append(Line(row.name, f"{op.start.astimezone(zone):%a %d %b %H:%M %Z}",
                              f"{op.end.astimezone(zone):%a %d %b %H:%M %Z}", op,
                              "another co-op" if op.anonymous else op.coop, what))
    return sorted(lines, key=lambda line: (line.operation.start, line.machine))


def _shown(rows: Sequence[GanttRow], window: Span, member_coop_id: int | None) -> list[GanttRow]:
    def meets(thing) -> bool:
        return thing.start < window.end and window.start < thing.end

    return [GanttRow(row.name, tuple(operation_for_viewer(op, member_coop_id) for op in row.operations if meets(op)),
                     tuple(for_viewer(bar, member_coop_id) for bar in row.held if meets(bar)), row.href)
            for row in rows]


def _row_summary(row: GanttRow) -> str:
    said = [f"{len(row.operations)} planned operation{'s' if len(row.operations) != 1 else ''}"] \
        if row.operations else ["nothing planned"]
    late = sum(op.late_minutes > 0 for op in row.operations)
    if late:
        said.append(f"{late} late")
    held = sum(bar.kind != LEASE for bar in row.held)
    if held:
        said.append(f"{held} booked or blocked")
    return f"{row.name}: {', '.join(said)}"


def _legend(rows: list[GanttRow], width: int, *, member: bool) -> tuple[list[str], int]:
    coops = sorted({(op.coop, op.coop_id) for row in rows for op in row.operations if not op.anonymous})
    entries = [(f'fill="{coop_colour(coop_id)}"', name) for name, coop_id in coops]
    if member:
        entries.append((f'fill="{OTHER}"', "planned (another co-op)"))
    entries += [(_held_style(kind, None), name) for kind, name in LEGEND_MARKS if member or kind != BOOKED]
    entries += [(f'fill="#fff" stroke="{LATE}" stroke-width="2.5"', "late"),
                (f'fill="{MARK}"', "running (bar underlined)"), (f'fill="{MARK}"', "pinned (dot)")]
    return legend(entries, width)


def _row(frame: Frame, row: GanttRow, y: float) -> str:
    held = [_held(frame, bar, y) for bar in held_first(row.held)]
    ops = [_operation(frame, op, y) for op in sorted(row.operations, key=lambda op: op.start)]
    return machine_row(frame, row.name, row.href, y, [*held, *ops])


def _held_style(kind: str, coop_id: int | None) -> str:
    if kind == BOOKING:  # pale, so the plan's solid bars stand out from the co-ops' own hands-on time
        colour = coop_colour(coop_id)
        return f'fill="{colour}" fill-opacity="0.22" stroke="{colour}"'
    return f'fill="{FILLS[kind]}"'


def _held(frame: Frame, bar: Bar, y: float) -> str:
    if bar.kind == BOOKING:  # pale, with dark words saying it is a booking
        return held_bar(frame, bar, y, style=_held_style(BOOKING, bar.coop_id), ink="#1d2327",
                        words=f"booking: {bar.label}")
    return held_bar(frame, bar, y, style=_held_style(bar.kind, None), ink=INK.get(bar.kind, "#fff"), words=bar.label)


def _operation(frame: Frame, op: Planned, y: float) -> str:
    x, width = frame.extent(op.start, op.end)
    top = y + LANE_TOP
    classes = ["op", "other" if op.anonymous else "planned", *(m.split()[0] for m in op.marks)]
    fill = OTHER if op.anonymous else coop_colour(op.coop_id)
    outline = f' stroke="{LATE}" stroke-width="3"' if op.late_minutes > 0 else ""
    parts = [f'<title>{escape(op_tooltip(op, frame.zone))}</title><rect class="body" x="{x:.1f}" y="{top:.1f}" '
             f'width="{width:.1f}" height="{LANE_H}" rx="3" fill="{fill}"{outline}/>']
    if "running" in op.marks:
        parts.append(f'<rect class="running-mark" x="{x:.1f}" y="{top + LANE_H - 4:.1f}" width="{width:.1f}" '
                     f'height="4" fill="{MARK}"/>')
    if op.fixed == "pinned":
        parts.append(f'<circle class="pin-mark" cx="{x + 5:.1f}" cy="{top + 5:.1f}" r="3.5" fill="{MARK}" '
                     'stroke="#fff"/>')
    words = op.label + (" · late" if op.late_minutes > 0 else "")
    text = fit(words, op.short, width - (8 if op.fixed == "pinned" else 0), CHAR_W)
    if text:
        ink = "#1d2327" if op.anonymous else "#fff"
        offset = 12 if op.fixed == "pinned" else 4
        parts.append(f'<text x="{x + offset:.1f}" y="{top + 18:.1f}" font-size="11" fill="{ink}">{escape(text)}'
                     '</text>')
    data = "" if op.anonymous else f' data-order="{op.order_id}" data-job="{op.job}" data-step="{op.step}"'
    body = "".join(parts)
    if op.href:
        return f'<a class="{" ".join(classes)}"{data} href="{escape(op.href)}">{body}</a>'
    return f'<g class="{" ".join(classes)}"{data}>{body}</g>'
