"""Telemetry ingest throughput: one `IngestWorker` persisting beside a bare `mosquitto_sub`, same publisher, one run.

`python -m benchmarks.ingest_bench [--messages N] [--rate R] [--out docs/benchmarks.md]`. A throwaway Mosquitto
with the factory's own config, password file and ACL (20 registered machines, each publishing with its own
account); a publisher in a separate process sends N telemetry messages (QoS 1, `ts` now, increasing `seq`) as
fast as the broker takes them. The consumers take turns on `mf/#`, each round on a fresh broker:
a bare `mosquitto_sub -q 1`, a `drivers.mqtt.MqttClient` (paho) that only acknowledges, the
`drivers.mqtt_subscriber.BulkSubscriber` the worker uses, acknowledging each batch at once (the worker's MQTT
side alone), and one `IngestWorker` storing into a fresh copy of the database. Then a paced run at R messages/s
checks that nothing is lost at the target rate. SQLite always, PostgreSQL when a throwaway cluster can be started here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.ingest_common import MESSAGES, PACED_S, REPEATS, TARGET_RATE, _say
from benchmarks.ingest_fleet import Fleet, Machine, PostgresDatabases, SqliteDatabases
from benchmarks.ingest_publisher import payload
from benchmarks.ingest_report import render, write_section
from benchmarks.ingest_rounds import (
    CONSUMERS,
    BareSubscriber,
    BulkConsumer,
    ClientSubscriber,
    IngestConsumer,
    Result,
    Round,
    run_round,
)
from drivers.messages import Channel, decode, format_ts
from tests.support.mosquitto import mosquitto_available
from tests.support.postgres import postgres_available

# --- the whole run -------------------------------------------------------------------------------------------

def check_payloads(fleet: Fleet) -> None:
    """The publisher's payloads are what the ingest accepts (else the benchmark would measure drops)."""
    for machine in fleet.machines:
        message = decode(Channel.TELEMETRY, payload(machine, 7, format_ts(datetime.now(UTC))))
        if message.machine != machine.id or not message.metrics:
            raise RuntimeError(f"the benchmark's payload for {machine.id} does not decode as intended")


def _consumer(name: str, databases, workdir: Path, number: int):
    if name == "mosquitto_sub":
        return BareSubscriber(databases.fleet, workdir, number)
    if name == "MqttClient":
        return ClientSubscriber(databases.fleet, number)
    if name == "BulkSubscriber":
        return BulkConsumer(databases.fleet, number)
    return IngestConsumer(databases, number)


def _line(databases, label: str, run: Round) -> str:
    extra = f", dropped {run.dropped}" if run.dropped else ""
    return (f"{databases.name} {label} {run.consumer}: {run.received:,}/{run.published:,} in "
            f"{run.last_arrival - run.first_publish:.2f} s = {run.rate:,.0f}/s (published at "
            f"{run.publish_rate:,.0f}/s, drain {run.drain_s:.2f} s){extra}")


def measure(databases, count: int, rate: float, repeats: int, paced_s: float, workdir: Path) -> Result:
    fleet = databases.fleet
    check_payloads(fleet)
    flat, number = [], 0
    for n in range(1, repeats + 1):
        rounds = {}
        for name in CONSUMERS:
            number += 1
            rounds[name] = run_round(fleet, _consumer(name, databases, workdir, number), count, None)
            _say(_line(databases, f"#{n}", rounds[name]))
        flat.append(rounds)
    paced = {}
    if paced_s > 0:
        for name in ("mosquitto_sub", "ingest"):
            number += 1
            paced[name] = run_round(fleet, _consumer(name, databases, workdir, number), int(rate * paced_s), rate)
            _say(_line(databases, f"paced {rate:,.0f}/s", paced[name]) + f", max lag {paced[name].max_lag_s:.2f} s")
    return Result(databases.name, databases.version(), flat, paced)


def calibration() -> str:
    """How fast Python runs here: one payload through json.loads and through the full decode, median µs."""
    machine = Machine("north", "fdm-00", "fdm_printer", "x")
    raw = payload(machine, 7, format_ts(datetime.now(UTC)))
    figures = []
    for action in (lambda: json.loads(raw), lambda: decode(Channel.TELEMETRY, raw)):
        timings = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(2000):
                action()
            timings.append((time.perf_counter() - started) / 2000 * 1e6)
        figures.append(statistics.median(timings))
    return f"`json.loads` {figures[0]:.1f} µs, `drivers.messages.decode` {figures[1]:.1f} µs per payload"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="replace the telemetry ingest section of this Markdown file")
    parser.add_argument("--messages", type=int, default=MESSAGES, help=f"per round (default {MESSAGES:,})")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="messages/s of the paced run (default 10,000)")
    parser.add_argument("--paced-seconds", type=float, default=PACED_S,
                        help=f"length of the paced run (default {PACED_S}); 0 skips it")
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"rounds per consumer (default {REPEATS})")
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # MqttClient warns at each connect that its max_inflight (2000, for its outgoing publishes) exceeds the
    # broker's Receive Maximum (100); no subscriber here publishes, so it says nothing about this run.
    logging.getLogger("drivers.mqtt").setLevel(logging.ERROR)
    missing = mosquitto_available() or (None if shutil.which("mosquitto_sub") else "no mosquitto_sub")
    if missing:
        sys.exit(f"ingest_bench: MOSQUITTO NOT AVAILABLE ({missing}); nothing measured")
    started, load_before, speed = time.perf_counter(), os.getloadavg()[0], calibration()
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="mf-ingest-bench-") as tmp:
        for name in (name.strip() for name in args.databases.split(",") if name.strip()):
            if name == "postgres" and (reason := postgres_available()):
                skipped.append(f"PostgreSQL ({reason})")
                _say(f"PostgreSQL skipped: {reason}")
                continue
            databases = SqliteDatabases(Path(tmp)) if name == "sqlite" else PostgresDatabases()
            try:
                results.append(measure(databases, args.messages, args.rate, args.repeats, args.paced_seconds,
                                       Path(tmp)))
            finally:
                databases.close()
    defaults = {"--messages": MESSAGES, "--rate": float(TARGET_RATE), "--paced-seconds": float(PACED_S),
                "--repeats": REPEATS, "--databases": "sqlite,postgres"}
    given = {"--messages": args.messages, "--rate": args.rate, "--paced-seconds": args.paced_seconds,
             "--repeats": args.repeats, "--databases": args.databases}
    command = "python -m benchmarks.ingest_bench" + "".join(
        f" {flag} {value:g}" if isinstance(value, float) else f" {flag} {value}"
        for flag, value in given.items() if value != defaults[flag])
    report = render(results, args.rate, command, (time.perf_counter() - started) / 60, skipped, speed,
                    (load_before, os.getloadavg()[0]))
    print(report)
    if args.out:
        write_section(args.out, report)


if __name__ == "__main__":
    main()
