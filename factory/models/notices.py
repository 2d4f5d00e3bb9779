"""What the app tells a co-op (a booking moved or cancelled, a lease decided), and secret calendar links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from factory.models.base import Base, UTCDateTime, utcnow


class Notification(Base):
    """A message to every member of one co-op, shown in the app; `link` is a path inside the app."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_coop_created", "coop_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coop.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")


class CalendarFeed(Base):
    """A secret iCalendar link to one machine's or one co-op's calendar; only the token's digest is kept."""

    __tablename__ = "calendar_feed"
    __table_args__ = (
        CheckConstraint("scope IN ('machine', 'coop')", name="scope"),
        CheckConstraint("(scope = 'machine') = (machine_id IS NOT NULL)", name="machine_scope"),
        CheckConstraint("(scope = 'coop') = (coop_id IS NOT NULL)", name="coop_scope"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    machine_id: Mapped[str | None] = mapped_column(ForeignKey("machine.id", ondelete="CASCADE"), index=True)
    coop_id: Mapped[int | None] = mapped_column(ForeignKey("coop.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
