import pytest

from firmware_bridge.cli import NOT_YET, main

GOOD = ["--serial", "loop://", "--protocol", "marlin", "--site", "leipzig", "--machine", "prusa-mk4-1",
        "--broker", "mqtt://bridge:secret@127.0.0.1:1883"]


def test_bridge_says_plainly_that_it_cannot_bridge_yet(capsys):
    assert main(GOOD) == NOT_YET
    assert "not built yet" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value"), [
    ("--machine", "Prusa/1"), ("--site", "#"), ("--broker", "http://x"), ("--protocol", "klipper")])
def test_bridge_refuses_arguments_that_would_break_the_topic_or_connection(flag, value, capsys):
    argv = list(GOOD)
    argv[argv.index(flag) + 1] = value
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    assert flag.lstrip("-") in capsys.readouterr().err
