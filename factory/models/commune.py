"""The commune, its sites and opening hours, its members and co-ops."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from factory.models.base import Base, UTCDateTime, utcnow


class Commune(Base):
    __tablename__ = "commune"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Site(Base):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("commune.id"))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    time_zone: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(Text, default="")

    opening_hours: Mapped[list[OpeningHours]] = relationship(
        back_populates="site", cascade="all, delete-orphan", order_by="(OpeningHours.weekday, OpeningHours.opens_min)")
    machines: Mapped[list[Machine]] = relationship(back_populates="site", order_by="Machine.name")  # noqa: F821


class OpeningHours(Base):
    """One opening interval of a site on one weekday (0 = Monday), in minutes after local midnight."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("opens_min >= 0 AND opens_min < closes_min AND closes_min <= 1440", name="interval"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens_min: Mapped[int] = mapped_column(Integer)
    closes_min: Mapped[int] = mapped_column(Integer)

    site: Mapped[Site] = relationship(back_populates="opening_hours")


class Coop(Base):
    __tablename__ = "coop"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("commune.id"))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")

    members: Mapped[list[Member]] = relationship(back_populates="coop", order_by="Member.name")


class Member(Base):
    """A person of the commune, holding one share; most also work in one co-op."""

    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("commune_id", "email"), CheckConstraint("shares = 1", name="one_share"))

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("commune.id"))
    coop_id: Mapped[int | None] = mapped_column(ForeignKey("coop.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    shares: Mapped[int] = mapped_column(Integer, default=1)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    coop: Mapped[Coop | None] = relationship(back_populates="members")
