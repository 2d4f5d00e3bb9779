"""What machines report: telemetry samples, events, their broker credentials, and the ingest's own counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from factory.models.base import Base, UTCDateTime, utcnow

EVENTS = ("'job_started', 'job_finished', 'job_failed', 'fault', 'fault_cleared', 'alarm', 'door_open', "
          "'door_closed'")

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants a 64-bit key for a table this busy.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class TelemetrySample(Base):
    """One telemetry message (all its metrics), or the mean of many once downsampled.

    `resolution_s` is 0 for a message as received, else the width of the bucket it summarises (`seq` is then
    null). `(machine_id, seq, ts)` is unique: a QoS 1 redelivery or a spool replay cannot be stored twice,
    whichever ingest worker receives it.
    """

    __tablename__ = "telemetry_sample"
    __table_args__ = (
        UniqueConstraint("machine_id", "seq", "ts", name="uq_telemetry_sample_message"),
        Index("ix_telemetry_sample_machine_ts", "machine_id", "ts"),
        CheckConstraint("resolution_s >= 0", name="resolution"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    resolution_s: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON)


class MachineEvent(Base):
    """An event a machine reported (DESIGN.md 4.1), kept as its history of faults, alarms and jobs."""

    __tablename__ = "machine_event"
    __table_args__ = (
        UniqueConstraint("machine_id", "seq", "ts", name="uq_machine_event_message"),
        Index("ix_machine_event_machine_ts", "machine_id", "ts"),
        CheckConstraint(f"event IN ({EVENTS})", name="event"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    seq: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(24))
    job: Mapped[str | None] = mapped_column(String(500))
    code: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MachineCredential(Base):
    """A machine's broker password, stored only as Mosquitto's PBKDF2 hash; rotated, never shown again."""

    __tablename__ = "machine_credential"

    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IngestCounter(Base):
    """Counters an ingest worker flushes every few seconds, summed by `GET /metrics` across workers.

    `name` is `accepted`, `dropped:<reason>`, `ignored:<channel>` or `lag_seconds` (a gauge: the last
    flush's value).
    """

    __tablename__ = "ingest_counter"

    worker: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
