"""`firmware-bridge`: its command line (DESIGN.md 4.2).

The serial <-> MQTT loop arrives with the telemetry issue; until then the command checks its
arguments and says plainly that it cannot bridge yet, rather than pretending to run.
"""

from __future__ import annotations

import argparse
import re
import sys
from urllib.parse import urlsplit

ID = re.compile(r"^[a-z0-9-]{1,64}$")
NOT_YET = 3


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="firmware-bridge",
                                description="Bridge a machine's firmware serial port to the commune's MQTT broker.")
    p.add_argument("--serial", required=True, help="device path or pyserial URL (loop://, socket://HOST:PORT)")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--protocol", required=True, choices=["marlin", "grbl"])
    p.add_argument("--site", required=True, type=_identifier)
    p.add_argument("--machine", required=True, type=_identifier)
    p.add_argument("--broker", required=True, type=_broker, help="mqtt://USER:PASS@HOST:PORT")
    p.add_argument("--spool", default=None, help="directory for messages kept while the broker is away")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between status polls")
    return p


def _identifier(value: str) -> str:
    if not ID.match(value):
        raise argparse.ArgumentTypeError(f"{value!r}: use 1 to 64 lower-case letters, digits or '-'")
    return value


def _broker(value: str) -> str:
    if urlsplit(value).scheme not in ("mqtt", "mqtts") or not urlsplit(value).hostname:
        raise argparse.ArgumentTypeError(f"{value!r}: expected mqtt://USER:PASS@HOST:PORT or mqtts://...")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    print(f"firmware-bridge: {args.protocol} bridging for {args.site}/{args.machine} is not built yet "
          "(see the telemetry issue); nothing was opened.", file=sys.stderr)
    return NOT_YET


if __name__ == "__main__":
    sys.exit(main())
