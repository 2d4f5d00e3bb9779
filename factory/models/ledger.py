"""The commune's books: machines' bonds and upkeep, acquisition proposals, closed periods with their rent
charges and dividends, and the double-entry journal under them. Amounts are integer cents.

A closed period and everything written at its close (charges, dividends, journal entries and postings) is
append-only in the database too: triggers refuse UPDATE and DELETE (migration 0006). A correction is a
reversing entry in a later period.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from factory.models.base import Base, UTCDateTime, utcnow
from factory.models.commune import Coop, Member
from factory.models.machines import Machine

UPKEEP_KINDS = "'maintenance', 'parts', 'other'"
PROPOSAL_STATUSES = "'proposed', 'approved', 'declined'"
APPEND_ONLY_TABLES = ("ledger_period", "rent_charge", "dividend", "journal_entry", "journal_posting")


class BondSeries(Base):
    """Money the commune borrowed to buy one machine (its collateral), repaid monthly as an annuity."""

    __tablename__ = "bond_series"
    __table_args__ = (CheckConstraint("principal_cents > 0", name="principal"),
                      CheckConstraint("interest_rate >= 0 AND interest_rate < 1", name="rate"),
                      CheckConstraint("term_months BETWEEN 1 AND 600", name="term"))

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    principal_cents: Mapped[int] = mapped_column(Integer)
    interest_rate: Mapped[Decimal] = mapped_column(Numeric(7, 5))  # a year, e.g. 0.04000
    term_months: Mapped[int] = mapped_column(Integer)
    first_due: Mapped[date] = mapped_column(Date)
    issued_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    machine: Mapped[Machine] = relationship()


class UpkeepCost(Base):
    __tablename__ = "upkeep_cost"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount"),
                      CheckConstraint(f"kind IN ({UPKEEP_KINDS})", name="kind"))

    id: Mapped[int] = mapped_column(primary_key=True)
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id"), index=True)
    on_date: Mapped[date] = mapped_column(Date, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    machine: Mapped[Machine] = relationship()


class AcquisitionProposal(Base):
    """A co-op asks the commune to buy a machine, offering a lease as the guarantee; an admin decides."""

    __tablename__ = "acquisition_proposal"
    __table_args__ = (CheckConstraint(f"status IN ({PROPOSAL_STATUSES})", name="status"),
                      CheckConstraint("estimated_cost_cents > 0", name="cost"),
                      CheckConstraint("lease_hours_per_week > 0 AND lease_months > 0 AND lease_rate_cents > 0",
                                      name="lease"))

    id: Mapped[int] = mapped_column(primary_key=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coop.id"), index=True)
    machine_kind: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text)
    estimated_cost_cents: Mapped[int] = mapped_column(Integer)
    lease_hours_per_week: Mapped[int] = mapped_column(Integer)
    lease_months: Mapped[int] = mapped_column(Integer)
    lease_rate_cents: Mapped[int] = mapped_column(Integer)  # an hour
    demand: Mapped[str] = mapped_column(Text, default="")  # what the co-op says, plus the plan's evidence
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    coop: Mapped[Coop] = relationship()


class LedgerPeriod(Base):
    """A closed month: its figures as closed. Only closed periods have a row."""

    __tablename__ = "ledger_period"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_by: Mapped[str] = mapped_column(String(32))
    rents_cents: Mapped[int] = mapped_column(Integer)
    interest_cents: Mapped[int] = mapped_column(Integer)
    principal_cents: Mapped[int] = mapped_column(Integer)
    upkeep_cents: Mapped[int] = mapped_column(Integer)
    carried_in_cents: Mapped[int] = mapped_column(Integer)  # <= 0: a deficit from before
    payout_cents: Mapped[int] = mapped_column(Integer)
    carried_out_cents: Mapped[int] = mapped_column(Integer)  # <= 0
    members: Mapped[int] = mapped_column(Integer)

    charges: Mapped[list[RentCharge]] = relationship(back_populates="period", order_by="RentCharge.starts_at")
    dividends: Mapped[list[Dividend]] = relationship(back_populates="period", order_by="Dividend.member_id")


class RentCharge(Base):
    """Machine time charged to a co-op in a period: a booking's, an operation's, or a lease's fixed rent.
    One machine-minute is charged once: the unique key stops the same piece being charged again."""

    __tablename__ = "rent_charge"
    __table_args__ = (UniqueConstraint("machine_id", "source", "ref_id", "starts_at", name="uq_rent_charge_piece"),
                      CheckConstraint("amount_cents >= 0", name="amount"),
                      Index("ix_rent_charge_period_coop", "period_id", "coop_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("ledger_period.id"), index=True)
    coop_id: Mapped[int] = mapped_column(ForeignKey("coop.id"))
    machine_id: Mapped[str] = mapped_column(ForeignKey("machine.id"))
    source: Mapped[str] = mapped_column(String(16))  # booking, operation, lease
    ref_id: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    minutes: Mapped[int] = mapped_column(Integer)
    rate_cents: Mapped[int] = mapped_column(Integer)  # an hour: the machine's rate, or a lease's own rent
    amount_cents: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")

    period: Mapped[LedgerPeriod] = relationship(back_populates="charges")
    coop: Mapped[Coop] = relationship()
    machine: Mapped[Machine] = relationship()


class Dividend(Base):
    __tablename__ = "dividend"
    __table_args__ = (UniqueConstraint("period_id", "member_id"), CheckConstraint("amount_cents >= 0", name="amount"))

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("ledger_period.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)

    period: Mapped[LedgerPeriod] = relationship(back_populates="dividends")
    member: Mapped[Member] = relationship()


class JournalEntry(Base):
    __tablename__ = "journal_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("ledger_period.id"), index=True)
    memo: Mapped[str] = mapped_column(String(300))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entry.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    postings: Mapped[list[JournalPosting]] = relationship(back_populates="entry", order_by="JournalPosting.id")


class JournalPosting(Base):
    __tablename__ = "journal_posting"
    __table_args__ = (CheckConstraint("(debit_cents > 0 AND credit_cents = 0) OR "
                                      "(credit_cents > 0 AND debit_cents = 0)", name="one_side"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entry.id"), index=True)
    account: Mapped[str] = mapped_column(String(80), index=True)
    debit_cents: Mapped[int] = mapped_column(Integer, default=0)
    credit_cents: Mapped[int] = mapped_column(Integer, default=0)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
