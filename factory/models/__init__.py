"""SQLAlchemy 2.0 typed models. No Flask here: the CLI and workers use them with plain sessions."""

from factory.models.base import Base, UTCDateTime, utcnow
from factory.models.bookings import (
    Booking,
    BookingSeries,
    Lease,
    LeaseRelease,
    LeaseWindow,
    MaintenanceWindow,
    Reservation,
    ReservationChange,
)
from factory.models.commune import Commune, Coop, Member, OpeningHours, Site
from factory.models.ledger import (
    AcquisitionProposal,
    BondSeries,
    Dividend,
    JournalEntry,
    JournalPosting,
    LedgerPeriod,
    RentCharge,
    UpkeepCost,
)
from factory.models.machines import Machine, MachineStateChange
from factory.models.notices import CalendarFeed, Notification
from factory.models.planning import MachineCommand, PlanAssignment, PlanTrigger, PlanUnplanned, PlanVersion
from factory.models.production import Design, DesignMaterial, Job, Operation, OrderChange, ProductionOrder, RoutingStep
from factory.models.stock import Material, ReorderRule, Replenishment, StockMove
from factory.models.telemetry import IngestCounter, MachineCredential, MachineEvent, TelemetrySample
from factory.models.users import ApiToken, User

__all__ = ["AcquisitionProposal", "ApiToken", "Base", "BondSeries", "Dividend", "JournalEntry", "JournalPosting",
           "LedgerPeriod", "RentCharge", "UpkeepCost", "Booking", "BookingSeries", "CalendarFeed", "Commune", "Coop",
           "Design",
           "DesignMaterial", "IngestCounter", "Job", "Lease", "LeaseRelease", "LeaseWindow", "Machine",
           "MachineCommand", "MachineCredential", "MachineEvent", "MachineStateChange", "MaintenanceWindow",
           "Material", "Member",
           "Notification", "OpeningHours", "Operation", "OrderChange", "PlanAssignment", "PlanTrigger",
           "PlanUnplanned", "PlanVersion", "ProductionOrder", "ReorderRule",
           "Replenishment", "Reservation", "ReservationChange", "RoutingStep", "Site", "StockMove",
           "TelemetrySample", "UTCDateTime", "User", "utcnow"]
