"""The text of the broker's three files: mosquitto.conf, the password file and the ACL file.

Pure functions of plain data. Each machine logs in with its machine id as user name and may publish only
under its own `mf/{site}/{id}/` and subscribe only to its own `cmd` (DESIGN.md 4.1); the factory's
service account reads everything under `mf/` (also through the shared subscription
`$share/ingest/mf/#`: Mosquitto 2.0 checks the ACL against the topic filter after `$share/GROUP/`) and
may send commands to any machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from drivers.broker_url import BrokerAddress
from drivers.messages import ID_PATTERN, TOPIC_ROOT
from factory.broker.passwords import check_hash

SERVICE_USERNAME = "factory"
USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class MachineAccount:
    """One machine's broker login: its site and machine id (slugs) and the `$7$` hash of its password."""

    site: str
    machine_id: str
    password_hash: str

    def __post_init__(self) -> None:
        for name, value in (("site", self.site), ("machine_id", self.machine_id)):
            if not ID_PATTERN.fullmatch(value or ""):
                raise ValueError(f"{name} {value!r} is not 1 to 64 lower-case letters, digits or '-'")
        check_hash(self.password_hash)

    @property
    def username(self) -> str:
        return self.machine_id

    @property
    def topic_prefix(self) -> str:
        return f"{TOPIC_ROOT}/{self.site}/{self.machine_id}"


@dataclass(frozen=True)
class BrokerLimits:
    """Queue and session limits: a day of one machine's telemetry fits `max_queued_messages` many times."""

    max_inflight_messages: int = 100
    max_queued_messages: int = 1_000_000
    persistent_client_expiration: str = "14d"  # sessions of clients gone longer than this are dropped
    autosave_interval_s: int = 60  # persistence written this often (and at a clean stop)


def acl_text(machines: Iterable[MachineAccount], *, service_username: str = SERVICE_USERNAME) -> str:
    """The ACL file: the service account first, then one block per machine, in the order given."""
    machines = _unique(machines, service_username)
    lines = ["# written by `factory broker`; edits are overwritten", "",
             f"user {service_username}", f"topic read {TOPIC_ROOT}/#", f"topic write {TOPIC_ROOT}/+/+/cmd"]
    for machine in machines:
        lines += ["", f"user {machine.username}", f"topic write {machine.topic_prefix}/#",
                  f"topic read {machine.topic_prefix}/cmd"]
    return "\n".join(lines) + "\n"


def passwd_text(machines: Iterable[MachineAccount], service_hash: str, *,
                service_username: str = SERVICE_USERNAME) -> str:
    """The password file: `user:$7$...` lines, the service account first."""
    machines = _unique(machines, service_username)
    lines = [f"{service_username}:{check_hash(service_hash)}"]
    lines += [f"{machine.username}:{machine.password_hash}" for machine in machines]
    return "\n".join(lines) + "\n"


def mosquitto_conf(address: BrokerAddress, *, data_dir: Path, password_file: Path, acl_file: Path,
                   limits: BrokerLimits | None = None, log_file: Path | None = None,
                   tls_files: tuple[Path, Path] | None = None) -> str:
    """mosquitto.conf for one listener on the address's host and port, with persistence in `data_dir`.

    Logs go to stdout (the runner keeps mosquitto in the foreground) or to `log_file`. An mqtts://
    address needs `tls_files` = (certificate chain, private key) for the listener.
    """
    limits = limits or BrokerLimits()
    if address.tls and tls_files is None:
        raise ValueError("an mqtts:// broker address needs a certificate and key file for the listener")
    for path in (data_dir, password_file, acl_file, log_file, *(tls_files or ())):
        if path is not None and ("\n" in str(path) or "\r" in str(path)):
            raise ValueError(f"path {path!r} contains a line break")
    lines = [
        "# written by `factory broker`; edits are overwritten",
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {password_file}",
        f"acl_file {acl_file}",
        "persistence true",
        f"persistence_location {str(data_dir).rstrip('/')}/",
        f"autosave_interval {limits.autosave_interval_s}",
        f"persistent_client_expiration {limits.persistent_client_expiration}",
        f"max_inflight_messages {limits.max_inflight_messages}",
        f"max_queued_messages {limits.max_queued_messages}",
        f"log_dest file {log_file}" if log_file is not None else "log_dest stdout",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "",
        f"listener {address.port} {address.host}",
    ]
    if tls_files is not None:
        lines += [f"certfile {tls_files[0]}", f"keyfile {tls_files[1]}"]
    return "\n".join(lines) + "\n"


def _unique(machines: Iterable[MachineAccount], service_username: str) -> list[MachineAccount]:
    if not USERNAME.fullmatch(service_username or ""):
        raise ValueError(f"service user name {service_username!r} is not 1 to 64 letters, digits, '.', '_' or '-'")
    machines = list(machines)
    seen: set[str] = set()
    for machine in machines:
        if machine.username in seen:
            raise ValueError(f"machine {machine.machine_id!r} appears twice")
        if machine.username == service_username:
            raise ValueError(f"a machine may not be called {service_username!r}: that is the service account")
        seen.add(machine.username)
    return machines
