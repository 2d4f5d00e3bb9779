"""Pseudo-terminals for simulated firmware, and the thread that runs a simulator on one.

The simulator owns the master side; the code under test opens the slave by a fixed symlink path (as
socat's `link=` does), so after an "unplug" (master closed, link removed) a "replug" can create a new pty
at the same name, the way a USB adapter comes back as /dev/ttyACM0. The master runs in packet mode
(TIOCPKT): pyserial flushes the input queue when it opens a port, which shows up here as a control packet,
so a simulator can reset on open like a board whose USB adapter pulses DTR.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import select
import signal
import termios
import threading
import time
import tty
from pathlib import Path

TIOCPKT_FLUSHREAD = 0x01


def open_pty(link: str | os.PathLike | None = None) -> tuple[int, int, str]:
    """A raw pty pair: (master fd, slave fd, slave path). With `link`, the path is that symlink."""
    master, slave = os.openpty()
    tty.setraw(slave)
    fcntl.ioctl(master, termios.TIOCPKT, b"\x01\x00\x00\x00")
    os.set_blocking(master, False)
    path = os.ttyname(slave)
    if link is not None:
        link = Path(link)
        link.parent.mkdir(parents=True, exist_ok=True)
        staging = link.with_name(f".{link.name}.{os.getpid()}.new")
        staging.unlink(missing_ok=True)
        staging.symlink_to(path)
        os.replace(staging, link)  # atomic: the name never points nowhere while replugging
        path = str(link)
    return master, slave, path


class PtyLink:
    """One end of a pseudo-terminal that can be unplugged and replugged at the same path."""

    def __init__(self, link: str | os.PathLike | None = None) -> None:
        self.link = link
        self.path: str | None = None
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> str:
        self._master, self._slave, self.path = open_pty(self.link)
        return self.path

    def unplug(self) -> None:
        """Close both fds: whoever has the port open reads end-of-file / EIO, as with a pulled cable."""
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        if self.link is not None:
            Path(self.link).unlink(missing_ok=True)

    def read(self, timeout: float) -> tuple[bytes, bool]:
        """(bytes the other side wrote, whether it flushed its input, i.e. opened the port) within timeout."""
        master = self._master
        if master is None:
            time.sleep(timeout)
            return b"", False
        try:
            ready, _, _ = select.select([master], [], [], timeout)
            packet = os.read(master, 4096) if ready else b""
        except (OSError, ValueError):  # unplugged under our feet (EBADF), or nothing to read (EAGAIN, EIO)
            return b"", False
        if not packet:
            return b"", False
        if packet[0] == 0:
            return packet[1:], False
        return b"", bool(packet[0] & TIOCPKT_FLUSHREAD)

    def write(self, data: bytes) -> None:
        """Write what fits; a host that does not read loses output, as on a real serial line."""
        if self._master is None:
            return
        with contextlib.suppress(OSError):  # BlockingIOError when the host stopped reading
            os.write(self._master, data)


class Simulator:
    """Base of the simulated firmwares: a thread that reads the pty, ticks the clock and writes lines.

    Subclasses implement `receive(data)`, `tick(now)` and `boot()`; they call `emit(text)` to send a line.
    Public methods lock, so tests can inject faults from their own thread while the loop runs.
    `garbage_every=N` sends a line of junk after every N-th line; `truncate_every=N` cuts every N-th
    report line (a line sent with `report=True`) short, as a noisy cable does.
    """

    EOL = "\n"
    TICK_S = 0.01

    def __init__(self, link: str | os.PathLike | None = None, *, garbage_every: int = 0, truncate_every: int = 0,
                 reset_on_open: bool = True, seed: int = 1) -> None:
        self.pty = PtyLink(link)
        self.garbage_every = garbage_every
        self.truncate_every = truncate_every
        self.reset_on_open = reset_on_open
        self.lock = threading.RLock()
        self._random = random.Random(seed)
        self._sent = self._reports = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        if self.pty.path is None:
            raise RuntimeError("simulator not started")
        return self.pty.path

    def start(self) -> Simulator:
        with self.lock:
            self.pty.plug()
            self.boot()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self.lock:
            self.pty.unplug()

    def unplug(self) -> None:
        with self.lock:
            self.pty.unplug()

    def replug(self) -> None:
        """A new pty at the same path, and the board powers up again."""
        with self.lock:
            if self.pty.plugged:
                self.pty.unplug()
            self.pty.plug()
            self.boot()

    def reset(self) -> None:
        """Reset the board as its reset button (or a DTR pulse) would."""
        with self.lock:
            self.boot()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            data, opened = self.pty.read(self.TICK_S)
            with self.lock:
                if opened and self.reset_on_open:
                    self.boot()
                if data:
                    self.receive(data)
                self.tick(time.monotonic())

    def emit(self, text: str, *, report: bool = False) -> None:
        """Send one line; maybe truncate it (reports only) and maybe follow it with junk."""
        if report:
            self._reports += 1
            if self.truncate_every and self._reports % self.truncate_every == 0:
                text = text[: max(1, len(text) // 2)]
        self.pty.write((text + self.EOL).encode("ascii", "replace"))
        self._sent += 1
        if self.garbage_every and self._sent % self.garbage_every == 0:
            self.pty.write(self.garbage() + self.EOL.encode())

    def garbage(self) -> bytes:
        """A line of noise no firmware sends: high bytes and control characters."""
        junk = [self._random.choice(b"\x00\x07\x1b#~!") for _ in range(2)]
        junk += [self._random.randrange(0x80, 0x100) for _ in range(self._random.randrange(3, 12))]
        self._random.shuffle(junk)
        return bytes(junk)

    def boot(self) -> None:
        raise NotImplementedError

    def receive(self, data: bytes) -> None:
        raise NotImplementedError

    def tick(self, now: float) -> None:
        raise NotImplementedError


def run_until_signalled(simulator: Simulator) -> None:
    """Run a simulator in the foreground until SIGINT or SIGTERM (for `python -m ...` and `make demo`)."""
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    simulator.start()
    print(f"{type(simulator).__name__} listening on {simulator.path}", flush=True)
    try:
        done.wait()
    finally:
        simulator.stop()
