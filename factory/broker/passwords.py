"""Mosquitto 2.0 password-file hashes, made and checked without calling `mosquitto_passwd`.

Mosquitto 2.0's `mosquitto_passwd` writes `$7$<iterations>$<base64 salt>$<base64 hash>`: PBKDF2-HMAC-SHA512
over the UTF-8 password with the 12 decoded salt bytes, a 64-byte derived key, standard base64 with
padding, and 101 iterations by default. The broker reads the iteration count from each line, so a larger
count works too; it costs CPU on every connect, and the passwords here are long random tokens, for which
the count adds little. (Checked against mosquitto_passwd and a running Mosquitto 2.0.11.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

PBKDF2_PREFIX = "$7$"
DEFAULT_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes
SALT_BYTES = 12
KEY_BYTES = 64

_HASH = re.compile(r"^\$7\$(?P<iterations>[1-9][0-9]{0,8})\$(?P<salt>[A-Za-z0-9+/=]+)\$(?P<key>[A-Za-z0-9+/=]+)$")


def new_password() -> str:
    """A fresh random password for a machine or service account (URL-safe, so it fits in mqtt:// URLs)."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """The `$7$` line part Mosquitto 2.0 accepts for `password` (a fresh random salt unless given)."""
    if not password:
        raise ValueError("password must not be empty")
    if not 1 <= iterations <= 999_999_999:
        raise ValueError("iterations must be between 1 and 999999999")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    if len(salt) != SALT_BYTES:
        raise ValueError(f"salt must be {SALT_BYTES} bytes")
    key = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, KEY_BYTES)
    return f"{PBKDF2_PREFIX}{iterations}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, password_hash: str) -> bool:
    """Whether `password` matches a `$7$` hash; False (not an exception) for any malformed hash."""
    try:
        iterations, salt, key = _parse(password_hash)
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, len(key))
    return hmac.compare_digest(candidate, key)


def check_hash(password_hash: str) -> str:
    """`password_hash` unchanged if it is a well-formed `$7$` hash, else ValueError (never echoes it)."""
    _parse(password_hash)
    return password_hash


def _parse(password_hash: str) -> tuple[int, bytes, bytes]:
    match = _HASH.match(password_hash or "")
    if match is None:
        raise ValueError("not a Mosquitto $7$ (PBKDF2-SHA512) password hash")
    try:
        salt = base64.b64decode(match["salt"], validate=True)
        key = base64.b64decode(match["key"], validate=True)
    except binascii.Error as exc:
        raise ValueError("password hash has invalid base64") from exc
    if len(salt) != SALT_BYTES or len(key) != KEY_BYTES:
        raise ValueError(f"password hash needs a {SALT_BYTES}-byte salt and a {KEY_BYTES}-byte key")
    return int(match["iterations"]), salt, key


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
