"""How fast the machines API and overview answer as the registry grows, beside a raw-SQL floor.

`python -m benchmarks.registry --out docs/benchmarks.md`. Each figure is the median of repeated
requests through the real app (SQLite file, real migrations, token auth) in one process; the
baseline is the same rows read with one plain SQL query and serialised with json.dumps, which is
what any implementation must at least pay. The ratio is the price of the ORM, auth and Flask.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from factory import db as database
from factory.app import create_app
from factory.domain.capabilities import Capabilities
from factory.seed import seed_demo_commune
from factory.services.machines import MachineDraft, create_machine
from factory.services.tokens import create_token
from factory.settings import Settings

SIZES = (13, 200, 1000)
REPEATS = 40


def _grow(session, total: int) -> None:
    caps = Capabilities(250, 210, 220, ("pla", "petg"), 290)
    for n in range(total - 13):
        create_machine(session, MachineDraft(f"bench-printer-{n}", f"Bench printer {n}", "fdm_printer",
                                             "leipzig" if n % 2 else "montreal", caps, "Bench", True,
                                             Decimal("1200.00")), by="bench")


def _median_ms(action) -> float:
    action()  # warm caches
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(size: int, workdir: Path) -> dict:
    path = workdir / f"bench-{size}.db"
    url = f"sqlite:///{path}"
    database.upgrade(url)
    sessions = database.make_sessionmaker(database.make_engine(url))
    with sessions() as session:
        seed_demo_commune(session)
        _grow(session, size)
        _, token = create_token(session, "steward", "bench")
    app = create_app(Settings(url, "b" * 32, "mqtt://127.0.0.1:1883", workdir))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def api():
        response = client.get("/api/v1/machines", headers=headers)
        assert response.status_code == 200 and response.json["count"] == size

    def floor():
        with sqlite3.connect(path) as conn:
            rows = conn.execute("SELECT m.*, s.slug, s.name, s.time_zone FROM machine m JOIN site s "
                                "ON s.id = m.site_id ORDER BY s.name, m.name").fetchall()
        json.dumps([list(map(str, row)) for row in rows])

    app.config["WTF_CSRF_ENABLED"] = False  # the benchmark logs in without scraping a form token
    client.post("/login", data={"login": "steward", "password": "steward-demo"})

    def page():
        assert client.get("/").status_code == 200

    result = {"size": size, "api_ms": _median_ms(api), "floor_ms": _median_ms(floor), "page_ms": _median_ms(page)}
    app.extensions["factory"]["engine"].dispose()
    return result


def report(results: list[dict], command: str) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    lines = [
        "# Benchmarks", "",
        f"Command: `{command}`  ",
        f"Machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        "## Machines registry (issue 2)", "",
        "Median of 40 requests through the real app (SQLite file, token auth) beside the floor: the same rows "
        "read with one raw SQL query and `json.dumps`. The ratio is what the ORM, auth and Flask cost.", "",
        "| machines | GET /api/v1/machines (ms) | raw SQL floor (ms) | ratio | overview page (ms) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['size']} | {r['api_ms']:.2f} | {r['floor_ms']:.2f} | {r['api_ms'] / r['floor_ms']:.1f}× "
                     f"| {r['page_ms']:.2f} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the Markdown report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(size, Path(tmp)) for size in SIZES]
    text = report(results, "make bench")
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
