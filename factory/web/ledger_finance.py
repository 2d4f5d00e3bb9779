"""A machine as the commune's asset (/machines/<id>/finance): its hourly rate and expected life, its bonds with
their repayment schedules, its upkeep, the rate that would cover them at its current use, and its payback and
utilisation over the closed months; and co-ops' proposals that the commune buy a machine (/ledger/proposals).

Everyone signed in sees these figures; stewards and admins set rates and record upkeep, admins add bonds and
decide proposals, members propose for their own co-op. Forms check shapes, the finance service the rules.
"""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from factory.app import db
from factory.domain.vocabulary import MachineKind, Role
from factory.services.coops import list_coops
from factory.services.finance import (
    KINDS,
    BondDraft,
    ProposalDraft,
    UpkeepDraft,
    add_bond,
    decide_proposal,
    list_proposals,
    machine_finance,
    propose_acquisition,
    record_upkeep,
    set_rate,
)
from factory.services.ledger_views import utilisation
from factory.web.access import actor, admins, registry_keepers
from factory.web.forms import attempt
from factory.web.ledger_charts import payback_chart, utilisation_chart

bp = Blueprint("finance", __name__)

EUROS = {"render_kw": {"inputmode": "decimal"}, "places": None}


def _money(label: str, description: str = "in euros, e.g. 12.50") -> DecimalField:
    return DecimalField(label, validators=[InputRequired(message="give an amount, e.g. 12.50")],
                        description=description, **EUROS)


class RateForm(FlaskForm):
    hourly_rate = _money("Hourly rate (€)", "what a co-op pays an hour of this machine; 0 for free")
    expected_life_years = IntegerField("Expected life (years)", validators=[Optional()], description="1 to 100")


class BondForm(FlaskForm):
    name = StringField("Name of the series", validators=[InputRequired(), Length(max=120)],
                       description="e.g. Laser cutter bonds 2026")
    principal = _money("Principal (€)")
    interest_rate = DecimalField("Interest rate a year", validators=[InputRequired(message="give a rate, e.g. 0.04")],
                                 description="as a fraction: 0.04 for 4 %", **EUROS)
    term_months = IntegerField("Term (months)", validators=[InputRequired(message="give the term in months")],
                               description="1 to 600")
    issued_on = DateField("Issued on", validators=[InputRequired(message="give the date of issue")])
    first_due = DateField("First instalment due", validators=[InputRequired(message="give the first due date")],
                          description="after the issue; then monthly on the same day")

    def draft(self) -> BondDraft:
        return BondDraft(self.name.data, self.principal.data, self.interest_rate.data, self.term_months.data,
                         self.first_due.data, self.issued_on.data)


class UpkeepForm(FlaskForm):
    on_date = DateField("Date", validators=[InputRequired(message="give the date of the cost")],
                        description="a day of a month not closed yet")
    kind = SelectField("Kind", choices=[SelectChoice(kind, kind.capitalize()) for kind in KINDS])
    amount = _money("Amount (€)")
    note = StringField("Note", validators=[Optional(), Length(max=500)], description="e.g. new nozzle")

    def draft(self) -> UpkeepDraft:
        return UpkeepDraft(self.on_date.data, self.kind.data, self.amount.data, self.note.data or "")


class ProposalForm(FlaskForm):
    coop = SelectField("Co-op", choices=[])
    machine_kind = SelectField("Machine wanted", choices=[SelectChoice(k.value, k.label) for k in MachineKind])
    description = TextAreaField("What machine and why", validators=[InputRequired(message="describe the machine"),
                                                                     Length(max=2000)])
    estimated_cost = _money("Estimated cost (€)")
    lease_hours_per_week = IntegerField("Lease offered: hours a week",
                                        validators=[InputRequired(message="give the hours a week")],
                                        description="the co-op's guarantee: 1 to 168")
    lease_months = IntegerField("Lease offered: months", validators=[InputRequired(message="give the months")],
                                description="1 to 120")
    lease_rate = _money("Lease offered: rent an hour (€)")
    demand = TextAreaField("Demand behind it", validators=[Optional(), Length(max=2000)],
                           description="orders turned away or late for lack of it; the plan history is added")

    def draft(self) -> ProposalDraft:
        return ProposalDraft(self.coop.data, self.machine_kind.data, self.description.data or "",
                             self.estimated_cost.data, self.lease_hours_per_week.data, self.lease_months.data,
                             self.lease_rate.data, self.demand.data or "")


class DecisionForm(FlaskForm):
    decision = SelectField("Decision", choices=[SelectChoice("approve"), SelectChoice("decline")])
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)], description="required to decline")


# --- a machine's finance ------------------------------------------------------------------------------------

@bp.get("/machines/<machine_id>/finance")
@login_required
def machine(machine_id: str):
    return _finance_page(machine_id)


@bp.post("/machines/<machine_id>/finance/rate")
@registry_keepers
def rate(machine_id: str):
    form = RateForm()
    done = attempt(form, lambda: set_rate(db(), machine_id, form.hourly_rate.data, form.expected_life_years.data))
    if done is not None:
        flash(f"{done.name}: rate and expected life saved.", "success")
        return redirect(url_for("ledger.finance.machine", machine_id=machine_id))
    return _finance_page(machine_id, rate_form=form), 422


@bp.post("/machines/<machine_id>/finance/bonds")
@admins
def bond(machine_id: str):
    form = BondForm()
    series = attempt(form, lambda: add_bond(db(), machine_id, form.draft(), by=actor()))
    if series is not None:
        flash(f"Bond series {series.name} added; its schedule is below.", "success")
        return redirect(url_for("ledger.finance.machine", machine_id=machine_id))
    return _finance_page(machine_id, bond_form=form), 422


@bp.post("/machines/<machine_id>/finance/upkeep")
@registry_keepers
def upkeep(machine_id: str):
    form = UpkeepForm()
    cost = attempt(form, lambda: record_upkeep(db(), machine_id, form.draft(), by=actor()))
    if cost is not None:
        flash(f"Upkeep of {cost.on_date:%Y-%m-%d} recorded.", "success")
        return redirect(url_for("ledger.finance.machine", machine_id=machine_id))
    return _finance_page(machine_id, upkeep_form=form), 422


def _finance_page(machine_id: str, *, rate_form: RateForm | None = None, bond_form: BondForm | None = None,
                  upkeep_form: UpkeepForm | None = None):
    found = machine_finance(db(), machine_id)
    if rate_form is None:
        rate_form = RateForm(formdata=None)
        rate_form.hourly_rate.data = Decimal(found.machine.hourly_rate_cents or 0).scaleb(-2)
        rate_form.expected_life_years.data = found.machine.expected_life_years
    return render_template(
        "ledger/finance.html", found=found, machine=found.machine, role=Role(current_user.role),
        rate_form=rate_form, bond_form=bond_form or BondForm(formdata=None),
        upkeep_form=upkeep_form or UpkeepForm(formdata=None),
        payback=payback_chart(found.payback), use=utilisation_chart(utilisation(db(), found.machine.id)))


# --- acquisition proposals ----------------------------------------------------------------------------------

@bp.get("/ledger/proposals")
@login_required
def proposals():
    return _proposals_page()


@bp.post("/ledger/proposals")
@login_required
def propose():
    form = _proposal_form()
    proposal = attempt(form, lambda: propose_acquisition(db(), form.draft(), viewer=current_user, by=actor()))
    if proposal is not None:
        flash(f"Proposal #{proposal.id} sent: an admin decides it.", "success")
        return redirect(url_for("ledger.finance.proposals"))
    return _proposals_page(proposal_form=form), 422


@bp.post("/ledger/proposals/<int:proposal_id>/decide")
@admins
def decide(proposal_id: int):
    if proposal_id not in {p.id for p in list_proposals(db(), current_user)}:
        abort(404)
    form = DecisionForm(prefix=f"p{proposal_id}")
    decided = attempt(form, lambda: decide_proposal(db(), proposal_id, approve=form.decision.data == "approve",
                                                    note=form.note.data or "", by=actor()))
    if decided is not None:
        flash(f"Proposal #{decided.id} {decided.status}.", "success")
        return redirect(url_for("ledger.finance.proposals"))
    return _proposals_page(decision_form=form, decided_id=proposal_id), 422


def _proposal_form(**kwargs) -> ProposalForm:
    form = ProposalForm(**kwargs)
    coops = [current_user.coop] if Role(current_user.role) is Role.MEMBER else list_coops(db())
    form.coop.choices = [SelectChoice(c.slug, c.name) for c in coops]
    return form


def _proposals_page(*, proposal_form: ProposalForm | None = None, decision_form: DecisionForm | None = None,
                    decided_id: int | None = None):
    found = list_proposals(db(), current_user)
    forms = {p.id: DecisionForm(formdata=None, prefix=f"p{p.id}") for p in found if p.status == "proposed"}
    if decision_form is not None and decided_id in forms:
        forms[decided_id] = decision_form
    return render_template("ledger/proposals.html", proposals=found, decision_forms=forms,
                           form=proposal_form or _proposal_form(formdata=None),
                           is_admin=current_user.role == "admin")
