"""GET /metrics: Prometheus text for the ingest workers and the machines' states.

Scraped with a bearer token (any active user's API token) or viewed by a logged-in user.
"""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, Response, request
from flask_login import current_user
from sqlalchemy import func, select

from factory.app import db
from factory.domain.errors import Unauthorized
from factory.domain.vocabulary import MachineState
from factory.models import Machine
from factory.services.telemetry import ingest_counters
from factory.services.tokens import user_for_token

bp = Blueprint("metrics", __name__)

HELP = {
    "factory_ingest_messages_accepted_total": ("counter", "Machine messages the ingest stored."),
    "factory_ingest_messages_dropped_total": ("counter", "Machine messages the ingest dropped, by reason."),
    "factory_ingest_messages_ignored_total": ("counter", "Commands and command answers seen on mf/#, not stored."),
    "factory_ingest_lag_seconds": ("gauge", "Age of the newest message in the worker's last stored batch."),
    "factory_ingest_last_flush_timestamp_seconds": ("gauge", "When the worker last reported (Unix time)."),
    "factory_machines": ("gauge", "Registered machines by state."),
}


@bp.get("/metrics")
def metrics() -> Response:
    _authenticate()
    lines: dict[str, list[str]] = {name: [] for name in HELP}
    last_flush: dict[str, float] = {}
    for counter in ingest_counters(db()):
        worker = _label(counter.worker)
        last_flush[worker] = max(last_flush.get(worker, 0.0), counter.updated_at.timestamp())
        if counter.name == "accepted":
            lines["factory_ingest_messages_accepted_total"].append(f'{{worker="{worker}"}} {int(counter.value)}')
        elif counter.name.startswith("dropped:"):
            reason = _label(counter.name.removeprefix("dropped:"))
            lines["factory_ingest_messages_dropped_total"].append(
                f'{{worker="{worker}",reason="{reason}"}} {int(counter.value)}')
        elif counter.name.startswith("ignored:"):
            channel = _label(counter.name.removeprefix("ignored:"))
            lines["factory_ingest_messages_ignored_total"].append(
                f'{{worker="{worker}",channel="{channel}"}} {int(counter.value)}')
        elif counter.name == "lag_seconds":
            lines["factory_ingest_lag_seconds"].append(f'{{worker="{worker}"}} {counter.value:.3f}')
    for worker, at in sorted(last_flush.items()):
        lines["factory_ingest_last_flush_timestamp_seconds"].append(f'{{worker="{worker}"}} {at:.3f}')
    states = Counter(dict(db().execute(select(Machine.state, func.count()).group_by(Machine.state)).all()))
    for state in MachineState:
        lines["factory_machines"].append(f'{{state="{state.value}"}} {states[state.value]}')
    text = []
    for name, (kind, description) in HELP.items():
        text += [f"# HELP {name} {description}", f"# TYPE {name} {kind}"]
        text += [f"{name}{sample}" for sample in lines[name]]
    return Response("\n".join(text) + "\n", mimetype="text/plain; version=0.0.4")


def _authenticate() -> None:
    if current_user.is_authenticated:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("log in, or send `Authorization: Bearer TOKEN`")
    user_for_token(db(), token.strip())


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
