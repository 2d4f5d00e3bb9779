"""`factory demo-machines` for real: broker, ingest, simulators and bridges as processes on the demo commune.

The only thing watched is the database, as the web app would see it: the demo machines' rows fill with
what their simulators report, through bridges, Mosquitto and the ingest.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from factory.broker.runner import folder_closed_to_broker
from factory.demo import DEMO_MACHINES, broker_directory
from factory.models import Machine
from factory.seed import seed_demo_commune
from tests.support.commands import factory_env
from tests.support.mosquitto import free_port, reachable_temp_dir, require_mosquitto

pytestmark = pytest.mark.timeout(60)

DEADLINE_S = 25.0
PRINTER, MILL, KILN = (machine.machine_id for machine in DEMO_MACHINES)
STARTED = re.compile(r"started (\S+) \(pid (\d+)\)")


@pytest.fixture
def demo(sqlite_url, sqlite_sessions):
    """The supervisor on the seeded demo commune, a fresh instance folder and a free port; stopped after."""
    require_mosquitto()
    with sqlite_sessions() as session:
        seed_demo_commune(session)
    home = reachable_temp_dir("mf-demo-")
    log = home / "demo-machines.log"
    env = factory_env(sqlite_url, home / "instance", f"mqtt://127.0.0.1:{free_port()}")
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "factory", "demo-machines", "--rest", "0"], env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    yield process, log, sqlite_sessions
    if process.poll() is None:
        process.kill()
        process.wait()
    subprocess.run(["rm", "-rf", str(home)], check=False)


def machines_when(sessions, ready: Callable[[dict[str, Machine]], bool], log, timeout: float = DEADLINE_S):
    """The demo machines' rows once `ready(rows)` holds; fails with the supervisor's log after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        with sessions() as session:
            rows = _demo_rows(session)
        if ready(rows):
            return rows
        if time.monotonic() > deadline:
            seen = {m.id: (m.state, m.last_seen, m.metrics) for m in rows.values()}
            raise AssertionError(f"demo machines not ready within {timeout} s: {seen}\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def _demo_rows(session: Session) -> dict[str, Machine]:
    return {machine_id: session.get(Machine, machine_id) for machine_id in (PRINTER, MILL, KILN)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def reporting(rows: dict[str, Machine]) -> bool:
    printer, mill, kiln = rows[PRINTER], rows[MILL], rows[KILN]
    return (printer.last_seen is not None and printer.metrics.get("hotend_c", 0) > 100  # heating for its print
            and printer.state == "running" and kiln.state == "running" and "chamber_c" in kiln.metrics
            and "spindle_rpm" in mill.metrics and "x_mm" in mill.metrics)


def test_demo_machines_report_through_bridges_broker_and_ingest_then_all_stop(demo):
    process, log, sessions = demo
    machines_when(sessions, reporting, log)
    started = {name: int(pid) for name, pid in STARTED.findall(log.read_text())}
    assert {"broker", "ingest", f"{PRINTER}-bridge", f"{MILL}-bridge", KILN} <= set(started)

    process.send_signal(signal.SIGTERM)
    assert process.wait(20) == 0, log.read_text()[-3000:]
    assert not [name for name, pid in started.items() if _alive(pid)], "children outlived the supervisor"
    # machines stop before the ingest and the broker, so their last words (offline) are stored
    machines_when(sessions, lambda rows: all(m.state == "offline" for m in rows.values()), log, timeout=2)


@pytest.mark.skipif(os.geteuid() != 0, reason="only a broker run as root drops to the mosquitto user")
def test_broker_files_leave_an_instance_folder_the_broker_user_cannot_enter(tmp_path):
    require_mosquitto()
    instance = tmp_path / "instance"  # below pytest's 0700 base folder, as a checkout under /root would be
    assert folder_closed_to_broker(instance / "broker") is not None
    chosen = broker_directory(instance)
    assert folder_closed_to_broker(chosen) is None and instance not in chosen.parents
    assert broker_directory(instance) == chosen  # the same folder every run, so persistence is kept


def _demo_machines_refused(sqlite_url: str, instance_dir: Path, port: int) -> str:
    env = factory_env(sqlite_url, instance_dir, f"mqtt://127.0.0.1:{port}")
    result = subprocess.run([sys.executable, "-m", "factory", "demo-machines"], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    return result.stderr


def test_demo_machines_without_the_demo_commune_say_to_load_it(sqlite_url, tmp_path):
    assert "factory seed-demo" in _demo_machines_refused(sqlite_url, tmp_path / "instance", free_port())


def test_demo_machines_on_a_port_already_taken_say_so_and_start_nothing(sqlite_url, sqlite_sessions, tmp_path):
    with sqlite_sessions() as session:
        seed_demo_commune(session)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        said = _demo_machines_refused(sqlite_url, tmp_path / "instance", taken.getsockname()[1])
    assert "listens on" in said and "FACTORY_MQTT_URL" in said
    assert not (tmp_path / "instance" / "demo").exists()
