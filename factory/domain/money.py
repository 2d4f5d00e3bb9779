"""Money in the commune's books: integer cents, never floats.

An amount enters as exact decimal euros (`to_cents("12.50") == 1250`) and is refused when it would need
rounding. Dividing a sum among members (`split_equally`) gives every member the same whole cents and the
remainder cents one each to the lowest member ids, so the parts always add up to the whole. Rent for
machine time (`cents_for_minutes`) is the one place an amount is rounded: half-up, to the cent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, Inexact, localcontext

from factory.domain.errors import InvalidInput

MINUS = "\u2212"  # −, a proper minus sign for people to read
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_SYMBOLS = {"EUR": "€"}


def to_cents(amount: Decimal | str | int) -> int:
    """Exact decimal euros as integer cents: `"1234.5"` → 123450, `-3` → -300.

    Refused (InvalidInput, field "amount"): floats, booleans, NaN and infinities, text that is not a plain
    decimal number with '.' (no ',' separators, no exponent), and any value with a non-zero digit past the
    cents (`"0.125"`; `"0.120"` is 12 cents). Negative amounts are allowed.
    """
    number = _as_decimal(amount)
    with localcontext() as exact:
        exact.prec = max(28, len(number.as_tuple().digits) + 4)
        exact.traps[Inexact] = True
        cents = number * 100
    if cents != cents.to_integral_value():
        raise InvalidInput("use at most 2 decimals (whole cents)", field="amount", code="too_many_decimals")
    return int(cents)


def format_cents(cents: int, currency: str = "EUR") -> str:
    """`€1,234.50`, `−€3.05` for euros; `1,234.50 CHF`, `−0.05 CHF` for any other currency code."""
    _check_int(cents, "cents")
    sign = MINUS if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    number = f"{whole:,}.{part:02d}"
    code = (currency or "").strip().upper()
    symbol = _SYMBOLS.get(code)
    if symbol is not None:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {code}"


def split_equally(total: int, members: Sequence[int]) -> dict[int, int]:
    """`total` cents (>= 0) divided among member ids: each gets total // n, and the remainder cents go one
    each to the members in ascending id order. The parts sum exactly to `total` and differ by at most one
    cent. Returned in ascending id order. ValueError: a negative total, duplicate ids, or a total > 0 with
    no member to pay it to (a total of 0 among no members is `{}`)."""
    _check_int(total, "total")
    if total < 0:
        raise ValueError(f"cannot split a negative total ({total} cents)")
    ids = sorted(members)
    if len(set(ids)) != len(ids):
        raise ValueError("a member may appear only once")
    if not ids:
        if total:
            raise ValueError(f"no member to pay {total} cents to")
        return {}
    share, remainder = divmod(total, len(ids))
    return {member: share + (1 if index < remainder else 0) for index, member in enumerate(ids)}


def cents_for_minutes(rate_per_hour_cents: int, minutes: int) -> int:
    """Rent for `minutes` of machine time at an hourly rate in cents, rounded half-up to the cent
    (1 minute at €0.30/h is 0.5 cent → 1 cent). ValueError for a negative rate or negative minutes."""
    _check_int(rate_per_hour_cents, "rate_per_hour_cents")
    _check_int(minutes, "minutes")
    if rate_per_hour_cents < 0 or minutes < 0:
        raise ValueError("a rate and a number of minutes cannot be negative")
    return (rate_per_hour_cents * minutes * 2 + 60) // 120


def _check_int(value: object, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} is an int of cents, not {type(value).__name__}")


def _as_decimal(amount: Decimal | str | int) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, Decimal | str | int):
        raise InvalidInput(f"give the amount as a decimal string, not {type(amount).__name__}", field="amount",
                           code="not_decimal")
    if isinstance(amount, int):
        return Decimal(amount)
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise InvalidInput("give a finite number", field="amount", code="not_a_number")
        return amount
    text = amount.strip()
    if not text:
        raise InvalidInput("give an amount", field="amount", code="required")
    if not _NUMBER.fullmatch(text):
        raise InvalidInput(f"{text!r} is not an amount like 12 or 1234.50", field="amount", code="not_a_number")
    return Decimal(text)


def decimal_text(cents: int) -> str:
    """Cents as plain decimal units for exports and the API: 1250 -> "12.50", -5 -> "-0.05"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
