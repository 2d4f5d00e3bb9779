"""The factory's own broker login (user `factory`): the ingest reads `mf/#`, the web app sends commands.

With the embedded broker its password is made once and kept in the instance folder (mode 0600); with an
existing broker, put user and password in FACTORY_MQTT_URL instead and this file is not used.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from drivers.broker_url import BrokerAddress, parse_broker_url
from factory.broker.config import SERVICE_USERNAME
from factory.broker.passwords import new_password

PASSWORD_FILE = Path("broker") / "service_password"


def service_password(instance_dir: Path) -> str:
    """The service account's password, made on first use.

    Written to a temporary file and linked into place, so processes started together (`factory broker`
    and `factory ingest`) never see a half-written file and agree on one password.
    """
    path = instance_dir / PASSWORD_FILE
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".service_password.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(handle, "w") as out:
            out.write(new_password())
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        os.unlink(temporary)
    return path.read_text().strip()


def service_address(mqtt_url: str, instance_dir: Path) -> BrokerAddress:
    """FACTORY_MQTT_URL as given when it names a user; else the embedded broker's `factory` account."""
    address = parse_broker_url(mqtt_url)
    if address.username is not None:
        return address
    return BrokerAddress(address.host, address.port, SERVICE_USERNAME, service_password(instance_dir),
                         address.tls, address.ca_file)
