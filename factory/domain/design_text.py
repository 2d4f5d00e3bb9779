"""A design's routing and bill of materials as text, one line per step and one per material, as the design
form's two text areas take them:

    bisque firing | kiln | 480 | setup 30 | material stoneware | min 1000 °C | batch 24 | family bisque
    print | fdm_printer | 45 | volume 200 x 200 x 150 mm

    stoneware | 350 g | step 1

A step is its name, machine kind and minutes (per piece, or per run when it has a `batch`), then options in
any order. A material line is its slug, the quantity one piece takes with its unit, and the step that uses it
(step 1 when left out). Blank lines are skipped. Parsing checks shapes only and answers the fields of the
design service's StepDraft and BomLine as dicts; the service checks the rules. A bad line is InvalidInput on
field `steps` or `bom`, its message starting with the line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from factory.domain.errors import InvalidInput
from factory.domain.vocabulary import MachineKind

_MINUTES = re.compile(r"([0-9]+(?:\.[0-9]+)?)(?:\s*min)?", re.IGNORECASE)
_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([^\s0-9.].*)")
_OPTIONS = {
    "setup": re.compile(r"setup\s+([0-9]+)(?:\s*min)?", re.IGNORECASE),
    "material": re.compile(r"material\s+(\S+)", re.IGNORECASE),
    "volume": re.compile(r"volume\s+([0-9]+)\s*[x×]\s*([0-9]+)\s*[x×]\s*([0-9]+)(?:\s*mm)?", re.IGNORECASE),
    "min": re.compile(r"min\s+([0-9]+)\s*°?\s*C", re.IGNORECASE),
    "batch": re.compile(r"batch\s+([0-9]+)", re.IGNORECASE),
    "family": re.compile(r"family\s+(\S+)", re.IGNORECASE),
}
_STEP_OF = re.compile(r"step\s+([0-9]+)", re.IGNORECASE)
STEP_HELP = "setup N, material X, volume X x Y x Z mm, min N °C, batch N or family X"


def parse_steps(text: str) -> tuple[dict, ...]:
    """The routing typed one step a line, in order."""
    return tuple(_step(number, line) for number, line in _lines(text))


def parse_bom(text: str) -> tuple[dict, ...]:
    """The bill of materials typed one material a line."""
    return tuple(_bom_line(number, line) for number, line in _lines(text))


def format_steps(steps: Iterable[Mapping]) -> str:
    """The routing as parse_steps reads it back (each step a dict of StepDraft's fields)."""
    return "\n".join(_format_step(step) for step in steps)


def format_bom(lines: Iterable[Mapping]) -> str:
    """The bill of materials as parse_bom reads it back (each line a dict of BomLine's fields)."""
    return "\n".join(f"{line['material']} | {_number(line['quantity_per_unit'])} {line['unit']} | step {line['step']}"
                     for line in lines)


def _lines(text: str) -> list[tuple[int, list[str]]]:
    return [(number, [part.strip() for part in line.split("|")])
            for number, line in enumerate((text or "").splitlines(), start=1) if line.strip()]


def _step(number: int, parts: list[str]) -> dict:
    def bad(message: str) -> InvalidInput:
        return InvalidInput(f"line {number}: {message}", field="steps")

    if len(parts) < 3 or not parts[0]:
        raise bad("give the step's name | machine kind | minutes, then any options, separated by '|'")
    name, kind, minutes, *options = parts
    if kind.lower() not in {k.value for k in MachineKind}:
        raise bad(f"unknown machine kind {kind!r}; use one of {', '.join(k.value for k in MachineKind)}")
    if not (match := _MINUTES.fullmatch(minutes)):
        raise bad(f"minutes must be a number such as 45 or 7.5, not {minutes!r}")
    step = {"name": name, "machine_kind": kind.lower(), "minutes_per_unit": match.group(1), "setup_minutes": 0,
            "material": None, "min_volume_mm": None, "min_temperature_c": None, "setup_family": "",
            "batch_capacity": None}
    for option in options:
        key, found = next(((key, rule.fullmatch(option)) for key, rule in _OPTIONS.items()
                           if rule.fullmatch(option)), (None, None))
        if found is None:
            raise bad(f"cannot read {option!r}; options are {STEP_HELP}")
        if key == "setup":
            step["setup_minutes"] = int(found.group(1))
        elif key == "material":
            step["material"] = found.group(1).lower()
        elif key == "volume":
            step["min_volume_mm"] = tuple(int(side) for side in found.groups())
        elif key == "min":
            step["min_temperature_c"] = int(found.group(1))
        elif key == "batch":
            step["batch_capacity"] = int(found.group(1))
        else:
            step["setup_family"] = found.group(1)
    return step


def _bom_line(number: int, parts: list[str]) -> dict:
    def bad(message: str) -> InvalidInput:
        return InvalidInput(f"line {number}: {message}", field="bom")

    if len(parts) not in (2, 3) or not parts[0]:
        raise bad("give the material | quantity and unit | step N, e.g. stoneware | 350 g | step 1")
    if not (quantity := _QUANTITY.fullmatch(parts[1])):
        raise bad(f"give the quantity one piece takes and its unit, e.g. 350 g, not {parts[1]!r}")
    step = 1
    if len(parts) == 3:
        if not (found := _STEP_OF.fullmatch(parts[2])):
            raise bad(f"name the step that uses it as 'step N', not {parts[2]!r}")
        step = int(found.group(1))
    return {"material": parts[0].lower(), "quantity_per_unit": quantity.group(1), "unit": quantity.group(2).strip(),
            "step": step}


def _format_step(step: Mapping) -> str:
    parts = [step["name"], step["machine_kind"], _number(step["minutes_per_unit"])]
    if step.get("setup_minutes"):
        parts.append(f"setup {step['setup_minutes']}")
    if step.get("material"):
        parts.append(f"material {step['material']}")
    if step.get("min_volume_mm"):
        parts.append("volume {} x {} x {} mm".format(*step["min_volume_mm"]))
    if step.get("min_temperature_c"):
        parts.append(f"min {step['min_temperature_c']} °C")
    if step.get("batch_capacity"):
        parts.append(f"batch {step['batch_capacity']}")
    if step.get("setup_family"):
        parts.append(f"family {step['setup_family']}")
    return " | ".join(parts)


def _number(value: Decimal | str) -> str:
    """`480.00` as `480`, `0.300` as `0.3`: no exponent, no separators."""
    number = Decimal(value)
    return f"{Decimal(0) if number == 0 else number.normalize():f}"
