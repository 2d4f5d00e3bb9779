"""`firmware-bridge`: its command line (DESIGN.md 4.2)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from drivers.broker_url import parse_broker_url
from drivers.grbl import GrblDriver
from drivers.marlin import MarlinDriver
from drivers.messages import ID_PATTERN, last_will
from drivers.mqtt import ClientOptions, MqttClient
from firmware_bridge.bridge import Bridge, BridgeConfig
from firmware_bridge.spool import DEFAULT_LIMIT, Spool

BROKER_ENV = "FIRMWARE_BRIDGE_BROKER"


def parser(environ: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The bridge's arguments; --broker may come from $FIRMWARE_BRIDGE_BROKER instead, keeping the
    password out of the process list (`ps` shows every argument to every user)."""
    from_env = (os.environ if environ is None else environ).get(BROKER_ENV)
    p = argparse.ArgumentParser(prog="firmware-bridge",
                                description="Bridge a machine's firmware serial port to the commune's MQTT broker.")
    p.add_argument("--serial", required=True, help="device path or pyserial URL (loop://, socket://HOST:PORT)")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--protocol", required=True, choices=["marlin", "grbl"])
    p.add_argument("--site", required=True, type=_identifier)
    p.add_argument("--machine", required=True, type=_identifier)
    p.add_argument("--broker", required=not from_env, default=from_env, type=_broker,
                   help=f"mqtt://USER:PASS@HOST:PORT or mqtts://... (default ${BROKER_ENV})")
    p.add_argument("--spool", default=None, type=Path,
                   help="directory for messages kept while the broker is away (default ~/.cache/firmware-bridge/ID)")
    p.add_argument("--spool-limit", type=int, default=DEFAULT_LIMIT, help="most messages the spool keeps")
    p.add_argument("--interval", type=_interval, default=2.0, help="seconds between status polls")
    p.add_argument("--verbose", action="store_true")
    return p


def _identifier(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r}: use 1 to 64 lower-case letters, digits or '-'")
    return value


def _broker(value: str):
    try:
        return parse_broker_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value.split('@')[-1]!r}: {exc}") from None


def _interval(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0.1 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{value!r}: give seconds between 0.1 and 3600")
    return seconds


def make_driver(protocol: str, interval_s: float):
    """A factory of fresh drivers (one per opening of the port); Marlin auto-reports at the poll interval."""
    if protocol == "marlin":
        return lambda: MarlinDriver(interval=interval_s)
    return GrblDriver


def build(args: argparse.Namespace) -> Bridge:
    """The bridge for parsed arguments: client with a retained `offline` will, spool, driver factory."""
    spool_dir = args.spool or Path(os.path.expanduser("~/.cache/firmware-bridge")) / args.machine
    client = MqttClient(args.broker, f"bridge-{args.site}-{args.machine}",
                        will=last_will(args.site, args.machine, "bridge connection lost"), options=ClientOptions())
    config = BridgeConfig(args.serial, args.site, args.machine, args.baud, args.interval)
    return Bridge(config, make_driver(args.protocol, args.interval), client, Spool(spool_dir, limit=args.spool_limit))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bridge = build(args)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: bridge.stop())
    logging.getLogger("firmware_bridge").info("bridging %s (%s) to %s as %s/%s", args.serial, args.protocol,
                                              args.broker.url(), args.site, args.machine)
    bridge.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
