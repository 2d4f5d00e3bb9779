"""Machines, their capabilities and their state history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from factory.domain.capabilities import Capabilities
from factory.domain.vocabulary import MachineState
from factory.models.base import Base, UTCDateTime, utcnow
from factory.models.commune import Site

KINDS = "'fdm_printer', 'resin_printer', 'cnc_mill', 'cnc_router', 'laser_cutter', 'kiln', 'furnace', 'other'"
STATES = "'offline', 'idle', 'running', 'paused', 'fault', 'maintenance'"


class Machine(Base):
    """`id` is the machine's slug, also its MQTT id (DESIGN.md 4.1): `[a-z0-9-]{1,64}`, never renamed."""

    __tablename__ = "machine"
    __table_args__ = (
        CheckConstraint(f"kind IN ({KINDS})", name="kind"),
        CheckConstraint(f"state IN ({STATES})", name="state"),
        CheckConstraint("acquisition_cost >= 0", name="cost"),
        CheckConstraint("booking_min_minutes > 0 AND booking_min_minutes <= booking_max_minutes",
                        name="booking_length"),
        CheckConstraint("booking_notice_minutes >= 0 AND booking_horizon_days > 0", name="booking_notice"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(24), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    model: Mapped[str] = mapped_column(String(120), default="")
    build_x_mm: Mapped[int | None] = mapped_column(Integer)
    build_y_mm: Mapped[int | None] = mapped_column(Integer)
    build_z_mm: Mapped[int | None] = mapped_column(Integer)
    materials: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_temperature_c: Mapped[int | None] = mapped_column(Integer)
    spindle_power_w: Mapped[int | None] = mapped_column(Integer)
    unattended_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    acquisition_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    acquired_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="offline", index=True)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What the machine last said about itself (DESIGN.md 4.1); null until it first reports.
    job: Mapped[str | None] = mapped_column(String(500))
    progress: Mapped[float | None] = mapped_column(Float)
    state_detail: Mapped[str] = mapped_column(Text, default="")
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    metrics_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Booking rules (issue 5): length bounds, the notice a booking needs, and how far ahead one may book.
    booking_min_minutes: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    booking_max_minutes: Mapped[int] = mapped_column(Integer, default=480, server_default="480")
    booking_notice_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    booking_horizon_days: Mapped[int] = mapped_column(Integer, default=180, server_default="180")
    # When a broken-down (fault) machine is expected back, as a steward said; null = not known.
    expected_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Finance (issue 8): what an hour of it costs a co-op, and how long it should last.
    hourly_rate_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expected_life_years: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship(back_populates="machines")
    state_changes: Mapped[list[MachineStateChange]] = relationship(
        back_populates="machine", order_by="MachineStateChange.at.desc()", cascade="all, delete-orphan")

    @property
    def available(self) -> bool:
        """Whether the planner may use the machine now: not `offline`, `fault` or `maintenance`."""
        return MachineState(self.state).available

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(self.build_x_mm, self.build_y_mm, self.build_z_mm, tuple(self.materials or ()),
                            self.max_temperature_c, self.spindle_power_w)


class MachineStateChange(Base):
    """Append-only: who or what moved a machine from one state to another, and when."""

    __tablename__ = "machine_state_change"
    __table_args__ = (CheckConstraint(f"to_state IN ({STATES})", name="to_state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(32))  # "steward:<login>", "telemetry", "registry"
    reason: Mapped[str] = mapped_column(Text, default="")

    machine: Mapped[Machine] = relationship(back_populates="state_changes")
