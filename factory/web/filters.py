"""Jinja filters: times are stored in UTC and shown in the site's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask

from factory.domain.opening_hours import WEEKDAYS, format_day
from factory.domain.vocabulary import MachineKind
from factory.services.sites import site_week


def local_time(value: datetime | None, time_zone: str, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(time_zone)).strftime(fmt)


def age(value: datetime | None, now: datetime | None = None) -> str:
    """A short human duration since `value`: `3 min`, `5 h`, `2 d`."""
    if value is None:
        return "—"
    seconds = max(0, int(((now or datetime.now(UTC)) - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return "just now"


def week_table(site) -> list[tuple[str, str]]:
    week = site_week(site)
    return [(name.capitalize(), format_day(week[day])) for day, name in enumerate(WEEKDAYS)]


def register(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(age, "age")
    app.add_template_filter(lambda kind: MachineKind(kind).label, "kind_label")
    app.add_template_global(week_table, "week_table")
    app.context_processor(lambda: {"now_utc": datetime.now(UTC)})
