"""What a machine can do, checked against its kind before it is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from factory.domain.errors import InvalidInput
from factory.domain.vocabulary import MachineKind

MATERIAL = re.compile(r"^[a-z0-9][a-z0-9+_.-]{0,31}$")
MAX_AXIS_MM = 10_000
MAX_TEMPERATURE_C = 3_000
MAX_POWER_W = 200_000

# Which capability each kind must declare, and why a steward would care.
REQUIRED: dict[MachineKind, tuple[str, ...]] = {
    MachineKind.FDM_PRINTER: ("build_volume", "materials", "max_temperature_c"),
    MachineKind.RESIN_PRINTER: ("build_volume", "materials"),
    MachineKind.CNC_MILL: ("build_volume", "materials", "spindle_power_w"),
    MachineKind.CNC_ROUTER: ("build_volume", "materials", "spindle_power_w"),
    MachineKind.LASER_CUTTER: ("build_volume", "materials", "spindle_power_w"),
    MachineKind.KILN: ("build_volume", "max_temperature_c"),
    MachineKind.FURNACE: ("max_temperature_c",),
    MachineKind.OTHER: (),
}


@dataclass(frozen=True)
class Capabilities:
    build_x_mm: int | None = None
    build_y_mm: int | None = None
    build_z_mm: int | None = None
    materials: tuple[str, ...] = field(default_factory=tuple)
    max_temperature_c: int | None = None
    spindle_power_w: int | None = None

    @property
    def build_volume(self) -> tuple[int, int, int] | None:
        if None in (self.build_x_mm, self.build_y_mm, self.build_z_mm):
            return None
        return (self.build_x_mm, self.build_y_mm, self.build_z_mm)  # type: ignore[return-value]

    def validated(self, kind: MachineKind) -> Capabilities:
        """Return a normalised copy, or raise InvalidInput naming the first bad field."""
        axes = {"build_x_mm": self.build_x_mm, "build_y_mm": self.build_y_mm, "build_z_mm": self.build_z_mm}
        given = [name for name, value in axes.items() if value is not None]
        if given and len(given) < 3:
            missing = next(name for name in axes if axes[name] is None)
            raise InvalidInput("give all three build dimensions, or none", field=missing)
        for name, value in axes.items():
            _check_range(name, value, 1, MAX_AXIS_MM, "mm")
        _check_range("max_temperature_c", self.max_temperature_c, 1, MAX_TEMPERATURE_C, "°C")
        _check_range("spindle_power_w", self.spindle_power_w, 1, MAX_POWER_W, "W")
        materials = normalise_materials(self.materials)
        normalised = Capabilities(self.build_x_mm, self.build_y_mm, self.build_z_mm, materials,
                                  self.max_temperature_c, self.spindle_power_w)
        for need in REQUIRED[kind]:
            if need == "build_volume" and normalised.build_volume is None:
                raise InvalidInput(f"a {kind.label.lower()} needs its build volume", field="build_x_mm")
            if need == "materials" and not materials:
                raise InvalidInput(f"a {kind.label.lower()} needs at least one material", field="materials")
            if need not in ("build_volume", "materials") and getattr(normalised, need) is None:
                raise InvalidInput(f"a {kind.label.lower()} needs {need.replace('_', ' ')}", field=need)
        return normalised

    def as_dict(self) -> dict:
        volume = self.build_volume
        return {
            "build_volume_mm": list(volume) if volume else None,
            "materials": list(self.materials),
            "max_temperature_c": self.max_temperature_c,
            "spindle_power_w": self.spindle_power_w,
        }


def normalise_materials(materials: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for raw in materials:
        name = raw.strip().lower().replace(" ", "-")
        if not name:
            continue
        if not MATERIAL.match(name):
            raise InvalidInput(
                f"material {raw.strip()!r} must be letters, digits, '+', '_', '.' or '-', up to 32 characters",
                field="materials")
        if name not in seen:
            seen.append(name)
    if len(seen) > 50:
        raise InvalidInput("at most 50 materials per machine", field="materials")
    return tuple(seen)


def parse_materials(text: str) -> tuple[str, ...]:
    """Materials as typed into a form: separated by commas or new lines."""
    return normalise_materials(re.split(r"[,\n]", text or ""))


def _check_range(name: str, value: int | None, low: int, high: int, unit: str) -> None:
    if value is not None and not low <= value <= high:
        raise InvalidInput(f"must be between {low} and {high:,} {unit}", field=name)
