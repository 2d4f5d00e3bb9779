"""The ingest benchmark's report: targets, limits and tables in docs/benchmarks.md's own section."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from benchmarks.ingest_common import MACHINES, SECTION, TARGET_RATE
from benchmarks.ingest_rounds import CONSUMERS, Result
from factory.ingest.worker import SUBSCRIPTION

# --- the report ----------------------------------------------------------------------------------------------

def machine_line(results: list[Result]) -> str:
    cpuinfo = Path("/proc/cpuinfo")
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")), "?") if cpuinfo.exists() else platform.processor()
    help_text = subprocess.run(["mosquitto_sub", "--help"], capture_output=True, text=True).stdout
    mosquitto = help_text.split("version ", 1)[-1].split(" ", 1)[0] if "version " in help_text else "?"
    return (f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, Mosquitto {mosquitto}, "
            f"paho-mqtt {version('paho-mqtt')}, SQLAlchemy {version('sqlalchemy')}, "
            + ", ".join(r.version for r in results))


def _median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def _verdict(ok: bool) -> str:
    return "**holds**" if ok else "**fails**"


def _rates(result: Result, consumer: str) -> list[float]:
    return [rounds[consumer].rate for rounds in result.flat]


def targets(results: list[Result], rate: float) -> list[str]:
    lines = []
    for r in results:
        ingest, bare = _median(_rates(r, "ingest")), _median(_rates(r, "mosquitto_sub"))
        runs = [rounds["ingest"] for rounds in r.flat]
        lost = sum(run.lost for run in runs)
        lines.append(f"{r.database}: one ingest worker persists {ingest:,.0f} messages/s (median of {len(runs)} "
                     f"rounds), {ingest / bare:.2f}× what a bare mosquitto_sub receives ({bare:,.0f}/s); "
                     f"at least 10,000/s: {_verdict(ingest >= TARGET_RATE)}. Lost {lost:,} of "
                     f"{sum(run.published for run in runs):,}: {_verdict(lost == 0)}.")
        if "ingest" in r.paced:
            p = r.paced["ingest"]
            kept_up = p.publish_rate >= 0.97 * rate and p.drain_s <= 1.0
            lines.append(f"{r.database}, paced at {rate:,.0f}/s for {p.published / rate:.0f} s (published at "
                         f"{p.publish_rate:,.0f}/s): {p.received:,} of {p.published:,} stored, lost {p.lost:,}: "
                         f"{_verdict(p.lost == 0)}; keeping up (last commit within 1 s of the last publish): "
                         f"{p.drain_s:.1f} s, data up to {p.max_lag_s:.1f} s old when committed: "
                         f"{_verdict(kept_up)}.")
    return lines


def limits(results: list[Result]) -> list[str]:
    """The worker's CPU per message split into its MQTT side (BulkSubscriber alone) and the rest (gate, store)."""
    lines = []
    for r in results:
        def cpu(consumer: str, part: str = "consumer", r: Result = r) -> float:
            return _median(rounds[consumer].cpu_us(part) for rounds in r.flat)

        bare, client = _median(_rates(r, "mosquitto_sub")), _median(_rates(r, "MqttClient"))
        bulk = _median(_rates(r, "BulkSubscriber"))
        ingest_cpu = cpu("ingest") + (cpu("ingest", "database") if r.database == "PostgreSQL" else 0.0)
        lines.append(f"{r.database}: BulkSubscriber alone receives {bulk:,.0f}/s ({bulk / bare:.2f}× mosquitto_sub) "
                     f"at {cpu('BulkSubscriber'):,.0f} µs of CPU per message, against {cpu('mosquitto_sub'):,.0f} µs "
                     f"for mosquitto_sub and {cpu('MqttClient'):,.0f} µs for paho's MqttClient ({client:,.0f}/s); the "
                     f"worker spends {ingest_cpu:,.0f} µs per message (with the database server's share), so "
                     f"receiving and acknowledging is {cpu('BulkSubscriber') / ingest_cpu:.0%} of it, validating and "
                     "storing the rest. The worker's two threads share one interpreter lock, so it can use one core "
                     "at most.")
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _n(value: float | None, digits: int = 0) -> str:
    return "–" if value is None or value != value else f"{value:,.{digits}f}"


def _throughput_rows(r: Result, rate: float) -> list[list[str]]:
    rows = []
    for n, rounds in enumerate(r.flat, 1):
        bare, client, bulk, ingest = (rounds[c] for c in CONSUMERS)
        rows.append([r.database, str(n), f"{ingest.published:,}", _n(ingest.publish_rate),
                     _n(bare.rate), _n(client.rate), _n(bulk.rate), _n(ingest.rate), f"{ingest.rate / bare.rate:.2f}",
                     " / ".join(f"{x.lost:,}" for x in (bare, client, bulk, ingest)), f"{ingest.drain_s:.1f}"])
    medians = [_median(_rates(r, c)) for c in CONSUMERS]
    rows.append([f"**{r.database}**", "**median**", "", "", *(f"**{_n(m)}**" for m in medians),
                 f"**{medians[3] / medians[0]:.2f}**", "", ""])
    if r.paced:
        bare, ingest = r.paced.get("mosquitto_sub"), r.paced.get("ingest")
        rows.append([r.database, f"paced {rate:,.0f}/s", f"{ingest.published:,}", _n(ingest.publish_rate),
                     _n(bare.rate), "–", "–", _n(ingest.rate), f"{ingest.rate / bare.rate:.2f}",
                     f"{bare.lost:,} / – / – / {ingest.lost:,}", f"{ingest.drain_s:.1f}"])
    return rows


def _cpu_rows(r: Result) -> list[list[str]]:
    rows = []
    for consumer in CONSUMERS:
        runs = [rounds[consumer] for rounds in r.flat]
        rows.append([r.database, consumer, *(_n(_median(run.cpu_us(part) for run in runs))
                                             for part in ("publisher", "broker", "consumer", "database"))])
    return rows


def render(results: list[Result], rate: float, command: str, minutes: float, skipped: list[str],
           speed: str, load: tuple[float, float]) -> str:
    return "\n".join([
        SECTION, "",
        f"Command: `{command}` ({minutes:.1f} min)  ", f"Machine: {machine_line(results)}  ",
        f"Python speed here: {speed}; load average {load[0]:.2f} before the run, {load[1]:.2f} after  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        f"A throwaway Mosquitto with the factory's config (`BrokerLimits()`), password file and ACL; {MACHINES} "
        "machines registered through the services, each publishing with its own broker account (a minimal MQTT 5 "
        "client per machine, all in one publisher process, QoS 1, `ts` now, increasing `seq`, 2 to 6 metrics, "
        "about 150 bytes, as fast as the broker acknowledges; twenty threaded paho clients in one process cost "
        "about 0.4 ms of CPU per message here, slower than the worker they were to load). Every round gets a fresh "
        "broker and, for the ingest, a fresh copy of the database, and has one consumer alone on "
        f"`{SUBSCRIPTION}`, the consumers taking turns: "
        "*mosquitto_sub*: `mosquitto_sub -q 1 -F '%U %t'`, one line per message into a file; *MqttClient*: "
        "`drivers.mqtt.MqttClient` (paho, one callback a message) with the options the worker used to give it and "
        "a handler that only acknowledges; *BulkSubscriber*: `drivers.mqtt_subscriber.BulkSubscriber` as the "
        "worker configures it, acknowledging each batch as it arrives (what the worker's MQTT side costs before "
        "any work); *ingest*: one `IngestWorker`, validating, storing and acknowledging after each commit. "
        "Rate: messages received (lines printed, messages handled, rows in "
        "`telemetry_sample`) over the time from the first publish to the last line, message or commit. "
        "Ratio: ingest / mosquitto_sub. Lost: published (PUBACK success) minus received, per consumer. Drain: "
        "seconds from the last publish to the ingest's last commit.",
        "", "### Targets", "", *(f"- {line}" for line in targets(results, rate)),
        *(f"- Not measured: {reason}." for reason in skipped), "",
        "### Throughput (messages/s)", "",
        *_table(["database", "round", "messages", "published/s (ingest round)", "mosquitto_sub", "MqttClient",
                 "BulkSubscriber", "ingest", "ratio", "lost sub / client / bulk / ingest", "drain s"],
                [row for r in results for row in _throughput_rows(r, rate)]),
        "", "### What limits the worker", "", *(f"- {line}" for line in limits(results)),
        "", "### Where the CPU goes (µs of CPU per message, median of the rounds)", "",
        "The two cores are shared by the publisher, the broker, the consumer and the database server. *consumer*: "
        "the mosquitto_sub process, or the benchmark process holding a client or the worker (the worker's MQTT "
        "thread and its storing thread; SQLite runs inside it); *database*: the PostgreSQL server processes.", "",
        *_table(["database", "consumer", "publisher", "broker", "consumer", "database"],
                [row for r in results for row in _cpu_rows(r)]), ""])


def write_section(path: Path, section: str, heading: str = SECTION) -> None:
    """Replace a benchmark's section of `path` (from its `heading` up to the next `## `), or append it."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start = old.find(f"\n{heading}")
    if start < 0:
        path.write_text(f"{old.rstrip()}\n\n{section}")
        return
    end = old.find("\n## ", start + 1)
    tail = old[end:] if end >= 0 else ""
    path.write_text(f"{old[:start].rstrip()}\n\n{section.rstrip()}\n{tail}")
