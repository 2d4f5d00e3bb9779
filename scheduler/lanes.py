"""One machine's timeline for the greedy dispatcher: blocks, open windows and firings, searched by bisection."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from scheduler.problem import Block, Calendar, Machine, Operation


@dataclass(eq=False)
class Firing:
    """What one machine does over [start, end): one operation, or several sharing a batch machine's firing."""

    start: int
    end: int
    setup_family: str | None
    batch_family: str | None
    load: int
    batch: int | None


class Lane:
    """One machine's timeline: merged blocks, open windows and firings sorted by start, searched by bisection."""

    def __init__(self, machine: Machine, calendar: Calendar | None, blocks: list[Block]) -> None:
        self.machine, self.calendar = machine, calendar
        self.is_batch = machine.batch_capacity > 1
        self.windows = calendar.open if calendar is not None else ()
        self.window_starts = [start for start, _ in self.windows]
        merged: list[list[int]] = []
        for block in sorted(blocks, key=lambda b: b.start):
            if merged and block.start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], block.end)
            else:
                merged.append([block.start, block.end])
        self.block_starts, self.block_ends = [b[0] for b in merged], [b[1] for b in merged]
        self.firings: list[Firing] = []
        self.starts: list[int] = []

    def setup(self, before: str | None, after: str | None) -> int:
        return self.machine.setup_time if before is not None and after is not None and before != after else 0

    def earliest(self, t: int, duration: int, family: str | None, in_hours: bool, horizon: int) -> int | None:
        """First start at or after t of a new firing that overlaps nothing and keeps setups and open hours.

        t only grows, so the indexes into windows, blocks and firings only move forward."""
        w = max(0, bisect_right(self.window_starts, t) - 1)
        k, i = bisect_right(self.block_ends, t), bisect_right(self.starts, t)
        blocks, firings = len(self.block_starts), len(self.firings)
        while t + duration <= horizon:
            if in_hours:
                while w < len(self.windows) and max(t, self.windows[w][0]) + duration > self.windows[w][1]:
                    w += 1
                if w == len(self.windows):
                    return None
                t = max(t, self.windows[w][0])
            while k < blocks and self.block_ends[k] <= t:
                k += 1
            if k < blocks and self.block_starts[k] < t + duration:
                t = self.block_ends[k]
                continue
            while i < firings and self.starts[i] <= t:
                i += 1
            ready = self.firings[i - 1].end + self.setup(self.firings[i - 1].setup_family, family) if i else t
            if ready > t:
                t = ready
                continue
            if i < firings and t + duration + self.setup(family, self.firings[i].setup_family) > self.starts[i]:
                t = self.firings[i].end
                continue
            return t
        return None

    def join(self, op: Operation, duration: int, earliest: int, latest: int, in_hours: bool) -> Firing | None:
        """A firing starting in [earliest, latest] that this operation may join."""
        if not self.is_batch or op.batch_family is None:
            return None
        for index in range(bisect_left(self.starts, earliest), bisect_right(self.starts, latest)):
            f = self.firings[index]
            if (f.batch_family == op.batch_family and f.setup_family == op.setup_family
                    and f.end - f.start == duration and f.load + op.batch_load <= self.machine.batch_capacity
                    and (not in_hours or self.calendar.contains(f.start, f.end))):
                return f
        return None

    def add(self, firing: Firing) -> None:
        index = bisect_right(self.starts, firing.start)
        self.starts.insert(index, firing.start)
        self.firings.insert(index, firing)

    def remove(self, firing: Firing) -> None:
        index = next(i for i in range(bisect_left(self.starts, firing.start), len(self.firings))
                     if self.firings[i] is firing)
        del self.starts[index], self.firings[index]
