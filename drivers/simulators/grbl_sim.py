"""A simulated GRBL 1.1h mill on a pseudo-terminal, speaking the protocol a real board speaks.

It prints its banner after every reset and ignores what arrives before it, answers the real-time `?`
at any time with a status report and no `ok`, holds on `!`, resumes on `~`, resets on Ctrl-X (raising
ALARM:3 if the machine was moving), homes on `$H`, lists settings on `$$`, moves MPos along streamed
G0/G1 lines or a built-in job, and raises `ALARM:1` + `[MSG:Reset to continue]` on an injected hard limit.

    python -m drivers.simulators.grbl_sim --link /tmp/mf/grbl [--job [--job-rest S]] [--garbage-every N]
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections import deque

from drivers.simulators.pty import Simulator, run_until_signalled

BANNER = "Grbl 1.1h ['$' for help]"
SETTINGS = {0: "10", 1: "25", 2: "0", 3: "0", 4: "0", 5: "0", 6: "0", 10: "1", 11: "0.010", 12: "0.002", 13: "0",
            20: "0", 21: "0", 22: "1", 23: "0", 24: "25.000", 25: "500.000", 26: "250", 27: "1.000", 30: "1000",
            31: "0", 32: "0", 100: "250.000", 101: "250.000", 102: "250.000", 110: "500.000", 111: "500.000",
            112: "500.000", 120: "10.000", 121: "10.000", 122: "10.000", 130: "200.000", 131: "200.000",
            132: "200.000"}
JOB = ("G21 G90", "M3 S8000", "G1 X20 Y0 Z-1 F600", "G1 X20 Y20", "G1 X0 Y20", "G1 X0 Y0", "G0 Z5", "M5", "M2")
_WORD = re.compile(r"([A-Z])(-?\d+(?:\.\d*)?)")
MOVING = ("Run", "Jog", "Home", "Hold:1")


class GrblSimulator(Simulator):
    """GRBL on a pty. `speed` multiplies every feed rate so tests need not wait for real machining."""

    EOL = "\r\n"

    def __init__(self, link=None, *, speed: float = 1.0, home_seconds: float = 0.3, boot_seconds: float = 0.05,
                 report_wpos: bool = False, wco: tuple[float, float, float] = (10.0, 5.0, 0.0),
                 repeat_job: bool = False, job_rest_s: float = 0.0, **options) -> None:
        super().__init__(link, **options)
        self.repeat_job = repeat_job
        self.job_rest_s = job_rest_s  # with repeat_job: idle this long between one job and the next
        self.speed = speed
        self.home_seconds = home_seconds
        self.boot_seconds = boot_seconds
        self.report_wpos = report_wpos
        self.wco = wco
        self.mpos = [0.0, 0.0, 0.0]
        self.received: list[str] = []
        self.boots = 0
        self.door_open = False
        self.locked = False  # alarm lock that $H or $X clears
        self._boot_state()

    def _boot_state(self) -> None:
        now = time.monotonic()
        self.state = "Alarm" if self.locked else "Idle"
        self.critical = False
        self.feed = self.rpm = 0.0
        self._moves: deque[tuple[tuple[float, float, float], float]] = deque()
        self._program: deque[str] = deque()
        self._partial = b""
        self._home_until: float | None = None
        self._hold_until: float | None = None
        self._booting_until = now + self.boot_seconds
        self._banner_due = True
        self._last_tick = now
        self._reports = 0
        self._pgm_end = False
        self._modal_feed = 500.0
        self._next_job_at = now  # with repeat_job, the first job starts as soon as the board is up

    # --- Simulator hooks -------------------------------------------------------------------------------

    def boot(self) -> None:
        self.boots += 1
        self._boot_state()

    def receive(self, data: bytes) -> None:
        if time.monotonic() < self._booting_until:
            return  # GRBL discards whatever arrives before its banner
        for byte in data:
            if byte == ord("?"):
                self._status()
            elif byte == 0x18:
                self._soft_reset()
                return
            elif self.critical or self.state == "Sleep":
                continue
            elif byte == ord("!"):
                self._feed_hold()
            elif byte == ord("~"):
                self._cycle_start()
            elif byte in b"\r\n":
                line, self._partial = self._partial, b""
                if line.strip():
                    self._line(line.decode("ascii", "replace").strip())
            else:
                self._partial += bytes([byte])

    def tick(self, now: float) -> None:
        dt, self._last_tick = now - self._last_tick, now
        if self._banner_due and now >= self._booting_until:
            self._banner_due = False
            self.emit("")
            self.emit(BANNER)
            if self.locked:
                self.emit("[MSG:'$H'|'$X' to unlock]")
        if self._banner_due:
            return
        if self.state == "Home" and self._home_until is not None and now >= self._home_until:
            self._home_until, self.mpos, self.locked, self.state = None, [0.0, 0.0, 0.0], False, "Idle"
            self.emit("ok")
        if self.state == "Hold:1" and self._hold_until is not None and now >= self._hold_until:
            self.state, self.feed = "Hold:0", 0.0
        if self.state in ("Run", "Jog"):
            self._move(dt)
        if self.repeat_job and self.state == "Idle" and not self._program and now >= self._next_job_at:
            self.run_job()
            self._next_job_at = float("inf")  # until this job ends

    # --- injections for tests and the demo -------------------------------------------------------------

    def inject_hard_limit(self) -> None:
        with self.lock:
            self._moves.clear()
            self._program.clear()
            self.state, self.critical, self.locked, self.feed = "Alarm", True, True, 0.0
            self.emit("ALARM:1")
            self.emit("[MSG:Reset to continue]")

    def open_door(self) -> None:
        with self.lock:
            self.door_open = True
            if self.state not in ("Alarm", "Sleep"):
                self.state, self.feed = "Door:1", 0.0

    def close_door(self) -> None:
        with self.lock:
            self.door_open = False
            if self.state.startswith("Door"):
                self.state = "Door:0"

    def run_job(self, program: tuple[str, ...] = JOB) -> None:
        """Execute a built-in program as if a sender streamed it (its `ok`s are not sent)."""
        with self.lock:
            if self.state == "Idle":
                self._program.extend(program)
                self._next_program_line()

    def inject_line(self, text: str) -> None:
        with self.lock:
            self.emit(text)

    # --- the firmware ----------------------------------------------------------------------------------

    def _status(self) -> None:
        self._reports += 1
        x, y, z = self.mpos
        if self.report_wpos:
            x, y, z = x - self.wco[0], y - self.wco[1], z - self.wco[2]
        fields = [self.state, f"{'WPos' if self.report_wpos else 'MPos'}:{x:.3f},{y:.3f},{z:.3f}"]
        if self.state in ("Run", "Jog", "Hold:1"):
            fields.append(f"Bf:{15 - min(15, len(self._moves))},128")
        fields.append(f"FS:{self.feed:.0f},{self.rpm:.0f}")
        if self.door_open:
            fields.append("Pn:D")
        if self._reports % 10 == 1:
            fields.append("WCO:" + ",".join(f"{v:.3f}" for v in self.wco))
        elif self._reports % 10 == 2:
            fields.append("Ov:100,100,100")
        self.emit("<" + "|".join(fields) + ">", report=True)

    def _soft_reset(self) -> None:
        if self.state in MOVING:
            self.locked = True
            self.emit("ALARM:6" if self.state == "Home" else "ALARM:3")
        self.boot()

    def _feed_hold(self) -> None:
        if self.state in ("Run", "Jog"):
            self.state, self._hold_until = "Hold:1", time.monotonic() + 0.05

    def _cycle_start(self) -> None:
        if self.state == "Hold:0" or (self.state == "Door:0" and not self.door_open):
            self.state = "Run" if self._moves or self._program else "Idle"

    def _line(self, text: str) -> None:
        self.received.append(text)
        if len(text) > 80:
            return self.emit("error:11")
        if text.startswith("$"):
            return self._system(text)
        if self.state == "Alarm":
            return self.emit("error:9")
        error = self._gcode(text.upper().replace(" ", ""))
        self.emit(f"error:{error}" if error else "ok")

    def _system(self, text: str) -> None:
        command = text.upper()
        if command == "$$":
            for key, value in SETTINGS.items():
                self.emit(f"${key}={value}")
        elif command == "$H":
            if self.state not in ("Idle", "Alarm"):
                return self.emit("error:8")
            self.state, self._home_until = "Home", time.monotonic() + self.home_seconds
            return None  # ok when homing completes
        elif command == "$X":
            if self.state == "Alarm":
                self.locked, self.state = False, "Idle"
                self.emit("[MSG:Caution: Unlocked]")
        elif command == "$G":
            spindle = "M3" if self.rpm else "M5"
            self.emit(f"[GC:G0 G54 G17 G21 G90 G94 {spindle} M9 T0 F{self._modal_feed:.0f} S{self.rpm:.0f}]")
        elif command == "$I":
            self.emit("[VER:1.1h.20190825:]")
            self.emit("[OPT:V,15,128]")
        elif command == "$SLP":
            self.emit("[MSG:Sleeping]")
            self.state = "Sleep"
        elif command.startswith("$J="):
            if self.state not in ("Idle", "Jog"):
                return self.emit("error:8")
            error = self._gcode(command[3:].replace(" ", ""), jog=True)
            return self.emit(f"error:{error}" if error else "ok")
        else:
            return self.emit("error:3")
        self.emit("ok")

    def _gcode(self, block: str, *, jog: bool = False) -> int | None:
        """Execute one block; an error number when GRBL would refuse it."""
        if not block or not block[0].isalpha():
            return 1
        words = _WORD.findall(block)
        if "".join(letter + value for letter, value in words) != block:
            return 2
        values = {letter: float(value) for letter, value in words if letter not in "GM"}
        codes = {letter + str(int(float(value))) for letter, value in words if letter in "GM"}
        if codes - {"G0", "G1", "G4", "G17", "G21", "G90", "G91", "G94", "M2", "M3", "M4", "M5", "M30", "M8", "M9"}:
            return 20
        self._modal_feed = values.get("F", self._modal_feed)
        if "M3" in codes or "M4" in codes:
            self.rpm = values.get("S", self.rpm)
        if "M5" in codes:
            self.rpm = 0.0
        if "M2" in codes or "M30" in codes:
            self._pgm_end = True
        axes = [values.get(axis) for axis in "XYZ"]
        if any(a is not None for a in axes):
            base = self._moves[-1][0] if self._moves else tuple(self.mpos)
            target = tuple(b if a is None else a + self.wco[i] for i, (a, b) in enumerate(zip(axes, base, strict=True)))
            rapid = "G0" in codes and not jog
            self._moves.append((target, 2000.0 if rapid else self._modal_feed))
            if self.state in ("Idle", "Jog"):
                self.state = "Jog" if jog else "Run"
        elif self._pgm_end and not self._moves and self.state == "Idle":
            self._end_program()
        return None

    def _end_program(self) -> None:
        self._pgm_end = False
        self._next_job_at = time.monotonic() + self.job_rest_s
        self.emit("[MSG:Pgm End]")

    def _move(self, dt: float) -> None:
        budget = dt
        while budget > 0:
            if not self._moves and not self._next_program_line():
                self.state, self.feed = "Idle", 0.0
                if self._pgm_end:
                    self._end_program()
                return
            target, feed = self._moves[0]
            self.feed = feed
            distance = math.dist(self.mpos, target)
            reach = feed / 60.0 * self.speed * budget
            if reach >= distance:
                self.mpos = list(target)
                self._moves.popleft()
                budget -= distance / (feed / 60.0 * self.speed) if feed else budget
            else:
                self.mpos = [p + (t - p) * reach / distance for p, t in zip(self.mpos, target, strict=True)]
                return

    def _next_program_line(self) -> bool:
        """Feed built-in job lines until one queues a move; whether a move is queued."""
        while self._program and not self._moves:
            self._gcode(self._program.popleft().upper().replace(" ", ""))
        if self._moves and self.state == "Idle":
            self.state = "Run"
        return bool(self._moves)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="grbl_sim", description="A simulated GRBL 1.1 mill on a pty.")
    parser.add_argument("--link", required=True, help="symlink path to create for the pty (the bridge's --serial)")
    parser.add_argument("--job", action="store_true", help="run the built-in job over and over")
    parser.add_argument("--job-rest", type=float, default=0.0, help="with --job: seconds idle between jobs")
    parser.add_argument("--garbage-every", type=int, default=0, help="send a junk line after every N lines")
    parser.add_argument("--truncate-every", type=int, default=0, help="cut every N-th status report short")
    parser.add_argument("--speed", type=float, default=1.0, help="multiply every feed rate by this")
    args = parser.parse_args(argv)
    run_until_signalled(GrblSimulator(args.link, garbage_every=args.garbage_every, truncate_every=args.truncate_every,
                                      speed=args.speed, repeat_job=args.job, job_rest_s=args.job_rest))


if __name__ == "__main__":
    main()
