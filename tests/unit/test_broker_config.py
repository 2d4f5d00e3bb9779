"""The broker's password hashes and the text of its config, password and ACL files (no broker here)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from drivers.broker_url import BrokerAddress
from factory.broker.config import BrokerLimits, MachineAccount, acl_text, mosquitto_conf, passwd_text
from factory.broker.passwords import check_hash, hash_password, new_password, verify_password

# Written by `mosquitto_passwd -c -b FILE user pass` of Mosquitto 2.0.11.
MOSQUITTO_PASSWD_LINE = ("user:$7$101$RTCinLA0adwTxG9e$"
                         "Nwc6jPBXM/qj/yzCiAUYYyE8PI4fg+TDwaGEOHk/tyHwDVUlQkpRwD4etHde2cWmlEnrJbrfB7n6yCn3oQqI6g==")
HASH = hash_password("machine-secret")


def machine(site: str = "north", machine_id: str = "printer-1") -> MachineAccount:
    return MachineAccount(site, machine_id, HASH)


# --- hashes ---

def test_hash_is_what_mosquitto_passwd_writes_for_the_same_salt():
    stored = MOSQUITTO_PASSWD_LINE.split(":", 1)[1]
    salt = base64.b64decode(stored.split("$")[3])
    assert hash_password("pass", salt=salt) == stored


def test_mosquitto_passwd_hash_verifies_only_with_its_password():
    stored = MOSQUITTO_PASSWD_LINE.split(":", 1)[1]
    assert verify_password("pass", stored)
    assert not verify_password("pass ", stored)
    assert not verify_password("Pass", stored)


def test_hash_has_mosquitto_format_and_a_fresh_salt_each_time():
    first, second = hash_password("secret"), hash_password("secret")
    assert first != second
    prefix, iterations, salt, key = first.split("$")[1:]
    assert (prefix, iterations) == ("7", "101")
    assert len(base64.b64decode(salt)) == 12 and len(base64.b64decode(key)) == 64
    assert verify_password("secret", first) and verify_password("secret", second)


def test_hash_with_more_iterations_verifies():
    assert verify_password("secret", hash_password("secret", iterations=5000))
    assert hash_password("secret", iterations=5000).startswith("$7$5000$")


@pytest.mark.parametrize("bad", ["", "plain", "$6$abc$def", "$7$101$RTCinLA0adwTxG9e$short",
                                 "$7$0$RTCinLA0adwTxG9e$" + "A" * 88, "$7$101$RTCi\nLA0adwTxG9e$" + "A" * 88])
def test_malformed_hash_never_verifies_and_is_rejected(bad):
    assert not verify_password("secret", bad)
    with pytest.raises(ValueError, match="hash"):
        check_hash(bad)


def test_empty_password_is_refused():
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_new_passwords_are_long_url_safe_and_different():
    first, second = new_password(), new_password()
    assert first != second and len(first) >= 32
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# --- ACL and password file ---

def test_acl_lets_each_machine_write_its_topic_and_read_only_its_cmd():
    text = acl_text([machine("north", "printer-1"), machine("south", "cnc-2")])
    blocks = [block.splitlines() for block in text.split("\n\n")]
    assert blocks[1] == ["user factory", "topic read mf/#", "topic write mf/+/+/cmd"]
    assert blocks[2] == ["user printer-1", "topic write mf/north/printer-1/#", "topic read mf/north/printer-1/cmd"]
    assert blocks[3] == ["user cnc-2", "topic write mf/south/cnc-2/#", "topic read mf/south/cnc-2/cmd"]


def test_password_file_has_one_line_per_account_service_first():
    text = passwd_text([machine("north", "printer-1"), machine("north", "printer-2")], HASH)
    assert text.splitlines() == [f"factory:{HASH}", f"printer-1:{HASH}", f"printer-2:{HASH}"]


def test_machine_listed_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        acl_text([machine("north", "printer-1"), machine("south", "printer-1")])


def test_machine_may_not_take_the_service_account_name():
    with pytest.raises(ValueError, match="service account"):
        passwd_text([machine("north", "factory")], HASH)


@pytest.mark.parametrize("site, machine_id", [("North", "p1"), ("north", "p1/#"), ("north", "p1\nuser x"),
                                              ("north", ""), ("north", "a" * 65), ("+", "p1"), ("north", "p1\n")])
def test_account_with_a_bad_slug_is_refused(site, machine_id):
    with pytest.raises(ValueError, match="lower-case"):
        MachineAccount(site, machine_id, HASH)


def test_account_with_a_bad_hash_is_refused():
    with pytest.raises(ValueError, match="hash"):
        MachineAccount("north", "p1", "secret\nuser factory")


# --- mosquitto.conf ---

def test_config_listens_on_the_url_host_and_port_with_persistence_and_limits():
    text = mosquitto_conf(BrokerAddress("10.0.0.5", 1884), data_dir=Path("/srv/mqtt/data"),
                          password_file=Path("/srv/mqtt/passwd"), acl_file=Path("/srv/mqtt/acl"),
                          limits=BrokerLimits(max_inflight_messages=50, max_queued_messages=12345))
    lines = text.splitlines()
    for expected in ["listener 1884 10.0.0.5", "allow_anonymous false", "per_listener_settings false",
                     "password_file /srv/mqtt/passwd", "acl_file /srv/mqtt/acl", "persistence true",
                     "persistence_location /srv/mqtt/data/", "max_inflight_messages 50",
                     "max_queued_messages 12345", "log_dest stdout"]:
        assert expected in lines
    assert lines.index("listener 1884 10.0.0.5") > lines.index("acl_file /srv/mqtt/acl")


def test_config_can_log_to_a_file():
    text = mosquitto_conf(BrokerAddress("127.0.0.1", 1883), data_dir=Path("/d"), password_file=Path("/p"),
                          acl_file=Path("/a"), log_file=Path("/var/log/m.log"))
    assert "log_dest file /var/log/m.log" in text.splitlines()


def test_tls_listener_needs_certificate_files():
    address = BrokerAddress("0.0.0.0", 8883, tls=True)
    paths = {"data_dir": Path("/d"), "password_file": Path("/p"), "acl_file": Path("/a")}
    with pytest.raises(ValueError, match="certificate"):
        mosquitto_conf(address, **paths)
    text = mosquitto_conf(address, **paths, tls_files=(Path("/c.pem"), Path("/k.pem")))
    assert text.splitlines()[-3:] == ["listener 8883 0.0.0.0", "certfile /c.pem", "keyfile /k.pem"]


def test_path_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="line break"):
        mosquitto_conf(BrokerAddress("127.0.0.1", 1883), data_dir=Path("/d\nuser root"), password_file=Path("/p"),
                       acl_file=Path("/a"))


def test_service_user_name_that_would_break_the_files_is_refused():
    with pytest.raises(ValueError, match="service user name"):
        acl_text([], service_username="factory\ntopic readwrite #")
