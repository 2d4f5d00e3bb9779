"""Waiting in tests for something a real part does, with a deadline and never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(condition: Callable[[], object], timeout: float) -> bool:
    """Poll `condition` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def eventually(condition: Callable[[], object], timeout: float, what: str = "condition") -> object:
    """`condition()`'s first true value; AssertionError naming `what` when `timeout` seconds pass first."""
    found: list[object] = []

    def check() -> bool:
        found[:] = [condition()]
        return bool(found[0])

    if not until(check, timeout):
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
    return found[0]
