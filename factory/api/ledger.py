"""/api/v1/ledger: the commune's months (closed, and the open ones since the last close), a month's statement,
closing a month (admins); and /api/v1/machines/<id>/finance, a machine as an asset of the commune.

Every user reads the commune's figures, the rent of each co-op and the dividends; a co-op's line items are
shown to its members, stewards and admins only (another co-op's are left out, not emptied). Money is a decimal
string with two places ("12.50", "-3.05") in the commune's `currency`, never a JSON number.

A month in the path that is not YYYY-MM, or with a year outside 1970-2999, is a 400 `invalid_parameter`
naming `month`, as a malformed date elsewhere in the API is.
"""

from __future__ import annotations

from flask import g, jsonify

from factory.api import api
from factory.api.machines import rfc3339
from factory.api.parsing import actor, json_object, query
from factory.app import db
from factory.domain.errors import Forbidden, InvalidInput, InvalidParameter
from factory.domain.journal import PeriodFigures
from factory.domain.money import decimal_text
from factory.domain.vocabulary import Role
from factory.models import LedgerPeriod
from factory.services.finance import MachineFinance, machine_finance
from factory.services.ledger import Month, Statement, close_period, list_periods, open_months, parse_month, statement
from factory.services.ledger_rent import ChargeLine
from factory.services.sites import the_commune


@api.get("/ledger/periods")
def ledger_periods():
    query(())
    session = db()
    closed = list_periods(session)
    items = [{"month": text, "status": "open"} for text in open_months(session)]
    items += [period_json(period) for period in closed]
    return jsonify({"items": items, "count": len(items), "currency": the_commune(session).currency})


@api.get("/ledger/periods/<month>")
def ledger_period_show(month: str):
    query(())
    return jsonify(statement_json(statement(db(), _month(month))))


@api.post("/ledger/periods/<month>/close")
def ledger_period_close(month: str):
    if Role(g.api_user.role) is not Role.ADMIN:
        raise Forbidden("only admins close a period")
    json_object((), empty_ok=True)
    session = db()
    found = _month(month)
    close_period(session, found.text, by=actor())
    return (jsonify(statement_json(statement(session, found))), 201,
            {"Location": f"/api/v1/ledger/periods/{found.text}"})


@api.get("/machines/<machine_id>/finance")
def machine_finance_show(machine_id: str):
    query(())
    return jsonify(finance_json(machine_finance(db(), machine_id)))


# --- reading the request -------------------------------------------------------------------------------

def _month(text: str) -> Month:
    try:
        return parse_month(text, db())
    except InvalidInput as exc:
        raise InvalidParameter(f"`month`: {exc.message}, not {text!r}", field="month") from None


# --- the answers ---------------------------------------------------------------------------------------

def figures_json(figures: PeriodFigures, interest: int, principal: int) -> dict:
    return {"rents": decimal_text(figures.rents), "interest": decimal_text(interest),
            "principal": decimal_text(principal),
            "bond_service": decimal_text(figures.bond_service), "upkeep": decimal_text(figures.upkeep),
            "carried_in": decimal_text(figures.carried_in), "surplus": decimal_text(figures.surplus),
            "payout": decimal_text(figures.payout), "carried_out": decimal_text(figures.carried_out)}


def period_json(period: LedgerPeriod) -> dict:
    figures = PeriodFigures(period.rents_cents, period.interest_cents + period.principal_cents, period.upkeep_cents,
                            period.carried_in_cents)
    return {"month": period.month, "status": "closed", "closed_at": rfc3339(period.closed_at),
            "closed_by": period.closed_by, "members": period.members,
            "figures": figures_json(figures, period.interest_cents, period.principal_cents)}


def statement_json(found: Statement) -> dict:
    closed = found.closed
    names = {member.id: member.name for member in found.members}
    by_coop = found.rent_by_coop()
    return {
        "month": found.month.text,
        "status": "closed" if closed else "open",
        "starts_at": rfc3339(found.month.start),
        "ends_at": rfc3339(found.month.end),
        "closed_at": rfc3339(closed.closed_at) if closed else None,
        "closed_by": closed.closed_by if closed else None,
        "currency": the_commune(db()).currency,
        "figures": figures_json(found.figures, found.interest, found.principal),
        "rents": [{"coop": _coop(found, coop_id), "amount": decimal_text(by_coop[coop_id])}
                  for coop_id in _by_slug(found, by_coop)],
        "line_items": [{"coop": _coop(found, coop_id), "amount": decimal_text(by_coop[coop_id]),
                        "lines": [line_json(line) for line in found.charges if line.coop_id == coop_id]}
                       for coop_id in _by_slug(found, by_coop) if _may_see(coop_id)],
        "dividends": [{"member_id": member_id, "name": names.get(member_id, ""), "amount": decimal_text(cents)}
                      for member_id, cents in sorted(found.dividends.items()) if cents],
        "members": closed.members if closed else len(found.members),
    }


def line_json(line: ChargeLine) -> dict:
    return {"machine": line.machine_id, "source": line.source, "ref_id": line.ref_id,
            "starts_at": rfc3339(line.starts_at), "ends_at": rfc3339(line.ends_at), "minutes": line.minutes,
            "rate": decimal_text(line.rate_cents), "amount": decimal_text(line.amount_cents), "note": line.note}


def finance_json(found: MachineFinance) -> dict:
    machine = found.machine
    return {
        "machine": machine.id,
        "currency": the_commune(db()).currency,
        "hourly_rate": decimal_text(machine.hourly_rate_cents),
        "expected_life_years": machine.expected_life_years,
        "acquisition": {"cost": None if machine.acquisition_cost is None else f"{machine.acquisition_cost:.2f}",
                        "date": machine.acquired_on.isoformat() if machine.acquired_on else None},
        "bonds": [{"id": series.id, "name": series.name, "principal": decimal_text(series.principal_cents),
                   "interest_rate": f"{series.interest_rate.normalize():f}", "term_months": series.term_months,
                   "issued_on": series.issued_on.isoformat(), "first_due": series.first_due.isoformat(),
                   "schedule": [{"number": row.number, "due": row.due.isoformat(), "payment": decimal_text(row.payment),
                                 "interest": decimal_text(row.interest), "principal": decimal_text(row.principal),
                                 "balance": decimal_text(row.balance)} for row in plan]}
                  for series, plan in found.bonds],
        "upkeep": [{"id": cost.id, "on_date": cost.on_date.isoformat(), "kind": cost.kind,
                    "amount": decimal_text(cost.amount_cents), "note": cost.note, "recorded_by": cost.recorded_by}
                   for cost in found.upkeep],
        "used_minutes": found.used_minutes,
        "monthly_service": decimal_text(found.monthly_service),
        "break_even_rate": None if found.break_even_rate is None else decimal_text(found.break_even_rate),
        "payback": [{"month": month, "rent_to_date": decimal_text(rent), "bond_balance": decimal_text(owed)}
                    for month, rent, owed in found.payback],
    }


def _may_see(coop_id: int) -> bool:
    """A co-op's line items: its members, stewards and admins."""
    viewer = g.api_user
    return Role(viewer.role) is not Role.MEMBER or viewer.coop_id == coop_id


def _coop(found: Statement, coop_id: int) -> dict:
    coop = found.coops[coop_id]
    return {"slug": coop.slug, "name": coop.name}


def _by_slug(found: Statement, by_coop: dict[int, int]) -> list[int]:
    return sorted(by_coop, key=lambda coop_id: found.coops[coop_id].slug)
