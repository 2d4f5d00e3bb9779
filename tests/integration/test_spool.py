"""The bridge's disk spool: order, durability across reopening, bounds and the reserve for states."""

from __future__ import annotations

import logging

import pytest

from firmware_bridge.spool import Spool, SpoolFull


def test_messages_come_back_in_the_order_they_were_put(tmp_path):
    spool = Spool(tmp_path)
    for n in range(5):
        spool.put("mf/s/m/telemetry", f"{n}".encode())
    assert [m.payload for m in spool.peek(10)] == [b"0", b"1", b"2", b"3", b"4"]
    assert len(spool) == 5


def test_acknowledged_messages_are_removed_and_the_rest_stay(tmp_path):
    spool = Spool(tmp_path)
    for n in range(5):
        spool.put("t", f"{n}".encode())
    first_two = spool.peek(2)
    spool.remove_through(first_two[-1].id)
    assert [m.payload for m in spool.peek(10)] == [b"2", b"3", b"4"]
    assert len(spool) == 3


def test_the_spool_survives_the_bridge_restarting(tmp_path):
    spool = Spool(tmp_path)
    spool.put("mf/s/m/state", b"running", retain=True)
    spool.close()
    again = Spool(tmp_path)
    [message] = again.peek(5)
    assert (message.topic, message.payload, message.retain) == ("mf/s/m/state", b"running", True)
    assert len(again) == 1


def test_a_full_spool_drops_telemetry_and_says_so_once(tmp_path, caplog):
    spool = Spool(tmp_path, limit=3)
    for _ in range(3):
        spool.put("t", b"x")
    with caplog.at_level(logging.ERROR, logger="firmware_bridge.spool"):
        for _ in range(4):
            with pytest.raises(SpoolFull):
                spool.put("t", b"late")
    assert spool.dropped == 4
    assert sum("spool full" in r.message for r in caplog.records) == 1
    assert len(spool) == 3


def test_states_and_events_still_fit_in_the_reserve_when_telemetry_is_refused(tmp_path):
    spool = Spool(tmp_path, limit=10)
    for _ in range(10):
        spool.put("t", b"x")
    with pytest.raises(SpoolFull):
        spool.put("t", b"telemetry")
    spool.put("mf/s/m/state", b"fault", important=True)
    assert spool.peek(20)[-1].payload == b"fault"


def test_a_spool_limit_below_one_is_refused(tmp_path):
    with pytest.raises(ValueError):
        Spool(tmp_path, limit=0)
