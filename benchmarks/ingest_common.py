"""What the ingest benchmark's modules share: its sizes and targets, the broker limits, and how it speaks."""

from __future__ import annotations

import os
import sys

from factory.broker.config import BrokerLimits

SECTION = "## Telemetry ingest"
MACHINES = 20
SITES = ("north", "south")
MESSAGES = 30_000
REPEATS = 3
TARGET_RATE = 10_000
PACED_S = 8
STALL_S = 20.0  # a round gives up when nothing more arrives for this long
LIMITS = BrokerLimits()  # the broker limits the factory runs with (max_inflight_messages 100)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


