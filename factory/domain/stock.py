"""The stock ledger's rules: a material's stock at one site is an append-only list of moves.

On hand, reserved and available are never stored as truth; they are derived from the moves
(`Balance.of(moves)`). Each move has a stable reason code, the value of `Reason` ("received", "reserved",
"released", "consumed", "adjusted", "transferred_out", "transferred_in", "scrapped"), stored as is.
A transfer between sites is two moves: `transferred_out` at the source and `transferred_in` at the
destination, made together (`transfer_moves`). Quantities are Decimal, in the material's own unit.

A reservation is made when an operation is planned, released if it is unplanned, and consumed when it
completes: consumption takes from on hand what was reserved for it. Only an adjustment, which must say why,
may take stock below zero; every other move is checked against the balance (`check`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from factory.domain.errors import Conflict, InvalidInput
from factory.domain.units import Unit, format_number, format_quantity

ZERO = Decimal(0)


class Reason(StrEnum):
    RECEIVED = "received"
    RESERVED = "reserved"
    RELEASED = "released"
    CONSUMED = "consumed"
    ADJUSTED = "adjusted"
    TRANSFERRED_OUT = "transferred_out"
    TRANSFERRED_IN = "transferred_in"
    SCRAPPED = "scrapped"

    @property
    def label(self) -> str:
        return {
            "received": "Received", "reserved": "Reserved", "released": "Released", "consumed": "Consumed",
            "adjusted": "Adjusted", "transferred_out": "Transferred out", "transferred_in": "Transferred in",
            "scrapped": "Scrapped to melt",
        }[self.value]


# (on hand, reserved) per unit of quantity; an adjustment's quantity carries its own sign.
_EFFECT: dict[Reason, tuple[int, int]] = {
    Reason.RECEIVED: (1, 0),
    Reason.RESERVED: (0, 1),
    Reason.RELEASED: (0, -1),
    Reason.CONSUMED: (-1, -1),
    Reason.ADJUSTED: (1, 0),
    Reason.TRANSFERRED_OUT: (-1, 0),
    Reason.TRANSFERRED_IN: (1, 0),
    Reason.SCRAPPED: (-1, 0),
}


class InsufficientStock(Conflict):
    """A move the balance cannot cover; `details()` gives the balance and the quantity asked as decimal
    strings (never an exponent), for the API's error object."""

    code = "insufficient_stock"

    def __init__(self, message: str, *, balance: Balance, asked: Decimal, code: str | None = None):
        super().__init__(message, field="quantity", code=code)
        self.balance = balance
        self.asked = asked

    def details(self) -> dict:
        return {"on_hand": f"{self.balance.on_hand:f}", "reserved": f"{self.balance.reserved:f}",
                "available": f"{self.balance.available:f}", "asked": f"{self.asked:f}"}


@dataclass(frozen=True)
class Move:
    """One entry of the ledger. `quantity` is more than zero, except an adjustment's: signed, not zero,
    and with a note saying why. Checked on construction (InvalidInput naming the field)."""

    reason: Reason
    quantity: Decimal
    note: str = ""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "reason", Reason(self.reason))
        except ValueError:
            choices = ", ".join(reason.value for reason in Reason)
            raise InvalidInput(f"unknown reason {self.reason!r}; use one of {choices}", field="reason",
                               code="unknown_reason") from None
        if not isinstance(self.quantity, Decimal):
            raise TypeError(f"quantities are Decimal, not {type(self.quantity).__name__}")
        if not self.quantity.is_finite():
            raise InvalidInput("give a finite number", field="quantity", code="not_a_number")
        if self.reason is Reason.ADJUSTED:
            if self.quantity == 0:
                raise InvalidInput("an adjustment of zero changes nothing", field="quantity", code="zero_quantity")
            if not (self.note or "").strip():
                raise InvalidInput("an adjustment needs a reason", field="note", code="note_required")
        elif self.quantity <= 0:
            raise InvalidInput("must be more than zero", field="quantity", code="not_positive")


def effect(move: Move) -> tuple[Decimal, Decimal]:
    """What the move does to (on hand, reserved)."""
    on_hand, reserved = _EFFECT[move.reason]
    return move.quantity * on_hand, move.quantity * reserved


@dataclass(frozen=True)
class Balance:
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        """What may still be reserved, transferred or scrapped."""
        return self.on_hand - self.reserved

    @classmethod
    def of(cls, moves: Iterable[Move]) -> Balance:
        """The balance the moves add up to, in any order, unchecked."""
        balance = cls()
        for move in moves:
            balance = _after(balance, move)
        return balance


def check(balance: Balance, move: Move, *, unit: Unit | None = None) -> Balance:
    """The balance after `move`, or InsufficientStock (a Conflict, field "quantity") if it cannot be made.

    Releasing or consuming more than is reserved: code "not_reserved". Otherwise "insufficient_stock" when
    the move would take on hand or available below zero, or lower either while an adjustment has left it
    below zero. An adjustment is always accepted: it is how a count is corrected, even below zero.
    `unit` only makes the messages read "2.5 kg" rather than "2.5".
    """
    after = _after(balance, move)
    if move.reason is Reason.ADJUSTED:
        return after
    asked = _show(move.quantity, unit)
    if move.reason in (Reason.RELEASED, Reason.CONSUMED) and move.quantity > balance.reserved:
        verb = "release" if move.reason is Reason.RELEASED else "consume"
        raise InsufficientStock(f"only {_show(balance.reserved, unit)} is reserved, cannot {verb} {asked}",
                                balance=balance, asked=move.quantity, code="not_reserved")
    if after.on_hand < 0 and after.on_hand < balance.on_hand:
        raise InsufficientStock(f"only {_show(balance.on_hand, unit)} on hand, {asked} asked",
                                balance=balance, asked=move.quantity)
    if after.available < 0 and after.available < balance.available:
        raise InsufficientStock(f"only {_show(max(balance.available, ZERO), unit)} available "
                                f"({_show(balance.reserved, unit)} reserved), {asked} asked",
                                balance=balance, asked=move.quantity)
    return after


def shortfall(balance: Balance, reorder_point: Decimal, reorder_quantity: Decimal) -> Decimal | None:
    """What to order, or None when available is at or above the reorder point.

    Below it, order the reorder quantity, or more if that would not bring available back up to the reorder
    point: max(reorder_quantity, reorder_point - available).
    """
    if reorder_point < 0:
        raise InvalidInput("must not be negative", field="reorder_point", code="negative_quantity")
    if reorder_quantity < 0:
        raise InvalidInput("must not be negative", field="reorder_quantity", code="negative_quantity")
    if balance.available >= reorder_point:
        return None
    return max(reorder_quantity, reorder_point - balance.available)


def transfer_moves(quantity: Decimal, *, note: str = "") -> tuple[Move, Move]:
    """The two moves of a transfer: (out, for the source site; in, for the destination)."""
    return Move(Reason.TRANSFERRED_OUT, quantity, note), Move(Reason.TRANSFERRED_IN, quantity, note)


def _after(balance: Balance, move: Move) -> Balance:
    on_hand, reserved = effect(move)
    return Balance(balance.on_hand + on_hand, balance.reserved + reserved)


def _show(quantity: Decimal, unit: Unit | None) -> str:
    return format_number(quantity) if unit is None else format_quantity(quantity, unit)
