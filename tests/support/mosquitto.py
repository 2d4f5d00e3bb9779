"""Throwaway Mosquitto 2.0 brokers for tests and benchmarks (recipe: ../shared/TESTING.md).

A broker lives in its own directory (config, password file, ACL, persistence, log), listens on a free
port of 127.0.0.1 only, refuses anonymous clients and persists sessions, so a test can stop, restart (on
the same port, keeping queued messages) or kill it. The config comes from `factory.broker.config`, the
same text the factory runs in production. As root, mosquitto drops to the `mosquitto` user, so the
directory is handed to that user.

Fixtures (in tests/conftest.py) are built on `require_mosquitto()` and `BrokerFactory`; `Inbox` is a
subscriber handler a test can wait on.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from drivers.broker_url import BrokerAddress
from drivers.mqtt import MqttClient
from factory.broker import runner
from factory.broker.config import BrokerLimits, mosquitto_conf
from factory.broker.passwords import hash_password

MOSQUITTO_MISSING = "MOSQUITTO NOT INSTALLED"
HOST = "127.0.0.1"
TEST_LIMITS = BrokerLimits(max_inflight_messages=100, max_queued_messages=1_000_000, autosave_interval_s=1800)


def mosquitto_binary() -> Path | None:
    try:
        return Path(runner.mosquitto_binary())
    except FileNotFoundError:
        return None


def mosquitto_available() -> str | None:
    """None when a broker can be started here, else why not."""
    if mosquitto_binary() is None:
        return "no mosquitto binary (apt-get install -y mosquitto mosquitto-clients)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("mosquitto")
        except KeyError:
            return "running as root, but there is no `mosquitto` system user for the broker to drop to"
    return None


def require_mosquitto() -> None:
    """Skip the calling test loudly when Mosquitto is missing; fail it instead when CI=true."""
    import pytest

    reason = mosquitto_available()
    if reason is None:
        return
    message = f"{MOSQUITTO_MISSING} ({reason}); these tests did NOT run"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}. CI=true: Mosquitto is required.", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def reachable_temp_dir(prefix: str) -> Path:
    """A fresh folder the `mosquitto` user can pass through (pytest's tmp_path base is 0700 root)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o711)
    return directory


def login_works(address: BrokerAddress, timeout: float = 10.0) -> bool:
    """Whether the broker lets this user in with this password (True) or refuses the login (False)."""
    client = MqttClient(address, f"{address.username}-login-check")
    with client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client.connected.is_set():
                return True
            if client.last_connect_refusal is not None:
                return False
            time.sleep(0.02)
    raise AssertionError(f"{address.username} was neither let in nor refused within {timeout} s")


def passwd_for(users: dict[str, str]) -> str:
    """A password file for {user: plain password}."""
    return "".join(f"{user}:{hash_password(password)}\n" for user, password in users.items())


class MosquittoBroker:
    """One broker process; `start`, `stop` and `restart` keep the directory and port, `cleanup` removes them."""

    def __init__(self, passwd: str, acl: str, *, directory: Path | None = None,
                 limits: BrokerLimits = TEST_LIMITS, tls_files: tuple[Path, Path] | None = None) -> None:
        """`tls_files` (a self-signed certificate for 127.0.0.1, its key) make the listener mqtts://."""
        self.passwd, self.acl, self.limits, self.tls_files = passwd, acl, limits, tls_files
        self._own_directory = directory is None
        self.directory = directory
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        assert self.directory is not None, "broker not started"
        return self.directory / "mosquitto.log"

    def address(self, username: str, password: str) -> BrokerAddress:
        assert self.port is not None, "broker not started"
        if self.tls_files is not None:
            return BrokerAddress(HOST, self.port, username, password, tls=True, ca_file=str(self.tls_files[0]))
        return BrokerAddress(HOST, self.port, username, password)

    def url(self, username: str, password: str) -> str:
        return self.address(username, password).url(with_password=True)

    def start(self, timeout: float = 15.0) -> MosquittoBroker:
        if self.process is not None:
            raise RuntimeError("broker already running")
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError(MOSQUITTO_MISSING)
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="mf-mosquitto-"))
        self.port = self.port or free_port()  # a restart keeps the port, so clients find it again
        self._write_files()
        with open(self.directory / "stderr", "ab") as stderr:
            self.process = subprocess.Popen([str(binary), "-c", str(self.directory / "mosquitto.conf")],
                                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            self._wait_for_port(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait: mosquitto saves its persistence file before it exits."""
        self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL: a crash; whatever was not yet saved to persistence is lost."""
        self._signal_and_wait(signal.SIGKILL, 15.0)

    def save(self, timeout: float = 10.0) -> None:
        """SIGUSR1: write the persistence file now, as the autosave of a broker up for a while would have."""
        assert self.process is not None and self.directory is not None, "broker not running"
        saved = self.directory / "data" / "mosquitto.db"
        before = saved.stat().st_mtime_ns if saved.exists() else None
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not saved.exists() or saved.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not write {saved} within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.02)

    def freeze(self) -> None:
        """SIGSTOP: the broker hangs (reads, acknowledges and forwards nothing) until `thaw()` or `kill()`."""
        assert self.process is not None, "broker not running"
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None, "broker not running"
        self.process.send_signal(signal.SIGCONT)

    def restart(self) -> MosquittoBroker:
        self.stop()
        return self.start()

    def reload(self, *, passwd: str | None = None, acl: str | None = None) -> None:
        """Rewrite the password and ACL files and send SIGHUP, as after rotating a machine's password."""
        self.passwd = self.passwd if passwd is None else passwd
        self.acl = self.acl if acl is None else acl
        self._write_files()
        if self.process is not None:
            self.process.send_signal(signal.SIGHUP)

    def cleanup(self) -> None:
        """Stop (if running) and remove the directory when this helper made it; safe to call twice."""
        try:
            self.stop()
        finally:
            if self._own_directory and self.directory is not None:
                shutil.rmtree(self.directory, ignore_errors=True)
                self.directory = None

    def log_tail(self, lines: int = 30) -> str:
        chunks = []
        for path in (self.log_file, self.log_file.with_name("stderr")):
            with contextlib.suppress(OSError):
                chunks += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(chunks) or "(no broker log)"

    def _write_files(self) -> None:
        assert self.directory is not None and self.port is not None
        data = self.directory / "data"
        data.mkdir(exist_ok=True)
        files = {"passwd": self.passwd, "acl": self.acl,
                 "mosquitto.conf": mosquitto_conf(BrokerAddress(HOST, self.port, tls=self.tls_files is not None),
                                                  data_dir=data, password_file=self.directory / "passwd",
                                                  acl_file=self.directory / "acl", limits=self.limits,
                                                  log_file=self.log_file, tls_files=self.tls_files)}
        for name, text in files.items():
            path = self.directory / name
            path.write_text(text)
            path.chmod(0o600)
        if os.geteuid() == 0:
            for path in (self.directory, data, *self.directory.iterdir(), *data.iterdir()):
                shutil.chown(path, "mosquitto", "mosquitto")

    def _wait_for_port(self, timeout: float) -> None:
        assert self.process is not None and self.port is not None
        try:
            runner.wait_for_listener(HOST, self.port, timeout_s=timeout, process=self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"mosquitto {exc}:\n{self.log_tail()}") from None

    def _signal_and_wait(self, signum: signal.Signals, timeout: float) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.cleanup()


class BrokerFactory:
    """Makes brokers for one test and cleans them all up.

    Each broker gets its own directory from `tempfile.mkdtemp` rather than under pytest's `tmp_path`:
    as root, the broker runs as the `mosquitto` user, who cannot enter pytest's 0700 base directory.
    """

    def __init__(self) -> None:
        self.brokers: list[MosquittoBroker] = []

    def __call__(self, users: dict[str, str], acl: str, *, limits: BrokerLimits = TEST_LIMITS,
                 start: bool = True, tls_files: tuple[Path, Path] | None = None) -> MosquittoBroker:
        """A broker for {user: password} and the ACL text, started unless `start=False`."""
        broker = MosquittoBroker(passwd_for(users), acl, limits=limits, tls_files=tls_files)
        self.brokers.append(broker)
        return broker.start() if start else broker

    def cleanup(self) -> None:
        for broker in self.brokers:
            broker.cleanup()


class Inbox:
    """A subscriber handler that keeps what arrives, so a test can wait for it (thread-safe)."""

    def __init__(self) -> None:
        self.messages: list = []
        self._condition = threading.Condition()

    def __call__(self, message) -> None:
        with self._condition:
            self.messages.append(message)
            self._condition.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until `predicate(messages)` is true; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: predicate(self.messages), timeout)

    def wait_for_payload(self, payload: bytes, timeout: float = 10.0) -> bool:
        return self.wait_for(lambda messages: any(m.payload == payload for m in messages), timeout)

    @property
    def payloads(self) -> list[bytes]:
        with self._condition:
            return [m.payload for m in self.messages]

    @property
    def topics(self) -> set[str]:
        with self._condition:
            return {m.topic for m in self.messages}
