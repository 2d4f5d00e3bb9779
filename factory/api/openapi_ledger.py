"""The OpenAPI paths and schemas of the commune's ledger (its months, a month's statement, closing one) and of
a machine's finance, merged into factory.api.openapi.SPEC as openapi_plan's are. Money is a decimal string
with two places in the answer's `currency`."""

from __future__ import annotations

from factory.api.openapi_bookings import COOP, DATE, ID, TEXT, TIME, _json, _ref
from factory.api.openapi_plan import _closed, _op
from factory.api.openapi_production import NULLABLE_INT
from factory.models.ledger import UPKEEP_KINDS
from factory.services.ledger_rent import SOURCES

MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "description": "decimal, two places"}
NULLABLE_MONEY = {**MONEY, "type": ["string", "null"]}
MONTH = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}$", "description": "YYYY-MM"}
CURRENCY = {"type": "string", "description": "ISO 4217 code of every amount, e.g. EUR"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
MONTH_PATH = [{"name": "month", "in": "path", "required": True, "schema": MONTH}]
MACHINE_PATH = [{"name": "machine_id", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}}]
NO_PARAMETERS = "a query parameter (there are none)"
BAD_MONTH = "a month that is not YYYY-MM or has a year outside 1970-2999 (`invalid_parameter`, `field` month)"
WHO_SEES = "Everyone reads the commune's figures, each co-op's rent and the dividends; `line_items` holds only " \
           "the co-ops whose line items the caller may see (a member: their own co-op's; stewards and admins: all)."

PATHS = {
    "/ledger/periods": {"get": _op(
        "listLedgerPeriods", "The commune's months: the open ones since the last close (or the current and the "
        "previous month when none is closed), then the closed ones with their figures; newest first",
        ("200", _json(_ref("LedgerPeriodList"), "the months")), e400=NO_PARAMETERS)},
    "/ledger/periods/{month}": {"get": _op(
        "getLedgerStatement", "A month's statement: as closed, or as it stands now while open",
        ("200", _json(_ref("LedgerStatement"), "the statement")), parameters=MONTH_PATH, description=WHO_SEES,
        e400=f"{BAD_MONTH}; or {NO_PARAMETERS}")},
    "/ledger/periods/{month}/close": {"post": _op(
        "closeLedgerPeriod", "Close a month that is over (admins): charge the rents, pay the bond service and "
        "upkeep, divide the surplus equally among the month's members or carry the deficit forward",
        ("201", _json(_ref("LedgerStatement"), "the closed month's statement")), parameters=MONTH_PATH,
        description=WHO_SEES, e400=f"{BAD_MONTH}; or a body that is not empty or `{{}}`",
        e403="not an admin: only admins close a period",
        e409="the month is not over yet, closed already (`period_closed`), a later month is closed (months close "
             "in order), or there is a surplus and no member to pay it to; `field` is month")},
    "/machines/{machine_id}/finance": {"get": _op(
        "getMachineFinance", "A machine as the commune's asset: its rate, acquisition, bonds with their repayment "
        "schedules, upkeep, the rate that would cover its bond service and upkeep at its current use, and its "
        "payback over the closed months", ("200", _json(_ref("MachineFinance"), "the machine's finance")),
        parameters=MACHINE_PATH, e400=NO_PARAMETERS, e404="no machine with this id")},
}

FIGURES = _closed({
    "rents": MONEY, "interest": MONEY, "principal": MONEY,
    "bond_service": {**MONEY, "description": "interest + principal of the instalments due in the month"},
    "upkeep": MONEY,
    "carried_in": {**MONEY, "description": "the deficit carried in from the month before, zero or less"},
    "surplus": {**MONEY, "description": "rents - bond service - upkeep; negative: a deficit"},
    "payout": {**MONEY, "description": "divided equally among the members: surplus + carried in, if above zero"},
    "carried_out": {**MONEY, "description": "the deficit carried to the next month, zero or less"},
})
LINE = _closed({
    "machine": {"type": "string", "description": "machine id"},
    "source": {"type": "string", "enum": list(SOURCES)},
    "ref_id": {"type": "integer", "description": "the booking, operation or lease charged"},
    "starts_at": TIME, "ends_at": TIME, "minutes": ID,
    "rate": {**MONEY, "description": "an hour"}, "amount": MONEY, "note": TEXT,
})
CLOSED_PERIOD = {"closed_at": TIME, "closed_by": {"type": "string", "description": "role:login, or cli"},
                 "members": {"type": "integer", "description": "members during the month"},
                 "figures": _ref("LedgerFigures")}
INSTALMENT = _closed({"number": ID, "due": DATE, "payment": MONEY, "interest": MONEY, "principal": MONEY,
                      "balance": {**MONEY, "description": "principal still owed after this instalment"}})

SCHEMAS = {
    "LedgerFigures": FIGURES,
    "LedgerPeriod": {"type": "object", "required": ["month", "status"], "description": "an open month has only "
                     "`month` and `status`; a closed one all the fields", "properties": {
                         "month": MONTH, "status": {"type": "string", "enum": ["open", "closed"]}, **CLOSED_PERIOD}},
    "LedgerPeriodList": _closed({"items": {"type": "array", "items": _ref("LedgerPeriod")}, "count": ID,
                                 "currency": CURRENCY}),
    "LedgerStatement": _closed({
        "month": MONTH, "status": {"type": "string", "enum": ["open", "closed"]},
        "starts_at": {**TIME, "description": "midnight of the first day in the books' time zone"},
        "ends_at": {**TIME, "description": "midnight of the day after the last"},
        "closed_at": NULLABLE_TIME, "closed_by": {"type": ["string", "null"]}, "currency": CURRENCY,
        "figures": _ref("LedgerFigures"),
        "rents": {"type": "array", "description": "rent charged to each co-op, by slug", "items": _closed({
            "coop": COOP, "amount": MONEY})},
        "line_items": {"type": "array", "description": "the charges of each co-op the caller may see",
                       "items": _closed({"coop": COOP, "amount": MONEY,
                                         "lines": {"type": "array", "items": _ref("RentLine")}})},
        "dividends": {"type": "array", "description": "by member number; members paid nothing are left out",
                      "items": _closed({"member_id": ID, "name": TEXT, "amount": MONEY})},
        "members": {"type": "integer", "description": "members during the month, who share the payout"},
    }),
    "RentLine": LINE,
    "MachineFinance": _closed({
        "machine": {"type": "string", "description": "machine id"}, "currency": CURRENCY,
        "hourly_rate": MONEY, "expected_life_years": NULLABLE_INT,
        "acquisition": _closed({"cost": NULLABLE_MONEY, "date": {"type": ["string", "null"], "format": "date"}}),
        "bonds": {"type": "array", "description": "by first due date; the machine is their collateral",
                  "items": _closed({
                      "id": ID, "name": TEXT, "principal": MONEY,
                      "interest_rate": {"type": "string", "pattern": r"^0(\.[0-9]+)?$",
                                        "description": "a year, as a fraction: 0.06 for 6 %"},
                      "term_months": ID, "issued_on": DATE, "first_due": DATE,
                      "schedule": {"type": "array", "items": INSTALMENT}})},
        "upkeep": {"type": "array", "description": "newest first", "items": _closed({
            "id": ID, "on_date": DATE, "kind": {"type": "string", "enum": [k.strip("'") for k in
                                                                          UPKEEP_KINDS.split(", ")]},
            "amount": MONEY, "note": TEXT, "recorded_by": TEXT})},
        "used_minutes": {"type": "integer", "description": "machine time charged in the last 90 days"},
        "monthly_service": {**MONEY, "description": "bond instalments and upkeep, a month on average"},
        "break_even_rate": {**NULLABLE_MONEY, "description": "an hour, covering the monthly service at the current "
                                                             "use; null when the machine was not used"},
        "payback": {"type": "array", "description": "per closed month", "items": _closed({
            "month": MONTH, "rent_to_date": {**MONEY, "description": "rent charged for the machine so far"},
            "bond_balance": {**MONEY, "description": "what its bonds still owe at the month's end"}})},
    }),
}
