"""Reading API requests: a JSON object body with known fields of the right types, RFC 3339 times, dates and
query parameters. A malformed request is a 400 `invalid_parameter` naming the field; whether the values
break a rule is the services' to say (422).

Also who is asking: the request's user as histories name them, and the stewards-only check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import g, request

from factory.domain.errors import Forbidden, InvalidInput, InvalidParameter, NotFound
from factory.domain.local_time import check_year
from factory.domain.vocabulary import Role
from factory.services.machine_time import is_row_id

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXAMPLE_TIME = "2026-11-23T09:00:00Z"


# --- who is asking -------------------------------------------------------------------------------------

def actor() -> str:
    """The API user as histories record them: `role:login`, at most 32 characters."""
    return f"{g.api_user.role}:{g.api_user.login}"[:32]


def require_steward(doing: str) -> None:
    """Only stewards and admins may do `doing` (worded to follow "only stewards and admins")."""
    if not Role(g.api_user.role).manages_registry:
        raise Forbidden(f"only stewards and admins {doing}")


# --- the body ------------------------------------------------------------------------------------------

def json_object(allowed: Iterable[str], *, required: Iterable[str] = (), empty_ok: bool = False) -> dict:
    """The request body as a JSON object with only `allowed` keys and every `required` one.

    Numbers with a fraction are read as Decimal, so money is never a float. An empty body counts as `{}`
    when `empty_ok`.
    """
    raw = request.get_data(as_text=False)
    if not raw.strip() and empty_ok:
        return {}
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidParameter("the body is not valid JSON (UTF-8)", field="body") from None
    if not isinstance(body, dict):
        raise InvalidParameter("the body must be a JSON object", field="body")
    check_keys(body, allowed, required=required)
    return body


def check_keys(body: dict, allowed: Iterable[str], *, required: Iterable[str] = (), prefix: str = "") -> None:
    allowed = tuple(allowed)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidParameter(f"unknown field {prefix + unknown[0]!r}; fields are {', '.join(allowed)}",
                               field=prefix + unknown[0])
    for name in required:
        if name not in body:
            raise InvalidParameter(f"`{prefix + name}` is required", field=prefix + name)


def string(body: dict, name: str, default: str | None = None, *, prefix: str = "") -> str | None:
    if name not in body:
        return default
    value = body[name]
    if not isinstance(value, str):
        raise InvalidParameter(f"`{prefix + name}` must be a string", field=prefix + name)
    return value


def boolean(body: dict, name: str, default: bool = False) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidParameter(f"`{name}` must be true or false", field=name)
    return value


def integer(body: dict, name: str, *, prefix: str = "") -> int:
    value = body.get(name)
    if type(value) is not int:  # bool is an int to Python, not to JSON
        raise InvalidParameter(f"`{prefix + name}` must be a whole number", field=prefix + name)
    return value


def obj(body: dict, name: str, *, prefix: str = "") -> dict:
    value = body.get(name)
    if not isinstance(value, dict):
        raise InvalidParameter(f"`{prefix + name}` must be a JSON object", field=prefix + name)
    return value


def time_field(body: dict, name: str) -> datetime:
    return parse_time(body.get(name), name)


def date_field(body: dict, name: str, *, prefix: str = "") -> date:
    return parse_date(body.get(name), prefix + name)


def decimal_field(body: dict, name: str) -> Decimal | str:
    """A decimal given as a string ("6.00", left to the service to check) or a JSON number, read exactly."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidParameter(f"`{name}` must be a decimal number or a string such as \"6.00\"", field=name)
    return value if isinstance(value, str) else Decimal(value)


# --- values --------------------------------------------------------------------------------------------

def parse_time(value, field: str) -> datetime:
    """An RFC 3339 time with `Z` or an offset, as aware UTC; a time without an offset is refused."""
    if not isinstance(value, str) or not (match := _RFC3339.match(value)):
        raise InvalidParameter(f"`{field}` must be an RFC 3339 time such as {_EXAMPLE_TIME}", field=field)
    if match.group(2) is None:
        raise InvalidParameter(f"`{field}` has no UTC offset; add Z or one such as +01:00", field=field)
    try:
        moment = datetime.fromisoformat(value.upper())
        check_year(moment.year, field=field)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidParameter(f"`{field}` is not a real time: {value}", field=field) from None
    except InvalidInput as exc:
        raise InvalidParameter(exc.message, field=field) from None


def parse_date(value, field: str) -> date:
    if not isinstance(value, str) or not _DATE.match(value):
        raise InvalidParameter(f"`{field}` must be a date such as 2026-11-23", field=field)
    try:
        day = date.fromisoformat(value)
        check_year(day.year, field=field)
        return day
    except ValueError:
        raise InvalidParameter(f"`{field}` is not a real date: {value}", field=field) from None
    except InvalidInput as exc:
        raise InvalidParameter(exc.message, field=field) from None


def row_id(text: str, noun: str) -> int:
    """A path's numeric id; anything else names nothing there is (404, as an unknown id would)."""
    if not text.isascii() or not text.isdigit() or not is_row_id(int(text)):
        raise NotFound(f"no {noun} {text!r}")
    return int(text)


# --- the query string ----------------------------------------------------------------------------------

def query(allowed: Iterable[str]) -> dict[str, str]:
    """The query parameters, each known and given once."""
    allowed = tuple(allowed)
    for name in request.args:
        if name not in allowed:
            raise InvalidParameter(f"unknown parameter {name!r}; use {', '.join(allowed) or 'none'}", field=name)
        if len(request.args.getlist(name)) > 1:
            raise InvalidParameter(f"give `{name}` once", field=name)
    return request.args.to_dict()


def query_time(args: dict[str, str], name: str) -> datetime | None:
    return None if name not in args else parse_time(args[name], name)


def query_bool(args: dict[str, str], name: str) -> bool:
    value = args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidParameter(f"`{name}` is true or false", field=name)
    return value in ("true", "1")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")
