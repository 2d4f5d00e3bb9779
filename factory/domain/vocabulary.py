"""Stable names of the shop floor: machine kinds and user roles."""

from enum import StrEnum

from drivers.states import MachineState

__all__ = ["MachineKind", "MachineState", "Role"]


class MachineKind(StrEnum):
    FDM_PRINTER = "fdm_printer"
    RESIN_PRINTER = "resin_printer"
    CNC_MILL = "cnc_mill"
    CNC_ROUTER = "cnc_router"
    LASER_CUTTER = "laser_cutter"
    KILN = "kiln"
    FURNACE = "furnace"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "fdm_printer": "FDM printer", "resin_printer": "Resin printer", "cnc_mill": "CNC mill",
            "cnc_router": "CNC router", "laser_cutter": "Laser cutter", "kiln": "Kiln",
            "furnace": "Furnace", "other": "Other",
        }[self.value]


class Role(StrEnum):
    ADMIN = "admin"
    STEWARD = "steward"
    MEMBER = "member"

    @property
    def manages_registry(self) -> bool:
        """Admins and stewards keep the sites, machines and co-ops."""
        return self in (Role.ADMIN, Role.STEWARD)
