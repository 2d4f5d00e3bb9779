"""Open designs (bill of materials and routing), production orders, their jobs and operations.

An order is made as jobs of a bounded batch size; each job is the design's routing as a chain of
operations. Quantities of material are exact decimals in the material's own unit, never floats.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from factory.models.base import Base, UTCDateTime, utcnow
from factory.models.commune import Coop
from factory.models.machines import KINDS, Machine

QUANTITY = Numeric(14, 3)
ORDER_STATUSES = "'submitted', 'planned', 'in_progress', 'done', 'cancelled'"
OPERATION_STATUSES = "'waiting', 'planned', 'running', 'done', 'cancelled'"


class Design(Base):
    """A product the commune shares: where its files are, under which licence, and how it is made."""

    __tablename__ = "design"
    __table_args__ = (CheckConstraint("max_batch > 0", name="max_batch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(Text, default="")
    licence: Mapped[str] = mapped_column(String(64))
    source_url: Mapped[str] = mapped_column(String(500))
    version: Mapped[str] = mapped_column(String(32))
    max_batch: Mapped[int] = mapped_column(Integer, default=10)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    steps: Mapped[list[RoutingStep]] = relationship(
        back_populates="design", cascade="all, delete-orphan", order_by="RoutingStep.position")
    materials: Mapped[list[DesignMaterial]] = relationship(
        back_populates="design", cascade="all, delete-orphan", order_by="DesignMaterial.id")


class RoutingStep(Base):
    """One operation of a design's routing: the machine it needs and how long it takes."""

    __tablename__ = "routing_step"
    __table_args__ = (
        UniqueConstraint("design_id", "position", name="uq_routing_step_position"),
        CheckConstraint(f"machine_kind IN ({KINDS})", name="machine_kind"),
        CheckConstraint("position > 0 AND setup_minutes >= 0 AND minutes_per_unit >= 0", name="times"),
        CheckConstraint("batch_capacity IS NULL OR batch_capacity > 0", name="batch_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    design_id: Mapped[int] = mapped_column(ForeignKey("design.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120))
    machine_kind: Mapped[str] = mapped_column(String(24))
    material: Mapped[str | None] = mapped_column(String(32))  # a material the machine must accept, e.g. petg
    min_x_mm: Mapped[int | None] = mapped_column(Integer)
    min_y_mm: Mapped[int | None] = mapped_column(Integer)
    min_z_mm: Mapped[int | None] = mapped_column(Integer)
    min_temperature_c: Mapped[int | None] = mapped_column(Integer)
    setup_minutes: Mapped[int] = mapped_column(Integer, default=0)
    minutes_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 2))  # per piece; per run when batch_capacity
    setup_family: Mapped[str] = mapped_column(String(64), default="")
    batch_capacity: Mapped[int | None] = mapped_column(Integer)  # set when one run holds N pieces (a firing)

    design: Mapped[Design] = relationship(back_populates="steps")


class DesignMaterial(Base):
    """A line of the bill of materials: how much of a material one unit takes, used up at one step."""

    __tablename__ = "design_material"
    __table_args__ = (CheckConstraint("quantity_per_unit > 0", name="quantity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    design_id: Mapped[int] = mapped_column(ForeignKey("design.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("routing_step.id", ondelete="CASCADE"), index=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"), index=True)
    quantity_per_unit: Mapped[Decimal] = mapped_column(QUANTITY)
    unit: Mapped[str] = mapped_column(String(8))

    design: Mapped[Design] = relationship(back_populates="materials")
    step: Mapped[RoutingStep] = relationship()
    material: Mapped[Material] = relationship()  # noqa: F821


class ProductionOrder(Base):
    """A co-op's order of `quantity` units of a design, needed by a date."""

    __tablename__ = "production_order"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint(f"status IN ({ORDER_STATUSES})", name="status"),
        CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coop.id"), index=True)
    design_id: Mapped[int] = mapped_column(ForeignKey("design.id"), index=True)
    design_version: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    needed_by: Mapped[date] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    placed_by: Mapped[str] = mapped_column(String(32))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    coop: Mapped[Coop] = relationship()
    design: Mapped[Design] = relationship()
    jobs: Mapped[list[Job]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                           order_by="Job.number")
    changes: Mapped[list[OrderChange]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                      order_by="OrderChange.id")


class OrderChange(Base):
    """Append-only: an order's status changes, who made them and why."""

    __tablename__ = "order_change"
    __table_args__ = (CheckConstraint(f"to_status IN ({ORDER_STATUSES})", name="to_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("production_order.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")

    order: Mapped[ProductionOrder] = relationship(back_populates="changes")


class Job(Base):
    """A batch of an order: `quantity` units going through the routing together."""

    __tablename__ = "job"
    __table_args__ = (UniqueConstraint("order_id", "number", name="uq_job_number"),
                      CheckConstraint("quantity > 0", name="quantity"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("production_order.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)

    order: Mapped[ProductionOrder] = relationship(back_populates="jobs")
    operations: Mapped[list[Operation]] = relationship(back_populates="job", cascade="all, delete-orphan",
                                                       order_by="Operation.position")


class Operation(Base):
    """One routing step of one job. `machine_id`, `planned_start` and `planned_end` are the plan in force's."""

    __tablename__ = "operation"
    __table_args__ = (
        UniqueConstraint("job_id", "position", name="uq_operation_position"),
        CheckConstraint(f"status IN ({OPERATION_STATUSES})", name="status"),
        CheckConstraint("duration_minutes > 0", name="duration"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("routing_step.id"))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    earliest_start: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when short material should arrive
    material_note: Mapped[str] = mapped_column(Text, default="")  # what it is short of, in words
    machine_id: Mapped[str | None] = mapped_column(ForeignKey("machine.id"))
    planned_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A steward's pin (issue 7): the planner keeps the operation on this machine at this start.
    pinned_machine_id: Mapped[str | None] = mapped_column(ForeignKey("machine.id"))
    pinned_start: Mapped[datetime | None] = mapped_column(UTCDateTime)

    job: Mapped[Job] = relationship(back_populates="operations")
    step: Mapped[RoutingStep] = relationship()
    machine: Mapped[Machine | None] = relationship(foreign_keys=[machine_id])
    pinned_machine: Mapped[Machine | None] = relationship(foreign_keys=[pinned_machine_id])
