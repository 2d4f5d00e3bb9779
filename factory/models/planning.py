"""The live plan: its versions (what triggered each, what the solver said, what moved), their placements and
unplanned operations, the re-plan requests waiting for the planner, and commands queued for machines."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from factory.models.base import Base, UTCDateTime, utcnow
from factory.models.machines import Machine
from factory.models.production import Operation

TRIGGER_KINDS = ("order_placed", "order_cancelled", "booking", "maintenance", "machine_down", "machine_up",
                 "operation_started", "operation_finished", "pin", "manual")
OUTCOMES = "'published', 'rejected', 'failed'"
COMMAND_STATUSES = "'queued', 'sent', 'acknowledged', 'refused', 'failed'"


class PlanVersion(Base):
    """One run of the planner. Only a `published` version is ever the plan in force (the newest one is)."""

    __tablename__ = "plan_version"
    __table_args__ = (CheckConstraint(f"outcome IN ({OUTCOMES})", name="outcome"),
                      Index("ix_plan_version_outcome_id", "outcome", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    planned_from: Mapped[datetime] = mapped_column(UTCDateTime)  # the snapshot's "now": minute 0
    horizon_end: Mapped[datetime] = mapped_column(UTCDateTime)
    triggers: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{"kind", "detail", "at"}], coalesced
    requested_by: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")  # why it was not published, in words
    solver_status: Mapped[str] = mapped_column(String(16))
    solver: Mapped[str] = mapped_column(String(300), default="")
    objective: Mapped[int | None] = mapped_column(Integer)
    terms: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    wall_s: Mapped[float] = mapped_column(Float, default=0.0)
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("plan_version.id"))
    operations: Mapped[int] = mapped_column(Integer, default=0)
    moved: Mapped[int] = mapped_column(Integer, default=0)  # placed operations whose machine or start changed
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. a pin that could not be kept

    assignments: Mapped[list[PlanAssignment]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="PlanAssignment.starts_at")
    unplanned: Mapped[list[PlanUnplanned]] = relationship(back_populates="version", cascade="all, delete-orphan",
                                                          order_by="PlanUnplanned.operation_id")


class PlanAssignment(Base):
    __tablename__ = "plan_assignment"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="span"),
                      Index("ix_plan_assignment_machine", "version_id", "machine_id", "starts_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_version.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id", ondelete="CASCADE"), index=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fixed: Mapped[str] = mapped_column(String(16), default="")  # "running", "pinned" or "" (the planner's choice)
    moved: Mapped[bool] = mapped_column(Boolean, default=False)
    late_minutes: Mapped[int] = mapped_column(Integer, default=0)  # of its job, when this is the job's last step

    version: Mapped[PlanVersion] = relationship(back_populates="assignments")
    operation: Mapped[Operation] = relationship()
    machine: Mapped[Machine] = relationship()


class PlanUnplanned(Base):
    __tablename__ = "plan_unplanned"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("plan_version.id", ondelete="CASCADE"), index=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operation.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # scheduler.plan.Reason
    explanation: Mapped[str] = mapped_column(Text, default="")  # in plain words, for the people

    version: Mapped[PlanVersion] = relationship(back_populates="unplanned")
    operation: Mapped[Operation] = relationship()


class PlanTrigger(Base):
    """A reason to plan again. The planner takes every waiting one together (coalesced) into one version."""

    __tablename__ = "plan_trigger"
    __table_args__ = (Index("ix_plan_trigger_waiting", "version_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("plan_version.id"))  # null: still waiting


class MachineCommand(Base):
    """A command for a machine (DESIGN.md 4.1 `cmd`), queued by the web app and sent by the planner worker."""

    __tablename__ = "machine_command"
    __table_args__ = (CheckConstraint(f"status IN ({COMMAND_STATUSES})", name="status"),
                      Index("ix_machine_command_status", "status", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    command_id: Mapped[str] = mapped_column(String(64), unique=True)  # the `id` of the MQTT message
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id"), index=True)
    command: Mapped[str] = mapped_column(String(16))
    job: Mapped[str | None] = mapped_column(String(64))
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operation.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    detail: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    machine: Mapped[Machine] = relationship()
    operation: Mapped[Operation | None] = relationship()
