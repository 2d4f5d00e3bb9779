"""Machine time: bookings and maintenance windows (one table, so one rule keeps them apart), booking series,
leases with their weekly windows and released occurrences, and the history of every change.

The no-overlap rule lives in the database as well as in the services: on PostgreSQL an exclusion
constraint (`ex_reservation_no_overlap`, btree_gist) and on SQLite two triggers refuse a second active
reservation of a machine that overlaps the first. Both are created by migration 0003, not declared here:
autogenerate cannot compare them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from factory.models.base import Base, UTCDateTime, utcnow
from factory.models.commune import Coop
from factory.models.machines import Machine

OVERLAP_CONSTRAINT = "ex_reservation_no_overlap"


class Reservation(Base):
    """A stretch of one machine's time, `[starts_at, ends_at)` in UTC: a co-op's booking or maintenance."""

    __tablename__ = "reservation"
    __table_args__ = (
        CheckConstraint("kind IN ('booking', 'maintenance')", name="kind"),
        CheckConstraint("status IN ('active', 'cancelled')", name="status"),
        CheckConstraint("starts_at < ends_at", name="interval"),
        CheckConstraint("kind = 'maintenance' OR coop_id IS NOT NULL", name="booking_has_coop"),
        Index("ix_reservation_machine_starts", "machine_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"))
    coop_id: Mapped[int | None] = mapped_column(ForeignKey("coop.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("booking_series.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_by: Mapped[str | None] = mapped_column(String(32))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    machine: Mapped[Machine] = relationship()
    coop: Mapped[Coop | None] = relationship()
    changes: Mapped[list[ReservationChange]] = relationship(
        back_populates="reservation", order_by="ReservationChange.id", cascade="all, delete-orphan")

    __mapper_args__ = {"polymorphic_on": "kind"}

    @property
    def active(self) -> bool:
        return self.status == "active"


class Booking(Reservation):
    """A co-op's hands-on use of a machine, booked by a steward."""

    series: Mapped[BookingSeries | None] = relationship(back_populates="bookings")
    __mapper_args__ = {"polymorphic_identity": "booking"}


class MaintenanceWindow(Reservation):
    """Time a steward takes a machine out of use; `purpose` says what is done."""

    __mapper_args__ = {"polymorphic_identity": "maintenance"}


class BookingSeries(Base):
    """A weekly booking: the same local weekday and time, `count` times or until `until` (inclusive)."""

    __tablename__ = "booking_series"
    __table_args__ = (CheckConstraint("count IS NULL OR count > 0", name="count"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"), index=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coop.id"))
    purpose: Mapped[str] = mapped_column(Text, default="")
    count: Mapped[int | None] = mapped_column(Integer)
    until: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    bookings: Mapped[list[Booking]] = relationship(back_populates="series", order_by="Reservation.starts_at")


class ReservationChange(Base):
    """Append-only: who created, moved, edited or cancelled a reservation, when and why."""

    __tablename__ = "reservation_change"
    __table_args__ = (CheckConstraint("action IN ('created', 'edited', 'moved', 'cancelled')", name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reservation_id: Mapped[int] = mapped_column(ForeignKey("reservation.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)

    reservation: Mapped[Reservation] = relationship(back_populates="changes")


class Lease(Base):
    """A co-op's standing use right on a machine: weekly windows from `starts_on` to `ends_on` (inclusive,
    site-local dates), at `rent_per_hour`. Proposed by the co-op, approved or declined by a steward or admin.
    Bound to its co-op: there is no way to hand it to another."""

    __tablename__ = "lease"
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'approved', 'declined', 'withdrawn')", name="status"),
        CheckConstraint("starts_on <= ends_on", name="dates"),
        CheckConstraint("rent_per_hour >= 0", name="rent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"), index=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coop.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    rent_per_hour: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    note: Mapped[str] = mapped_column(Text, default="")
    proposed_by: Mapped[str] = mapped_column(String(32))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    machine: Mapped[Machine] = relationship()
    coop: Mapped[Coop] = relationship()
    windows: Mapped[list[LeaseWindow]] = relationship(
        back_populates="lease", cascade="all, delete-orphan", order_by="(LeaseWindow.weekday, LeaseWindow.opens_min)")
    releases: Mapped[list[LeaseRelease]] = relationship(
        back_populates="lease", cascade="all, delete-orphan", order_by="LeaseRelease.on_date")


class LeaseWindow(Base):
    """One weekly window of a lease: a weekday (0 = Monday) and minutes after local midnight."""

    __tablename__ = "lease_window"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("opens_min >= 0 AND opens_min < closes_min AND closes_min <= 1440", name="interval"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lease_id: Mapped[int] = mapped_column(ForeignKey("lease.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens_min: Mapped[int] = mapped_column(Integer)
    closes_min: Mapped[int] = mapped_column(Integer)

    lease: Mapped[Lease] = relationship(back_populates="windows")


class LeaseRelease(Base):
    """The lessee gave one day's windows of its lease back to the pool (`on_date`, site-local)."""

    __tablename__ = "lease_release"
    __table_args__ = (UniqueConstraint("lease_id", "on_date", name="uq_lease_release_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lease_id: Mapped[int] = mapped_column(ForeignKey("lease.id", ondelete="CASCADE"))
    on_date: Mapped[date] = mapped_column(Date)
    released_by: Mapped[str] = mapped_column(String(32))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")

    lease: Mapped[Lease] = relationship(back_populates="releases")
