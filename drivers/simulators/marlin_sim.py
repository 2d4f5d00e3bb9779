"""A simulated Marlin 2.1 printer on a pseudo-terminal, speaking the protocol a real board speaks.

It checks line numbers and checksums and asks `Resend:` after an `Error:` line, answers `ok` per line,
reports `echo:busy: processing` while homing, ramps heaters toward their targets, auto-reports
temperatures (M155) and SD progress (M27 S), prints a fake SD file (M23/M24/M25/M524) whose progress
advances with time (with `print_temps`, the file's start code heats the hot end and bed and its end code
cools them), and halts on an injected thermal runaway until it is reset.

    python -m drivers.simulators.marlin_sim --link /tmp/mf/marlin [--garbage-every N] [--print-seconds S]
                                            [--print-temps 215/60]
"""

from __future__ import annotations

import argparse
import re
import time
from collections import deque

from drivers.marlin import checksum
from drivers.simulators.pty import Simulator, run_until_signalled

AMBIENT = 20.0
BANNER = ("start", "echo:Marlin 2.1.2.1", "echo: Last Updated: 2023-07-01 | Author: (microfactory simulator)",
          "echo: Free Memory: 2735  PlannerBufferBytes: 1232", "echo:SD card ok")
FIRMWARE = ("FIRMWARE_NAME:Marlin 2.1.2.1 (Jul  1 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
            "PROTOCOL_VERSION:1.0 MACHINE_TYPE:microfactory-sim EXTRUDER_COUNT:1 "
            "UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff")
_NUMBERED = re.compile(r"^N(\d+)\s*(.*?)(?:\*(\d+))?$")
_WORD = re.compile(r"([A-Z])\s*(-?\d+(?:\.\d*)?)")


class MarlinSimulator(Simulator):
    """Marlin on a pty. `print_seconds` is how long the fake SD file takes; `heat_rate` is degrees/s;
    `print_temps` (hot end, bed) are the targets the file sets when it starts, None to leave the heaters be."""

    def __init__(self, link=None, *, print_seconds: float = 60.0, heat_rate: float = 50.0, home_seconds: float = 0.5,
                 autoreport: bool = True, files: dict[str, int] | None = None, boot_seconds: float = 0.05,
                 print_temps: tuple[float, float] | None = None, **options) -> None:
        super().__init__(link, **options)
        self.print_seconds = print_seconds
        self.print_temps = print_temps
        self.heat_rate = heat_rate
        self.home_seconds = home_seconds
        self.autoreport = autoreport
        self.boot_seconds = boot_seconds
        self.files = files if files is not None else {"benchy.gco": 5678}
        self.temps = {"T": [AMBIENT, 0.0], "B": [AMBIENT, 0.0]}
        self.received: list[str] = []
        self.boots = 0
        self._boot_state()

    def _boot_state(self) -> None:
        now = time.monotonic()
        self.last_n = 0
        self.halted = False
        self.selected: str | None = None
        self.sd_pos = 0.0
        self.printing = self.paused = False
        self.temp_every = self.sd_every = 0.0
        self._next_temp = self._next_sd = now
        self._inbox: deque[str] = deque()
        self._partial = b""
        self._busy_until: float | None = None
        self._next_busy = now
        self._heating: str | None = None
        self._booting_until = now + self.boot_seconds
        self._banner_due = True
        self._last_tick = now
        for reading in self.temps.values():
            reading[1] = 0.0

    # --- Simulator hooks -------------------------------------------------------------------------------

    def boot(self) -> None:
        self.boots += 1
        self._boot_state()

    def receive(self, data: bytes) -> None:
        if self.halted or time.monotonic() < self._booting_until:
            return  # a killed board hears nothing; a booting one is still in its bootloader
        lines = re.split(rb"[\r\n]", self._partial + data)
        self._partial = lines.pop()
        self._inbox.extend(line.decode("ascii", "replace") for line in lines if line.strip())
        self._work(time.monotonic())

    def tick(self, now: float) -> None:
        dt, self._last_tick = now - self._last_tick, now
        if self._banner_due and now >= self._booting_until:
            self._banner_due = False
            for line in BANNER:
                self.emit(line)
        if self.halted or self._banner_due:
            return
        self._heat(dt)
        self._advance_print(dt)
        self._auto_reports(now)
        self._work(now)

    # --- injections for tests --------------------------------------------------------------------------

    def inject_thermal_runaway(self, heater: str = "0") -> None:
        with self.lock:
            self.emit(f"Error:Thermal Runaway, system stopped! Heater_ID: {heater}")
            self.kill()

    def kill(self) -> None:
        with self.lock:
            self.emit("Error:Printer halted. kill() called!")
            self.halted = True
            self.printing = self.paused = False

    def inject_line(self, text: str) -> None:
        with self.lock:
            self.emit(text)

    # --- the firmware ----------------------------------------------------------------------------------

    def _heat(self, dt: float) -> None:
        for reading in self.temps.values():
            goal = reading[1] if reading[1] > 0 else AMBIENT
            step = self.heat_rate * dt if goal > reading[0] else self.heat_rate * dt / 4
            reading[0] = min(goal, reading[0] + step) if goal > reading[0] else max(goal, reading[0] - step)

    def _advance_print(self, dt: float) -> None:
        if not self.printing or self.paused:
            return
        size = self.files[self.selected]
        self.sd_pos = min(size, self.sd_pos + size * dt / self.print_seconds)
        if self.sd_pos >= size:
            self.printing = False
            self._file_heats(False)
            self.emit("Done printing file")

    def _file_heats(self, on: bool) -> None:
        """What the fake file's start code (M104/M140) or end code (heaters off) would do."""
        if self.print_temps is not None:
            self.temps["T"][1], self.temps["B"][1] = self.print_temps if on else (0.0, 0.0)

    def _auto_reports(self, now: float) -> None:
        if self.temp_every and now >= self._next_temp:
            self._next_temp = now + self.temp_every
            self.emit(" " + self._temperature_line(), report=True)
        if self.sd_every and now >= self._next_sd:
            self._next_sd = now + self.sd_every
            self.emit(self._sd_line(), report=True)

    def _temperature_line(self) -> str:
        (t, t_target), (b, b_target) = self.temps["T"], self.temps["B"]
        power = 127 if t < t_target else 0
        return f"T:{t:.2f} /{t_target:.2f} B:{b:.2f} /{b_target:.2f} @:{power} B@:{127 if b < b_target else 0}"

    def _sd_line(self) -> str:
        if self.printing or self.paused:
            return f"SD printing byte {int(self.sd_pos)}/{self.files[self.selected]}"
        return "Not SD printing"

    def _work(self, now: float) -> None:
        """Finish the blocking command (homing, M109) if it is done, then run queued lines until one blocks."""
        if self._busy_until is not None or self._heating is not None:
            if not self._blocked_done(now):
                return
            self.emit("ok")
        while self._inbox and self._busy_until is None and self._heating is None and not self.halted:
            self._line(self._inbox.popleft())

    def _blocked_done(self, now: float) -> bool:
        if self._heating is not None:
            current, target = self.temps[self._heating]
            if current >= target - 1:
                self._heating = None
                return True
        elif self._busy_until is not None and now >= self._busy_until:
            self._busy_until = None
            return True
        if now >= self._next_busy:
            self._next_busy = now + 0.2
            self.emit("echo:busy: processing" if self._heating is None else " " + self._temperature_line() + " W:?")
        return False

    def _line(self, raw: str) -> None:
        """Check numbering and checksum the way Marlin's GCodeQueue does, then execute."""
        text = raw.strip()
        self.received.append(text)
        if not text.startswith("N"):
            self._execute(text.split("*")[0].strip())
            return
        match = _NUMBERED.match(text)
        if match is None or match[3] is None:
            return self._resend("No Checksum with line number")
        number, body = int(match[1]), match[2].strip()
        if checksum(text[: text.rindex("*")]) != int(match[3]):
            return self._resend("checksum mismatch")
        if number != self.last_n + 1 and not body.startswith("M110"):
            return self._resend("Line Number is not Last Line Number+1")
        self.last_n = number
        self._execute(body)

    def _resend(self, reason: str) -> None:
        self.emit(f"Error:{reason}, Last Line: {self.last_n}")
        self.emit(f"Resend: {self.last_n + 1}")
        self.emit("ok")

    def _execute(self, body: str) -> None:
        body = body.split(";")[0].strip()
        if not body:
            return self.emit("ok")
        code, _, rest = body.partition(" ")
        words = {letter: float(value) for letter, value in _WORD.findall(rest.upper())}
        handler = getattr(self, f"_{code.upper().replace('.', '_')}", None)
        if handler is None:
            self.emit(f'echo:Unknown command: "{body}"')
            return self.emit("ok")
        if handler(words, rest.strip()) is not False:
            self.emit("ok")

    # Handlers return False when they send their own `ok` later (blocking commands).

    def _M110(self, words, rest):
        self.last_n = int(words.get("N", 0))

    def _M115(self, words, rest):
        self.emit(FIRMWARE)
        flag = "1" if self.autoreport else "0"
        for cap in ("SERIAL_XON_XOFF:0", "EEPROM:1", f"AUTOREPORT_TEMP:{flag}", "PROGRESS:0", "PRINT_JOB:1",
                    f"AUTOREPORT_SD_STATUS:{flag}", "SDCARD:1", "HOST_ACTION_COMMANDS:0", "EMERGENCY_PARSER:0"):
            self.emit(f"Cap:{cap}")

    def _M105(self, words, rest):
        self.emit("ok " + self._temperature_line())
        return False

    def _set_target(self, heater, words, wait):
        self.temps[heater][1] = words.get("S", words.get("R", self.temps[heater][1]))
        if wait and self.temps[heater][1] > self.temps[heater][0]:
            self._heating = heater
            return False
        return None

    def _M104(self, words, rest):
        return self._set_target("T", words, wait=False)

    def _M109(self, words, rest):
        return self._set_target("T", words, wait=True)

    def _M140(self, words, rest):
        return self._set_target("B", words, wait=False)

    def _M190(self, words, rest):
        return self._set_target("B", words, wait=True)

    def _M155(self, words, rest):
        self.temp_every = words.get("S", 0.0)
        self._next_temp = time.monotonic() + self.temp_every

    def _M27(self, words, rest):
        if "S" in words:
            self.sd_every = words["S"]
            self._next_sd = time.monotonic() + self.sd_every
        else:
            self.emit(self._sd_line())

    def _M20(self, words, rest):
        self.emit("Begin file list")
        for name, size in self.files.items():
            self.emit(f"{name.upper()} {size}")
        self.emit("End file list")

    def _M23(self, words, rest):
        name = rest.lower()
        if name not in self.files:
            self.emit(f"open failed, File: {rest}.")
            return None
        self.selected, self.sd_pos, self.printing, self.paused = name, 0.0, False, False
        self.emit(f"File opened: {name} Size: {self.files[name]}")
        self.emit("File selected")

    def _M24(self, words, rest):
        if self.selected is not None:
            if not self.paused:
                self._file_heats(True)
            self.printing, self.paused = True, False

    def _M25(self, words, rest):
        if self.printing:
            self.paused = True

    def _M524(self, words, rest):
        if self.printing or self.paused:
            self.printing = self.paused = False
            self.selected, self.sd_pos = None, 0.0
            self._file_heats(False)

    def _G28(self, words, rest):
        self._busy_until = time.monotonic() + self.home_seconds
        self._next_busy = time.monotonic()
        return False

    def _M114(self, words, rest):
        self.emit("X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0")

    def _M112(self, words, rest):
        self.kill()
        return False

    def _noop(self, words, rest):
        return None

    _G0 = _G1 = _G90 = _G91 = _G92 = _M84 = _M106 = _M107 = _M999 = _noop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="marlin_sim", description="A simulated Marlin printer on a pty.")
    parser.add_argument("--link", required=True, help="symlink path to create for the pty (the bridge's --serial)")
    parser.add_argument("--garbage-every", type=int, default=0, help="send a junk line after every N lines")
    parser.add_argument("--truncate-every", type=int, default=0, help="cut every N-th report line short")
    parser.add_argument("--print-seconds", type=float, default=300.0, help="how long the fake SD print takes")
    parser.add_argument("--print-temps", type=_temperatures, default=None, metavar="HOTEND/BED",
                        help="targets a print sets when it starts (e.g. 215/60); heaters off when it ends")
    parser.add_argument("--no-autoreport", action="store_true", help="advertise no AUTOREPORT capabilities")
    parser.add_argument("--sd-file", action="append", default=[], metavar="NAME",
                        help="another file on the SD card besides benchy.gco (repeatable)")
    args = parser.parse_args(argv)
    files = {"benchy.gco": 5678, **{name: 4096 for name in args.sd_file}}
    run_until_signalled(MarlinSimulator(args.link, garbage_every=args.garbage_every,
                                        truncate_every=args.truncate_every, print_seconds=args.print_seconds,
                                        print_temps=args.print_temps, autoreport=not args.no_autoreport,
                                        files=files))


def _temperatures(value: str) -> tuple[float, float]:
    try:
        hotend, bed = (float(part) for part in value.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give HOTEND/BED in °C, e.g. 215/60") from None
    return hotend, bed


if __name__ == "__main__":
    main()
