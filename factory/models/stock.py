"""Materials and their stock per site: an append-only history of moves, reorder points and kanban cards.

On hand, reserved and available are never stored: they are sums over `stock_move` (factory.domain.stock
says what each reason does to them). The database refuses to change or delete a move (migration 0004).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from factory.models.base import Base, UTCDateTime, utcnow
from factory.models.commune import Site

QUANTITY = Numeric(14, 3)
REASONS = ("'received', 'reserved', 'released', 'consumed', 'adjusted', 'transferred_out', 'transferred_in', "
           "'scrapped'")


class Material(Base):
    """A stock material in one unit: filament in g, sheet in pieces, clay in kg, scrap aluminium in kg."""

    __tablename__ = "material"
    __table_args__ = (CheckConstraint("provenance IN ('new', 'reclaimed')", name="provenance"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    unit: Mapped[str] = mapped_column(String(8))
    provenance: Mapped[str] = mapped_column(String(16), default="new")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockMove(Base):
    """One change of a material's stock at a site. Never updated or deleted; a mistake is corrected by a
    later adjustment. `on_hand_delta` and `reserved_delta` are what the reason did (domain.stock.effect)."""

    __tablename__ = "stock_move"
    __table_args__ = (
        CheckConstraint(f"reason IN ({REASONS})", name="reason"),
        CheckConstraint("reason = 'adjusted' OR quantity > 0", name="quantity"),
        Index("ix_stock_move_material_site", "material_id", "site_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    on_hand_delta: Mapped[Decimal] = mapped_column(QUANTITY)
    reserved_delta: Mapped[Decimal] = mapped_column(QUANTITY)
    operation_id: Mapped[int | None] = mapped_column(ForeignKey("operation.id"), index=True)
    transfer_id: Mapped[int | None] = mapped_column(Integer, index=True)  # pairs a transfer's out and in
    note: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(32))

    material: Mapped[Material] = relationship()
    site: Mapped[Site] = relationship()


class ReorderRule(Base):
    """When available stock of a material at a site falls below `reorder_point`, order `reorder_quantity`."""

    __tablename__ = "reorder_rule"
    __table_args__ = (CheckConstraint("reorder_point >= 0 AND reorder_quantity > 0", name="quantities"),)

    material_id: Mapped[int] = mapped_column(ForeignKey("material.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), primary_key=True)
    reorder_point: Mapped[Decimal] = mapped_column(QUANTITY)
    reorder_quantity: Mapped[Decimal] = mapped_column(QUANTITY)

    material: Mapped[Material] = relationship()
    site: Mapped[Site] = relationship()


class Replenishment(Base):
    """A kanban card: a material ran low at a site; a steward marks it ordered (with an expected arrival) and
    received (which books the `received` move)."""

    __tablename__ = "replenishment"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'ordered', 'received', 'cancelled')", name="status"),
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_replenishment_material_site", "material_id", "site_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    shortfall: Mapped[Decimal] = mapped_column(QUANTITY)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ordered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ordered_by: Mapped[str | None] = mapped_column(String(32))
    expected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_by: Mapped[str | None] = mapped_column(String(32))
    supplier_note: Mapped[str] = mapped_column(Text, default="")

    material: Mapped[Material] = relationship()
    site: Mapped[Site] = relationship()
