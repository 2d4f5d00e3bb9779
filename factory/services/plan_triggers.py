"""Asking for a re-plan: a row the planner worker takes within seconds, with every other one waiting then
(coalesced into one plan version). Written in the caller's transaction, so a change and its trigger commit
together; a web request never waits for the planner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from factory.models import PlanTrigger, utcnow
from factory.models.planning import TRIGGER_KINDS


def request_replan(session: Session, kind: str, detail: str = "", *, now: datetime | None = None) -> None:
    if kind not in TRIGGER_KINDS:
        raise ValueError(f"unknown plan trigger {kind!r}")
    session.add(PlanTrigger(kind=kind, detail=detail[:300], created_at=now or utcnow()))


def ask_for_plan(session: Session, *, by: str, why: str = "") -> None:
    """A person's "plan again now": the trigger alone, committed; the planner worker plans within seconds."""
    request_replan(session, "manual", f"asked by {by}" + (f": {why}" if why else ""))
    session.commit()


def waiting_triggers(session: Session) -> list[PlanTrigger]:
    return list(session.scalars(select(PlanTrigger).where(PlanTrigger.version_id.is_(None)).order_by(PlanTrigger.id)))
