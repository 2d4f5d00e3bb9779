"""`factory broker`: the factory's own Mosquitto, with the machines' logins kept current.

Plain data in, as in the rest of the package: `read_accounts` returns the machines' accounts (the CLI
passes one that asks the database). The listener is FACTORY_MQTT_URL's host and port. A URL that names a
user points at an existing broker (the ingest logs in there as that user), so it is refused here, and so
is a host other than loopback unless the caller allows machines from the network. Every
`refresh_every_s` the files are rewritten from `read_accounts()`; when a machine was added or a password
rotated, Mosquitto reloads them.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from drivers.broker_url import BrokerAddress, parse_broker_url
from factory.broker.config import MachineAccount
from factory.broker.runner import BrokerFiles, run_mosquitto, write_broker_files

logger = logging.getLogger(__name__)

KEY = "FACTORY_MQTT_URL"


@dataclass(frozen=True)
class BrokerSetup:
    """Where the broker keeps its files, where it listens, and its TLS certificate and key (mqtts://)."""

    directory: Path
    address: BrokerAddress
    tls_files: tuple[Path, Path] | None = None

    def __post_init__(self) -> None:
        if self.address.tls and self.tls_files is None:
            raise ValueError(f"{KEY} is mqtts://: the listener needs a certificate and a key (--tls-cert, --tls-key)")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listener_address(mqtt_url: str, *, allow_remote: bool = False) -> BrokerAddress:
    """The host and port the factory's own broker listens on, from FACTORY_MQTT_URL; ValueError naming the key."""
    try:
        address = parse_broker_url(mqtt_url)
    except ValueError as exc:
        raise ValueError(f"{KEY}: {exc}") from None
    if address.username is not None:
        raise ValueError(f"{KEY} names the user {address.username!r}, so it points at an existing broker that "
                         "the ingest logs in to; the factory's own broker needs mqtt://HOST:PORT without a user")
    if not allow_remote and not is_loopback(address.host):
        raise ValueError(f"{KEY} host {address.host!r} is not a loopback address: allow machines from the network "
                         "to reach the broker explicitly (--allow-remote), preferably over mqtts://")
    return BrokerAddress(address.host, address.port, tls=address.tls)


AccountReader = Callable[[], Iterable[MachineAccount]]


def write_accounts(read_accounts: AccountReader, setup: BrokerSetup, service_hash: str) -> BrokerFiles:
    """The broker's files for the accounts `read_accounts()` returns now, and the service account."""
    accounts = list(read_accounts())
    files = write_broker_files(setup.directory, accounts, service_hash, setup.address, tls_files=setup.tls_files)
    if files.changed:
        logger.info("broker files written for %d machine logins", len(accounts))
    return files


def serve(read_accounts: AccountReader, setup: BrokerSetup, service_hash: str, *,
          refresh_every_s: float = 5.0) -> int:
    """Write the files, run Mosquitto in the foreground and keep its logins current; its exit code.

    `service_hash` is hashed once by the caller: a fresh salt on every refresh would rewrite the password
    file, and reload the broker, each time.
    """
    files = write_accounts(read_accounts, setup, service_hash)
    return run_mosquitto(files.config, refresh=lambda: write_accounts(read_accounts, setup, service_hash).changed,
                         refresh_every_s=refresh_every_s)
