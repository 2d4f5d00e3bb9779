"""WTForms for the pages. Forms check shapes (a number, a date); services check the rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from factory.app import db
from factory.domain.capabilities import Capabilities, parse_materials
from factory.domain.errors import DomainError
from factory.domain.identifiers import SLUG
from factory.domain.opening_hours import WEEKDAYS, format_day, parse_week
from factory.domain.vocabulary import MachineKind, MachineState, Role
from factory.services.coops import CoopDraft
from factory.services.machines import MachineDraft
from factory.services.sites import SiteDraft, site_week
from factory.services.users import UserDraft

T = TypeVar("T")
SLUG_RULE = Regexp(SLUG, message="use 1 to 64 lower-case letters, digits or '-'")


def attempt(form: FlaskForm, action: Callable[[], T]) -> T | None:
    """Run `action` (one service call) when the form is submitted and valid, and answer its result; None when
    the form is not valid or the service refused, whose error then sits on its field, the transaction rolled
    back."""
    if not form.validate_on_submit():
        return None
    try:
        return action()
    except DomainError as exc:
        db().rollback()
        show_error(form, exc)
        return None


def show_error(form: FlaskForm, exc: DomainError) -> None:
    """Put a service's error on the field it names, or on the form as a whole."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


class LoginForm(FlaskForm):
    login = StringField("Login", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired()])


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired()], description="at least 8 characters")


class TokenForm(FlaskForm):
    name = StringField("What is it for?", validators=[DataRequired(), Length(max=80)],
                       description="e.g. the Leipzig dashboard; shown in the list so you know what to revoke")


class SiteForm(FlaskForm):
    slug = StringField("Id", validators=[DataRequired(), SLUG_RULE],
                       description="lower-case, used in URLs and MQTT topics")
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    time_zone = StringField("Time zone", validators=[DataRequired()], description="IANA name, e.g. Europe/Berlin")
    address = TextAreaField("Address", validators=[Optional(), Length(max=500)])
    hours_mon = StringField("Monday")
    hours_tue = StringField("Tuesday")
    hours_wed = StringField("Wednesday")
    hours_thu = StringField("Thursday")
    hours_fri = StringField("Friday")
    hours_sat = StringField("Saturday")
    hours_sun = StringField("Sunday")

    def hour_fields(self):
        return [getattr(self, f"hours_{day}") for day in WEEKDAYS]

    def fill_from(self, site) -> None:
        self.slug.data, self.name.data, self.time_zone.data = site.slug, site.name, site.time_zone
        self.address.data = site.address
        week = site_week(site)
        for day, name in enumerate(WEEKDAYS):
            getattr(self, f"hours_{name}").data = format_day(week[day])

    def draft(self) -> SiteDraft:
        hours = parse_week({day: getattr(self, f"hours_{day}").data or "" for day in WEEKDAYS})
        return SiteDraft(self.slug.data, self.name.data, self.time_zone.data, hours, self.address.data or "")


class CoopForm(FlaskForm):
    slug = StringField("Id", validators=[DataRequired(), SLUG_RULE], description="lower-case, used in URLs")
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("What the co-op does", validators=[Optional(), Length(max=2000)])

    def draft(self) -> CoopDraft:
        return CoopDraft(self.slug.data, self.name.data, self.description.data or "")


class MemberForm(FlaskForm):
    """Shown under the co-op form: build it with prefix="member" so the two forms' ids differ."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])


class UserForm(FlaskForm):
    login = StringField("Login", validators=[DataRequired()])
    display_name = StringField("Name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=[SelectChoice(r.value) for r in Role])
    coop = SelectField("Co-op", choices=[], description="required for members")
    active = BooleanField("Active", default=True)
    password = PasswordField("Password", validators=[Optional()],
                             description="at least 8 characters; leave empty to keep the current one")

    def draft(self) -> UserDraft:
        return UserDraft(self.login.data, self.role.data, self.display_name.data or "", self.coop.data or None,
                         self.active.data, self.password.data or None)


def _count(label: str, high: int, unit: str):
    return IntegerField(f"{label} ({unit})", validators=[Optional(), NumberRange(min=1, max=high)])


class MachineForm(FlaskForm):
    id = StringField("Id", validators=[DataRequired(), SLUG_RULE],
                     description="lower-case letters, digits and '-'; its MQTT id, never changes")
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    kind = SelectField("Kind", choices=[SelectChoice(k.value, k.label) for k in MachineKind])
    site = SelectField("Site", choices=[])
    model = StringField("Make and model", validators=[Optional(), Length(max=120)])
    build_x_mm = _count("Build X", 10_000, "mm")
    build_y_mm = _count("Build Y", 10_000, "mm")
    build_z_mm = _count("Build Z", 10_000, "mm")
    materials = TextAreaField("Accepted materials", validators=[Optional()],
                              description="separated by commas, e.g. pla, petg, tpu")
    max_temperature_c = _count("Max temperature", 3_000, "°C")
    spindle_power_w = _count("Spindle or laser power", 200_000, "W")
    unattended_ok = BooleanField("May run unattended (outside opening hours)")
    acquisition_cost = DecimalField("Acquisition cost", places=2,
                                    validators=[Optional(), NumberRange(min=0, max=10_000_000)])
    acquired_on = DateField("Acquired on", validators=[Optional()])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)])
    booking_min_minutes = IntegerField("Shortest booking (minutes)", default=30, validators=[Optional()],
                                       description="at least 5")
    booking_max_minutes = IntegerField("Longest booking (minutes)", default=480, validators=[Optional()],
                                       description="at most 10080 (7 days)")
    booking_notice_minutes = IntegerField("Notice needed (minutes)", default=0, validators=[Optional()],
                                          description="how long before its start a booking must be made; 0 for none")
    booking_horizon_days = IntegerField("Bookable ahead (days)", default=180, validators=[Optional()],
                                        description="1 to 730")

    def fill_from(self, machine) -> None:
        for name in ("id", "name", "kind", "model", "build_x_mm", "build_y_mm", "build_z_mm",
                     "max_temperature_c", "spindle_power_w", "unattended_ok", "acquisition_cost",
                     "acquired_on", "notes", "booking_min_minutes", "booking_max_minutes",
                     "booking_notice_minutes", "booking_horizon_days"):
            getattr(self, name).data = getattr(machine, name)
        self.site.data = machine.site.slug
        self.materials.data = ", ".join(machine.materials or [])

    def draft(self) -> MachineDraft:
        capabilities = Capabilities(self.build_x_mm.data, self.build_y_mm.data, self.build_z_mm.data,
                                    parse_materials(self.materials.data or ""),
                                    self.max_temperature_c.data, self.spindle_power_w.data)
        return MachineDraft(id=self.id.data, name=self.name.data, kind=self.kind.data, site=self.site.data,
                            capabilities=capabilities, model=self.model.data or "",
                            unattended_ok=self.unattended_ok.data, acquisition_cost=self.acquisition_cost.data,
                            acquired_on=self.acquired_on.data, notes=self.notes.data or "",
                            booking_min_minutes=self.booking_min_minutes.data,
                            booking_max_minutes=self.booking_max_minutes.data,
                            booking_notice_minutes=self.booking_notice_minutes.data,
                            booking_horizon_days=self.booking_horizon_days.data)


class StateForm(FlaskForm):
    state = SelectField("New state", choices=[SelectChoice(s.value) for s in MachineState])
    reason = StringField("Reason", validators=[InputRequired(), Length(max=500)],
                         description="what the next steward should know")
    expected_back_at = DateTimeLocalField("Expected back", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                          validators=[Optional()],
                                          description="for fault or maintenance, in the site's time: bookings "
                                                      "may start from then")
