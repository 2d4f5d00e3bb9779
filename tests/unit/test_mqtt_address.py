"""Broker URLs (DESIGN.md 4.2 `--broker mqtt://USER:PASS@HOST:PORT`, 4.4 FACTORY_MQTT_URL) and client options."""

from __future__ import annotations

import pytest

from drivers.broker_url import BrokerAddress, parse_broker_url
from drivers.mqtt import ClientOptions


def test_mqtt_url_gives_host_port_and_credentials():
    assert parse_broker_url("mqtt://printer-1:s3cret@broker.local:1884") == BrokerAddress(
        "broker.local", 1884, "printer-1", "s3cret", tls=False)


def test_default_ports_are_1883_and_8883():
    assert parse_broker_url("mqtt://h").port == 1883
    assert parse_broker_url("mqtts://h").port == 8883


def test_mqtts_url_uses_tls_and_an_optional_ca_file():
    address = parse_broker_url("mqtts://u:p@h:8884?ca_file=/etc/mf/ca.pem")
    assert (address.tls, address.ca_file, address.port) == (True, "/etc/mf/ca.pem", 8884)
    assert parse_broker_url("mqtts://u:p@h").ca_file is None


def test_credentials_are_percent_decoded():
    address = parse_broker_url("mqtt://user%40x:p%3Aw%2Fd@127.0.0.1:1883")
    assert (address.username, address.password) == ("user@x", "p:w/d")


def test_ipv6_host():
    assert parse_broker_url("mqtt://[::1]:1883").host == "::1"
    assert parse_broker_url("mqtt://[::1]:1883").url() == "mqtt://[::1]:1883"


def test_password_is_hidden_in_repr_and_url():
    address = parse_broker_url("mqtt://u:hunter2@h:1883")
    assert "hunter2" not in repr(address) and "hunter2" not in address.url()
    assert address.url(with_password=True) == "mqtt://u:hunter2@h:1883"


@pytest.mark.parametrize("url, message", [
    ("http://h:1883", "must start with mqtt:// or mqtts://"),
    ("h:1883", "must start with mqtt://"),
    ("", "must start with mqtt://"),
    ("mqtt://:1883", "no host"),
    ("mqtt://u:p@:1883", "no host"),
    ("mqtt://h:99999", "invalid port"),
    ("mqtt://h:port", "invalid port"),
    ("mqtt://h:1883/topic", "path"),
    ("mqtt://h:1883?tls=1", "unknown parameters: tls"),
    ("mqtt://h:1883?ca_file=/x.pem", "ca_file needs mqtts"),
    ("mqtt://:pw@h:1883", "no host|no user name"),
])
def test_bad_url_names_the_problem(url, message):
    with pytest.raises(ValueError, match=message):
        parse_broker_url(url)


@pytest.mark.parametrize("changes", [{"protocol": 3}, {"reconnect_min_s": 0}, {"reconnect_min_s": 40.0},
                                     {"max_inflight": 0}, {"keepalive_s": 1}])
def test_bad_client_options_are_refused(changes):
    with pytest.raises(ValueError):
        ClientOptions(**changes)
