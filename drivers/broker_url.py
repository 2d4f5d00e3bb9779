"""Where the broker is and as whom to log in: `mqtt://USER:PASS@HOST:PORT` URLs, for every MQTT client here."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerAddress:
    """Where and as whom to connect; the password is left out of repr so it stays out of logs."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    ca_file: str | None = None

    def url(self, *, with_password: bool = False) -> str:
        """The address as an mqtt:// or mqtts:// URL (password shown as *** unless asked for)."""
        auth = ""
        if self.username is not None:
            secret = self.password if with_password else "***"
            auth = self.username + (f":{secret}" if self.password is not None else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = f"?ca_file={self.ca_file}" if self.ca_file else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{auth}{host}:{self.port}{query}"


def parse_broker_url(url: str) -> BrokerAddress:
    """`mqtt://USER:PASS@HOST:PORT` or `mqtts://...[?ca_file=PATH]` -> BrokerAddress, else ValueError.

    User and password are percent-decoded; the port defaults to 1883 (mqtt) or 8883 (mqtts); mqtts checks
    the server's certificate against the system CAs, or against `ca_file` when given.
    """
    parts = urlsplit((url or "").strip())
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"broker URL must start with mqtt:// or mqtts://, not {parts.scheme or 'nothing'}://")
    if not parts.hostname:
        raise ValueError("broker URL has no host (expected mqtt://USER:PASS@HOST:PORT)")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as exc:
        raise ValueError(f"broker URL has an invalid port: {exc}") from None
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("broker URL must not have a path or fragment (expected mqtt://USER:PASS@HOST:PORT)")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    unknown = set(query) - {"ca_file"}
    if unknown:
        raise ValueError(f"broker URL has unknown parameters: {', '.join(sorted(unknown))} (only ca_file)")
    ca_file = query.get("ca_file", [None])[-1] or None
    if ca_file and parts.scheme != "mqtts":
        raise ValueError("broker URL: ca_file needs mqtts://")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise ValueError("broker URL has a password but no user name")
    return BrokerAddress(parts.hostname, port, username, password, parts.scheme == "mqtts", ca_file)
