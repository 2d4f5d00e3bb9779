"""GET /api/v1/machines and /api/v1/machines/<id>."""

from __future__ import annotations

from flask import jsonify, request

from factory.api import api
from factory.app import db
from factory.domain.errors import InvalidInput, InvalidParameter
from factory.models import Machine
from factory.services.machines import MachineFilter, get_machine, list_machines
from factory.services.sites import the_commune

FILTERS = ("site", "kind", "state")


@api.get("/machines")
def machines_index():
    unknown = sorted(set(request.args) - set(FILTERS))
    if unknown:
        raise InvalidParameter(f"unknown parameter {unknown[0]!r}; filters are {', '.join(FILTERS)}",
                               field=unknown[0])
    try:
        machines = list_machines(db(), MachineFilter(**{name: request.args.get(name) for name in FILTERS}))
    except InvalidInput as exc:
        raise InvalidParameter(exc.message, field=exc.field) from None
    currency = the_commune(db()).currency if machines else None
    return jsonify({"items": [machine_json(m, currency) for m in machines], "count": len(machines)})


@api.get("/machines/<machine_id>")
def machines_show(machine_id: str):
    machine = get_machine(db(), machine_id)
    return jsonify(machine_json(machine, the_commune(db()).currency))


def machine_json(machine: Machine, currency: str | None) -> dict:
    return {
        "id": machine.id,
        "name": machine.name,
        "kind": machine.kind,
        "model": machine.model,
        "site": {"slug": machine.site.slug, "name": machine.site.name, "time_zone": machine.site.time_zone},
        "capabilities": machine.capabilities.as_dict(),
        "unattended_ok": machine.unattended_ok,
        "acquisition": {
            "cost": None if machine.acquisition_cost is None else f"{machine.acquisition_cost:.2f}",
            "currency": currency,
            "date": machine.acquired_on.isoformat() if machine.acquired_on else None,
        },
        "state": machine.state,
        "state_since": rfc3339(machine.state_since),
        "available": machine.available,
        "job": machine.job,
        "progress": machine.progress,
        "state_detail": machine.state_detail,
        "last_seen": rfc3339(machine.last_seen) if machine.last_seen else None,
        "metrics": machine.metrics or {},
        "metrics_at": rfc3339(machine.metrics_at) if machine.metrics_at else None,
        "notes": machine.notes,
        "expected_back_at": rfc3339(machine.expected_back_at) if machine.expected_back_at else None,
        "booking_rules": {"min_minutes": machine.booking_min_minutes, "max_minutes": machine.booking_max_minutes,
                          "notice_minutes": machine.booking_notice_minutes,
                          "horizon_days": machine.booking_horizon_days},
    }


def rfc3339(value) -> str:
    """UTC with milliseconds and a Z, as DESIGN.md 4.1 writes times."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
