"""GET /api/v1/machines/<id>/telemetry: a machine's samples in a window."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import jsonify, request

from drivers.messages import METRIC_PATTERN, MessageError, parse_ts
from factory.api import api
from factory.api.machines import rfc3339
from factory.app import db
from factory.domain.errors import InvalidParameter
from factory.models import utcnow
from factory.services.machines import get_machine
from factory.services.telemetry import samples

DEFAULT_WINDOW = timedelta(hours=6)
MAX_WINDOW = timedelta(days=31)
PARAMETERS = ("since", "until", "metric")


@api.get("/machines/<machine_id>/telemetry")
def machine_telemetry(machine_id: str):
    unknown = sorted(set(request.args) - set(PARAMETERS))
    if unknown:
        raise InvalidParameter(f"unknown parameter {unknown[0]!r}; use {', '.join(PARAMETERS)}", field=unknown[0])
    machine = get_machine(db(), machine_id)
    until = _time("until") or utcnow()
    since = _time("since") or until - DEFAULT_WINDOW
    if until <= since:
        raise InvalidParameter("`until` must be after `since`", field="until")
    if until - since > MAX_WINDOW:
        raise InvalidParameter("ask for at most 31 days at a time", field="since")
    metrics = [name for value in request.args.getlist("metric") for name in value.split(",") if name]
    for name in metrics:
        if not METRIC_PATTERN.fullmatch(name):
            raise InvalidParameter(f"metric {name!r} is not a name_unit such as hotend_c", field="metric")
    found = samples(db(), machine.id, since=since, until=until, metrics=metrics)
    return jsonify({
        "machine": machine.id, "since": rfc3339(since), "until": rfc3339(until), "truncated": found.truncated,
        "samples": [{"ts": rfc3339(s.ts), "metrics": s.metrics, "resolution_s": s.resolution_s}
                    for s in found.samples],
    })


def _time(name: str) -> datetime | None:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return parse_ts(value)
    except MessageError:
        raise InvalidParameter(f"{name} must be an RFC 3339 UTC time such as 2026-11-22T10:00:00Z",
                               field=name) from None
