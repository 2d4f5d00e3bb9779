"""The bridge's disk spool: every outgoing message waits here, in order, until the broker acknowledged it.

A small SQLite file (standard library) in the spool directory, so messages survive the broker being away,
the bridge being restarted and the machine losing power. Bounded: past `limit` messages, new telemetry is
dropped (and said so once per episode in the log) while states, events and command acks still get a
reserve, since they carry what the factory must not miss.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100_000
RESERVE = 0.1  # share of `limit` kept for states, events and acks once telemetry is refused


@dataclass(frozen=True)
class Spooled:
    id: int
    topic: str
    payload: bytes
    retain: bool


class SpoolFull(Exception):
    """The spool refused a message: it holds `limit` (plus the reserve for important messages)."""


class Spool:
    def __init__(self, directory: Path, *, limit: int = DEFAULT_LIMIT):
        if limit < 1:
            raise ValueError("spool limit must be at least 1")
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "spool.sqlite3"
        self.limit = limit
        self.dropped = 0
        self._full_logged = False
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS message (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "topic TEXT NOT NULL, payload BLOB NOT NULL, retain INTEGER NOT NULL)")
        self._count = self._db.execute("SELECT count(*) FROM message").fetchone()[0]

    def put(self, topic: str, payload: bytes, *, retain: bool = False, important: bool = False) -> None:
        """Append a message; raises SpoolFull (after logging once per episode) when there is no room."""
        cap = self.limit + (int(self.limit * RESERVE) + 1 if important else 0)
        with self._lock:
            if self._count >= cap:
                self.dropped += 1
                if not self._full_logged:
                    self._full_logged = True
                    log.error("spool full at %s (%d messages): dropping new %s until the broker takes some",
                              self.path, self._count, "messages" if important else "telemetry")
                raise SpoolFull(f"spool holds {self._count} messages")
            self._db.execute("INSERT INTO message (topic, payload, retain) VALUES (?, ?, ?)",
                             (topic, payload, int(retain)))
            self._count += 1

    def peek(self, count: int) -> list[Spooled]:
        """The oldest `count` messages, oldest first, without removing them."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, retain FROM message ORDER BY id LIMIT ?",
                                    (count,)).fetchall()
        return [Spooled(row[0], row[1], bytes(row[2]), bool(row[3])) for row in rows]

    def remove_through(self, last_id: int) -> None:
        """Forget every message up to and including `last_id` (the broker acknowledged them)."""
        with self._lock:
            removed = self._db.execute("DELETE FROM message WHERE id <= ?", (last_id,)).rowcount
            self._count -= removed
            if self._full_logged and self._count < self.limit:
                self._full_logged = False
                log.warning("spool has room again (%d messages waiting; %d dropped so far)", self._count,
                            self.dropped)

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        with self._lock:
            self._db.close()
