"""The ingest's gate: what DESIGN.md 4.1 lets in, and a count of what it turns away, by reason.

No I/O here: the worker feeds (topic, payload) pairs and gets back validated messages or `Dropped`. The
directory of machines is refreshed by the worker; duplicates are caught here from a bounded memory of the
last accepted `(seq, ts)` per machine, and again by the database's unique keys for anything older.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from drivers.messages import Channel, MachineMessage, MessageError, StateMessage, decode, parse_topic
from drivers.states import MachineState

log = logging.getLogger(__name__)

FUTURE_TOLERANCE = timedelta(minutes=5)
REMEMBERED_PER_MACHINE = 4096
# Under mf/# but not reports to store: commands the factory sends and the machines' answers to them.
# They are counted as passed over (factory_ingest_messages_ignored_total), not as drops.
PASSED_CHANNELS = (Channel.CMD, Channel.CMD_ACK)

# Stable drop reasons: the label of factory_ingest_messages_dropped_total.
REASONS = ("topic", "json", "schema", "unknown_machine", "wrong_site", "spoofed", "future", "duplicate",
           "unstorable")


def _is_last_will(message: MachineMessage) -> bool:
    """A retained `offline` will is fixed when its client connects, so the broker may publish the very same
    message after each vanishing of one long-lived client; applying it again changes nothing."""
    return isinstance(message, StateMessage) and message.state is MachineState.OFFLINE


class Ignored(Exception):
    def __init__(self, channel: Channel):
        super().__init__(channel.value)
        self.channel = channel


class Dropped(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class Gate:
    """Validates machine messages; `directory` maps machine id -> its site slug."""

    def __init__(self, directory: Mapping[str, str], refresh: Callable[[], Mapping[str, str] | None] | None = None):
        """`refresh` is asked for a newer directory when a machine is unknown; it may answer None (not now)."""
        self.directory = dict(directory)
        self.refresh = refresh
        self.accepted = 0
        self.dropped: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self._seen: dict[str, OrderedDict[tuple[int, datetime], None]] = {}

    def admit(self, topic: str, payload: bytes, now: datetime) -> MachineMessage | None:
        """The message if it may be stored; else None, after counting and logging the reason."""
        try:
            message = self.check(topic, payload, now)
        except Dropped as drop:
            self.dropped[drop.reason] += 1
            log.warning("dropped message on %s: %s: %s", topic[:200], drop.reason, drop)
            return None
        except Ignored as passed:
            self.ignored[passed.channel.value] += 1
            return None
        self.accepted += 1
        return message

    def check(self, topic: str, payload: bytes, now: datetime) -> MachineMessage:
        try:
            where = parse_topic(topic)
            if where.channel in PASSED_CHANNELS:
                raise Ignored(where.channel)
            message = decode(where.channel, payload)
        except MessageError as exc:
            raise Dropped(exc.reason, str(exc)) from None
        if message.machine != where.machine:
            raise Dropped("spoofed", f"payload says machine {message.machine!r} on {where.machine!r}'s topic")
        site = self.directory.get(where.machine)
        if site is None and self.refresh is not None:
            newer = self.refresh()
            if newer is not None:
                self.directory = dict(newer)
                site = self.directory.get(where.machine)
        if site is None:
            raise Dropped("unknown_machine", f"no machine {where.machine!r} is registered")
        if site != where.site:
            raise Dropped("wrong_site", f"machine {where.machine!r} stands at {site!r}, not {where.site!r}")
        if message.ts - now > FUTURE_TOLERANCE:
            raise Dropped("future", f"ts {message.ts.isoformat()} is more than 5 minutes ahead")
        if not _is_last_will(message) and self._seen_before(message.machine, message.seq, message.ts):
            raise Dropped("duplicate", f"seq {message.seq} at {message.ts.isoformat()} was accepted already")
        return message

    def refuse(self, message: MachineMessage, reason: str, why: str) -> None:
        """Count an admitted message as dropped after all (the database would not take it)."""
        self.accepted -= 1
        self.dropped[reason] += 1
        log.warning("dropped message of %s seq %s: %s: %s", message.machine, message.seq, reason, why[:300])

    def _seen_before(self, machine: str, seq: int, ts: datetime) -> bool:
        seen = self._seen.setdefault(machine, OrderedDict())
        key = (seq, ts)
        if key in seen:
            return True
        seen[key] = None
        if len(seen) > REMEMBERED_PER_MACHINE:
            seen.popitem(last=False)
        return False
