import pytest

from firmware_bridge.cli import parser

GOOD = ["--serial", "loop://", "--protocol", "marlin", "--site", "leipzig", "--machine", "prusa-mk4-1",
        "--broker", "mqtt://bridge:secret@127.0.0.1:1883"]


def test_bridge_arguments_parse_into_a_broker_address_and_defaults():
    args = parser().parse_args(GOOD)
    assert (args.broker.host, args.broker.port, args.broker.username) == ("127.0.0.1", 1883, "bridge")
    assert (args.baud, args.interval, args.spool) == (115200, 2.0, None)


@pytest.mark.parametrize(("flag", "value"), [
    ("--machine", "Prusa/1"), ("--site", "#"), ("--broker", "http://x"), ("--protocol", "klipper"),
    ("--interval", "0"), ("--interval", "soon"), ("--broker", "mqtt://:pw@host:1883")])
def test_bridge_refuses_arguments_that_would_break_the_topic_or_connection(flag, value, capsys):
    argv = list(GOOD) + ["--interval", "2"]
    argv[argv.index(flag) + 1] = value
    with pytest.raises(SystemExit) as raised:
        parser().parse_args(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert flag.lstrip("-") in err
    assert "pw" not in err or flag != "--broker"


def test_the_broker_url_may_come_from_the_environment_instead_of_the_command_line():
    argv = GOOD[:GOOD.index("--broker")]
    args = parser({"FIRMWARE_BRIDGE_BROKER": "mqtt://prusa-mk4-1:s3cret@127.0.0.1:1884"}).parse_args(argv)
    assert (args.broker.username, args.broker.password, args.broker.port) == ("prusa-mk4-1", "s3cret", 1884)
    with pytest.raises(SystemExit):
        parser({}).parse_args(argv)
