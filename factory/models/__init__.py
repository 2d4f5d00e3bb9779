"""SQLAlchemy 2.0 typed models. No Flask here: the CLI and workers use them with plain sessions."""

from factory.models.base import Base, UTCDateTime, utcnow
from factory.models.commune import Commune, Coop, Member, OpeningHours, Site
from factory.models.machines import Machine, MachineStateChange
from factory.models.telemetry import IngestCounter, MachineCredential, MachineEvent, TelemetrySample
from factory.models.users import ApiToken, User

__all__ = ["ApiToken", "Base", "Commune", "Coop", "IngestCounter", "Machine", "MachineCredential", "MachineEvent",
           "MachineStateChange", "Member", "OpeningHours", "Site", "TelemetrySample", "UTCDateTime", "User", "utcnow"]
