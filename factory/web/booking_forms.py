"""Forms of the booking, lease and maintenance pages, and reading a site-local wall time strictly.

People type times as the site's clock shows them (`<input type="datetime-local">`); the form turns them
into UTC with the site's zone. A wall time the clocks skip (spring forward) or show twice (fall back) is
refused on its field instead of being guessed.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from factory.domain.local_time import entered_to_utc
from factory.domain.opening_hours import WEEKDAYS, parse_week
from factory.services.booking_series import MAX_OCCURRENCES, Weekly
from factory.services.bookings import BookingDraft
from factory.services.leases import LeaseDraft
from factory.services.maintenance import MaintenanceDraft

WALL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]  # the first is what the input shows
RESOLUTION_CHOICES = [
    SelectChoice("move", "Move them: each booking goes to the machine's next free slot after the maintenance "
                         "(cancelled if there is none in the next two weeks); its co-op is told."),
    SelectChoice("cancel", "Cancel them: the bookings are cancelled and their co-ops are told why."),
    SelectChoice("defer", "Defer the maintenance: it starts at the first time the machine is free for its whole "
                          "length; the bookings stay as they are."),
]


def _wall(label: str, *, required: bool = True, description: str = "the site's local time") -> DateTimeLocalField:
    return DateTimeLocalField(label, format=WALL_FORMATS, description=description,
                              validators=[InputRequired() if required else Optional()])


def _reason(label: str = "Reason", description: str = "required; the co-op is told") -> StringField:
    return StringField(label, validators=[Optional(), Length(max=500)], description=description)


class MachineChoice:
    """A form with a machine select; `offer_machines` fills it and remembers each machine's time zone."""

    zones: dict[str, ZoneInfo]

    def offer_machines(self, machines) -> None:
        self.machine.choices = [SelectChoice(m.id, f"{m.name} · {m.site.name}") for m in machines]
        self.zones = {m.id: ZoneInfo(m.site.time_zone) for m in machines}

    def utc(self, field) -> datetime:
        return entered_to_utc(field.data, self.zones[self.machine.data], field=field.name)


class BookingForm(MachineChoice, FlaskForm):
    machine = SelectField("Machine", choices=[])
    coop = SelectField("Co-op", choices=[])
    starts_at = _wall("Start")
    ends_at = _wall("End")
    purpose = StringField("Purpose", validators=[Optional(), Length(max=500)],
                          description="what the co-op will make; shown to the co-op and on the calendar")
    repeat = BooleanField("Repeat weekly")
    count = IntegerField("Times in all", validators=[Optional(), NumberRange(min=1, max=MAX_OCCURRENCES)],
                         description="e.g. 10, counting this one; or give an end date")
    until = DateField("Until (inclusive)", validators=[Optional()])
    skip_conflicts = BooleanField("Book the free ones and skip the rest")

    def offer_coops(self, coops) -> None:
        self.coop.choices = [SelectChoice(c.slug, c.name) for c in coops]

    def draft(self) -> BookingDraft:
        return BookingDraft(self.machine.data, self.coop.data, self.utc(self.starts_at), self.utc(self.ends_at),
                            self.purpose.data or "")

    def weekly(self) -> Weekly | None:
        return Weekly(self.count.data, self.until.data) if self.repeat.data else None


class BookingEditForm(FlaskForm):
    starts_at = _wall("Start")
    ends_at = _wall("End")
    purpose = StringField("Purpose", validators=[Optional(), Length(max=500)])
    reason = _reason("Why the change")


class ReasonForm(FlaskForm):
    reason = _reason()


class SeriesCancelForm(FlaskForm):
    reason = _reason(description="required; every booking of the series still to come is cancelled")
    booking = IntegerField(validators=[InputRequired()])  # the page the form is on, shown again on an error


class LeaseForm(MachineChoice, FlaskForm):
    machine = SelectField("Machine", choices=[])
    coop = SelectField("Co-op", choices=[])
    starts_on = DateField("First day", validators=[InputRequired()])
    ends_on = DateField("Last day", validators=[InputRequired()], description="at most two years after the first")
    hours_mon = StringField("Monday")
    hours_tue = StringField("Tuesday")
    hours_wed = StringField("Wednesday")
    hours_thu = StringField("Thursday")
    hours_fri = StringField("Friday")
    hours_sat = StringField("Saturday")
    hours_sun = StringField("Sunday")
    rent_per_hour = StringField("Rent per hour", validators=[InputRequired()], description="e.g. 6.00",
                                render_kw={"inputmode": "decimal"})
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)])

    def hour_fields(self):
        return [getattr(self, f"hours_{day}") for day in WEEKDAYS]

    def draft(self) -> LeaseDraft:
        windows = parse_week({day: getattr(self, f"hours_{day}").data or "" for day in WEEKDAYS})
        return LeaseDraft(self.machine.data, self.coop.data, self.starts_on.data, self.ends_on.data, windows,
                          self.rent_per_hour.data, self.note.data or "")


class DecisionForm(FlaskForm):
    note = TextAreaField("Note to the co-op", validators=[Optional(), Length(max=2000)])


class ReleaseForm(FlaskForm):
    on_date = DateField("Day to give back", validators=[InputRequired()])
    reason = StringField("Why (optional)", validators=[Optional(), Length(max=500)])


class MaintenanceForm(MachineChoice, FlaskForm):
    machine = SelectField("Machine", choices=[])
    starts_at = _wall("Start")
    ends_at = _wall("End")
    purpose = StringField("What is done", validators=[Optional(), Length(max=500)], description="required")
    resolution = RadioField("What happens to the bookings in the way", choices=RESOLUTION_CHOICES,
                            validators=[Optional()], validate_choice=False)

    def draft(self) -> MaintenanceDraft:
        return MaintenanceDraft(self.machine.data, self.utc(self.starts_at), self.utc(self.ends_at),
                                self.purpose.data or "")
