"""Slugs used in URLs and MQTT topics (DESIGN.md 4.1: `[a-z0-9-]{1,64}`)."""

import re

from factory.domain.errors import InvalidInput

SLUG = re.compile(r"^[a-z0-9-]{1,64}$")
LOGIN = re.compile(r"^[a-z0-9._-]{2,64}$")


def check_slug(value: str, *, field: str) -> str:
    value = (value or "").strip()
    if not SLUG.fullmatch(value):
        raise InvalidInput("use 1 to 64 lower-case letters, digits or '-'", field=field)
    return value


def check_login(value: str, *, field: str = "login") -> str:
    value = (value or "").strip().lower()
    if not LOGIN.fullmatch(value):
        raise InvalidInput("use 2 to 64 lower-case letters, digits, '.', '_' or '-'", field=field)
    return value


def check_text(value: str, *, field: str, max_len: int = 120) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput("this field is required", field=field)
    if len(value) > max_len:
        raise InvalidInput(f"at most {max_len} characters", field=field)
    return value
