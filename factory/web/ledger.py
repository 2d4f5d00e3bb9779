"""The commune's ledger pages: the months (closed and open), a month's statement for the whole commune (rents
in, bond service and upkeep out, the surplus and every member's dividend), a co-op's statement with its line
items, CSV exports of both, and, for admins, closing a month that is over.

Every signed-in user sees the commune's statement; a co-op's line items are its members', the stewards' and
the admins'. The machine finance and acquisition proposal pages are in ledger_finance.py, registered under
this blueprint.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from factory.app import db
from factory.domain.errors import DomainError
from factory.domain.money import decimal_text, format_cents
from factory.models import Coop
from factory.services.bookings import may_see
from factory.services.coops import get_coop
from factory.services.ledger import Statement, books_zone, close_period, parse_month, shift_month, statement
from factory.services.ledger_views import coop_lines, is_over, machine_names, months_list
from factory.web import ledger_finance
from factory.web.access import actor, admins
from factory.web.forms import show_error
from factory.web.ledger_charts import stacked_bars

bp = Blueprint("ledger", __name__)
bp.register_blueprint(ledger_finance.bp)
bp.add_app_template_filter(format_cents, "cents")

MONTH_PATH = "/ledger/<string(length=7):month>"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class CloseForm(FlaskForm):
    """Only the CSRF token: the month is in the URL."""


@bp.get("/ledger")
@login_required
def index():
    return render_template("ledger/index.html", rows=months_list(db()), zone=books_zone(db()).key)


@bp.get(MONTH_PATH)
@login_required
def month_statement(month: str):
    return _statement_page(statement(db(), parse_month(month, db())))


@bp.post(f"{MONTH_PATH}/close")
@admins
def close(month: str):
    found = parse_month(month, db())
    form = CloseForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        period = close_period(db(), found.text, by=actor())
    except DomainError as exc:
        db().rollback()
        show_error(form, exc)
        return _statement_page(statement(db(), found), close_form=form), exc.status
    flash(f"{period.month} closed: {format_cents(period.payout_cents)} paid out to {period.members} members, "
          f"{format_cents(period.carried_out_cents)} carried forward.", "success")
    return redirect(url_for("ledger.month_statement", month=period.month))


@bp.get(f"{MONTH_PATH}/coops/<slug>")
@login_required
def coop_statement(month: str, slug: str):
    found, coop = _coop_statement(month, slug)
    lines = coop_lines(found, coop.id)
    return render_template("ledger/coop.html", found=found, coop=coop, lines=lines, zone=books_zone(db()).key,
                           names=machine_names(db()), total=sum(line.amount_cents for line in lines))


@bp.get(f"{MONTH_PATH}.csv")
@login_required
def statement_csv(month: str):
    found = statement(db(), parse_month(month, db()))
    figures = found.figures
    rows: list[list[str]] = [["item", "name", "amount_eur"], ["rents", "all co-ops", decimal_text(figures.rents)]]
    rows += [["rent", coop.name, decimal_text(cents)] for coop, cents in _rents_by_coop(found)]
    rows += [["bond_interest", "", decimal_text(found.interest)], ["bond_principal", "", decimal_text(found.principal)],
             ["upkeep", "", decimal_text(found.upkeep)], ["carried_in", "", decimal_text(found.carried_in)],
             ["surplus", "", decimal_text(figures.surplus)], ["paid_out", "", decimal_text(figures.payout)],
             ["carried_forward", "", decimal_text(figures.carried_out)]]
    rows += [["dividend", member.name, decimal_text(found.dividends.get(member.id, 0))] for member in found.members]
    return _csv(rows, f"ledger-{found.month.text}.csv")


@bp.get(f"{MONTH_PATH}/coops/<slug>.csv")
@login_required
def coop_csv(month: str, slug: str):
    found, coop = _coop_statement(month, slug)
    zone, names = books_zone(db()), machine_names(db())
    rows = [["machine", "machine_name", "source", "ref", f"starts_at ({zone.key})", f"ends_at ({zone.key})",
             "minutes", "rate_eur", "amount_eur", "note"]]
    for line in coop_lines(found, coop.id):
        rows.append([line.machine_id, names.get(line.machine_id, ""), line.source, str(line.ref_id),
                     _local(line.starts_at, zone), _local(line.ends_at, zone), str(line.minutes),
                     decimal_text(line.rate_cents), decimal_text(line.amount_cents), line.note])
    return _csv(rows, f"ledger-{found.month.text}-{coop.slug}.csv")


def _statement_page(found: Statement, *, close_form: CloseForm | None = None):
    figures = found.figures
    by_coop = _rents_by_coop(found)
    shares = {found.dividends.get(m.id, 0) for m in found.members}
    if found.closed is not None and len(found.members) < found.closed.members:
        shares.add(0)  # a closed month keeps no row for a dividend of 0 cents
    shares = sorted(shares, reverse=True)
    chart = stacked_bars([("Rents in", [("Rents", figures.rents)]),
                          ("Costs out", [("Bond interest", found.interest), ("Bond principal", found.principal),
                                         ("Upkeep", found.upkeep)]),
                          ("Paid out", [("Dividends", figures.payout)])],
                         title=f"Money in and out, {found.month.text}")
    is_admin = current_user.role == "admin"
    return render_template(
        "ledger/statement.html", found=found, figures=figures, by_coop=by_coop, shares=shares, chart=chart,
        visible={coop.id for coop, _c in by_coop if may_see(current_user, coop.id)},
        own_coop=current_user.coop,
        may_close=is_admin and found.closed is None and is_over(found.month),
        close_form=close_form or CloseForm(formdata=None), zone=books_zone(db()).key,
        previous=shift_month(found.month.text, -1), following=shift_month(found.month.text, 1))


def _rents_by_coop(found: Statement) -> list[tuple[Coop, int]]:
    totals = found.rent_by_coop()
    return sorted(((found.coops[coop_id], cents) for coop_id, cents in totals.items()), key=lambda row: row[0].name)


def _coop_statement(month: str, slug: str) -> tuple[Statement, Coop]:
    """The month's statement and the co-op, or 404 when the viewer may not see the co-op's line items."""
    found = parse_month(month, db())
    coop = get_coop(db(), slug)
    if not may_see(current_user, coop.id):
        abort(404)
    return statement(db(), found), coop


def _local(moment: datetime, zone) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _cell(value: str) -> str:
    """Text a spreadsheet would run as a formula is kept as text."""
    return f"'{value}" if value.startswith(FORMULA_START) and not _is_amount(value) else value


def _is_amount(value: str) -> bool:
    return value.startswith("-") and value[1:].replace(".", "", 1).isdigit()


def _csv(rows: list[list[str]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})

