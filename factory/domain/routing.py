"""Which machines can do a routing step, how long a job's operation takes, and how an order splits into jobs.

Pure: the services pass the machines' kinds and capabilities in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from factory.domain.capabilities import Capabilities
from factory.domain.vocabulary import MachineKind


@dataclass(frozen=True)
class StepNeeds:
    """What a step asks of a machine."""

    kind: MachineKind
    material: str | None = None
    min_volume_mm: tuple[int, int, int] | None = None
    min_temperature_c: int | None = None


def why_not(needs: StepNeeds, kind: str, capabilities: Capabilities) -> str | None:
    """Why a machine of `kind` with `capabilities` cannot do the step, or None when it can."""
    if kind != needs.kind.value:
        return f"is not a {needs.kind.label.lower()}"
    if needs.material and needs.material not in capabilities.materials:
        return f"does not take {needs.material}"
    if needs.min_volume_mm:
        volume = capabilities.build_volume
        if volume is None or any(have < want for have, want in zip(sorted(volume), sorted(needs.min_volume_mm),
                                                                   strict=True)):
            return "is too small for the part ({} mm)".format(" × ".join(str(n) for n in needs.min_volume_mm))
    if needs.min_temperature_c and (capabilities.max_temperature_c or 0) < needs.min_temperature_c:
        return f"does not reach {needs.min_temperature_c:,} °C"
    return None


def missing_capability(step_name: str, position: int, needs: StepNeeds,
                       machines: list[tuple[str, str, Capabilities]]) -> str:
    """Say, for a step no machine can do, what is missing: the need and how near the nearest machines come."""
    same_kind = [(name, why_not(needs, kind, caps)) for name, kind, caps in machines if kind == needs.kind.value]
    need = needs.kind.label.lower()
    if needs.material:
        need += f" taking {needs.material}"
    if needs.min_temperature_c:
        need += f" reaching {needs.min_temperature_c:,} °C"
    if needs.min_volume_mm:
        need += " at least {} mm".format(" × ".join(str(n) for n in needs.min_volume_mm))
    if not same_kind:
        return f"no machine can do step {position} ({step_name}): it needs a {need}, and the commune has none"
    reasons = "; ".join(f"{name} {reason}" for name, reason in same_kind[:3])
    return f"no machine can do step {position} ({step_name}): it needs a {need} ({reasons})"


def split_into_jobs(quantity: int, max_batch: int) -> list[int]:
    """Batch sizes of at most `max_batch`, as even as can be: 20 by 8 is 7, 7, 6."""
    if quantity <= 0 or max_batch <= 0:
        raise ValueError("quantity and batch size must be positive")
    jobs = math.ceil(quantity / max_batch)
    base, extra = divmod(quantity, jobs)
    return [base + 1] * extra + [base] * (jobs - extra)


def operation_minutes(quantity: int, minutes_per_unit: Decimal, setup_minutes: int,
                      batch_capacity: int | None) -> int:
    """Whole minutes of one job's operation: setup, then per unit, or per run of up to `batch_capacity`
    pieces for a batched step (a firing takes its time whether it holds one mug or forty)."""
    runs = quantity if batch_capacity is None else math.ceil(quantity / batch_capacity)
    work = (minutes_per_unit * runs).to_integral_value(rounding=ROUND_CEILING)
    return max(1, setup_minutes + int(work))
