"""Forms of the order and inventory pages. They check shapes (a whole number, a date, a time typed as the
site's clock shows it); the order and stock services check the rules and name the field they refuse."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from factory.domain.local_time import entered_to_utc
from factory.domain.stock import Move, Reason
from factory.domain.units import parse_quantity
from factory.services.orders import PRIORITIES, OrderDraft
from factory.web.booking_forms import WALL_FORMATS

# What a steward books by hand; reservations and consumption come from the orders' operations.
MOVE_REASONS = (Reason.RECEIVED, Reason.ADJUSTED, Reason.SCRAPPED, "transferred")
MOVE_LABELS = {Reason.RECEIVED: "Received (a delivery)", Reason.ADJUSTED: "Adjusted (a count corrected, + or −)",
               Reason.SCRAPPED: "Scrapped (to melt or waste)", "transferred": "Transferred to another site"}


class OrderForm(FlaskForm):
    design = SelectField("Design", choices=[])
    coop = SelectField("Co-op", choices=[])
    quantity = IntegerField("Quantity (pieces)", validators=[InputRequired(message="give how many pieces")],
                            render_kw={"inputmode": "numeric"})
    needed_by = DateField("Needed by", validators=[InputRequired(message="give the date it is needed by")],
                          description="a day after today")
    priority = SelectField("Priority", choices=[SelectChoice(p, p.capitalize()) for p in PRIORITIES],
                           default="normal")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)],
                          description="colour, finish, who collects it…")

    def offer(self, designs, coops) -> None:
        self.design.choices = [SelectChoice(d.slug, f"{d.name} (v{d.version})") for d in designs]
        self.coop.choices = [SelectChoice(c.slug, c.name) for c in coops]

    def draft(self) -> OrderDraft:
        return OrderDraft(self.design.data, self.coop.data, self.quantity.data, self.needed_by.data,
                          self.priority.data, self.notes.data or "")


class CancelOrderForm(FlaskForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=500)],
                         description="required; kept in the order's history")


class PlanForm(FlaskForm):
    site = SelectField("Reserve at", choices=[], validate_choice=False,
                       description="the site whose stock is reserved; by default that of the first machine able "
                                   "to do each step")

    def offer_sites(self, sites) -> None:
        self.site.choices = [SelectChoice("", "each step's machine site"),
                             *(SelectChoice(s.slug, s.name) for s in sites)]


class ActionForm(FlaskForm):
    """A button alone (start, finish, mark received): only the CSRF token."""


class MarkOrderedForm(FlaskForm):
    expected_at = DateTimeLocalField("Expected arrival", format=WALL_FORMATS, description="the site's local time",
                                     validators=[InputRequired(message="give when it should arrive")])
    note = StringField("Supplier note", validators=[Optional(), Length(max=500)],
                       description="who from, order number")

    def expected_utc(self, time_zone: str):
        return entered_to_utc(self.expected_at.data, ZoneInfo(time_zone), field="expected_at")


class StockMoveForm(FlaskForm):
    material = SelectField("Material", choices=[])
    site = SelectField("Site", choices=[])
    reason = SelectField("What happened", choices=[SelectChoice(str(r), MOVE_LABELS[r]) for r in MOVE_REASONS])
    to_site = SelectField("To site", choices=[], validate_choice=False, description="for a transfer")
    quantity = StringField("Quantity", validators=[InputRequired(message="give a quantity")],
                           description="in the material's own unit, with '.' for decimals, e.g. 2.5",
                           render_kw={"inputmode": "decimal"})
    note = StringField("Note", validators=[Optional(), Length(max=500)], description="required for an adjustment")

    def offer(self, materials, sites) -> None:
        self.material.choices = [SelectChoice(m.slug, f"{m.name} ({m.unit})") for m in materials]
        self.site.choices = [SelectChoice(s.slug, s.name) for s in sites]
        self.to_site.choices = [SelectChoice("", "—"), *(SelectChoice(s.slug, s.name) for s in sites)]

    @property
    def transfers(self) -> bool:
        return self.reason.data == "transferred"

    def amount(self) -> Decimal:
        """The quantity typed, exactly (InvalidInput on `quantity`): signed only for an adjustment."""
        return parse_quantity(self.quantity.data or "", field="quantity",
                              allow_negative=self.reason.data == Reason.ADJUSTED)

    def move(self) -> Move:
        return Move(Reason(self.reason.data), self.amount(), self.note.data or "")
