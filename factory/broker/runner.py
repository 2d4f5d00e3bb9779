"""Write the broker's files into a directory and run Mosquitto in the foreground (`factory broker`).

Files are replaced atomically (a temporary file renamed over the old one), readable only by their owner
(0600) and, when run as root, owned by the `mosquitto` user the broker drops to. Rewriting them while the
broker runs is safe; send it SIGHUP (`reload_mosquitto`) to re-read the password and ACL files after a
machine's password is rotated.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from drivers.broker_url import BrokerAddress
from factory.broker.config import (
    SERVICE_USERNAME,
    BrokerLimits,
    MachineAccount,
    acl_text,
    mosquitto_conf,
    passwd_text,
)

logger = logging.getLogger(__name__)

BROKER_USER = "mosquitto"
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


@dataclass(frozen=True)
class BrokerFiles:
    """Where one broker's files are (`config` is what `mosquitto -c` takes), and whether the last write
    changed any of them (then a running broker needs SIGHUP)."""

    directory: Path
    changed: bool = False

    @property
    def config(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.directory / "passwd"

    @property
    def acl(self) -> Path:
        return self.directory / "acl"

    @property
    def data(self) -> Path:
        return self.directory / "data"


def write_broker_files(directory: Path, accounts: Iterable[MachineAccount], service_hash: str,
                       address: BrokerAddress, *, limits: BrokerLimits | None = None,
                       log_file: Path | None = None, tls_files: tuple[Path, Path] | None = None,
                       service_username: str = SERVICE_USERNAME) -> BrokerFiles:
    """Write mosquitto.conf, passwd and acl for these machine accounts and the service account's hash.

    All text is built (and checked) before anything is written, so a bad account leaves the old files;
    files whose text is unchanged are left alone.
    """
    files = BrokerFiles(Path(directory).resolve())
    accounts = list(accounts)
    texts = {
        files.passwd: passwd_text(accounts, service_hash, service_username=service_username),
        files.acl: acl_text(accounts, service_username=service_username),
        files.config: mosquitto_conf(address, data_dir=files.data, password_file=files.passwd, acl_file=files.acl,
                                     limits=limits, log_file=log_file, tls_files=tls_files),
    }
    owner = _broker_owner()
    files.directory.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        _check_reachable(files.directory.parent, owner)
    files.data.mkdir(mode=0o700, exist_ok=True)
    for path in (files.directory, files.data):
        _own(path, owner)
    changed = False
    for path, text in texts.items():
        if _read(path) != text:
            _write_private(path, text, owner)
            changed = True
    return BrokerFiles(files.directory, changed)


def run_mosquitto(config_path: Path, *, binary: str | None = None, refresh: Callable[[], bool] | None = None,
                  refresh_every_s: float = 5.0) -> int:
    """Run `mosquitto -c config_path` in the foreground until it exits; returns its exit code.

    SIGTERM, SIGINT, SIGHUP (reload passwords and ACL) and SIGUSR1/2 sent to this process go to the
    broker (when called from the main thread); the previous handlers are restored afterwards. Every
    `refresh_every_s`, `refresh()` runs (e.g. rewrite the files from the database and return
    `write_broker_files(...).changed`); when it returns True the broker gets SIGHUP. An exception in it
    is logged and the broker keeps its files.
    """
    program = binary or mosquitto_binary()
    process = subprocess.Popen([program, "-c", str(config_path)], stdin=subprocess.DEVNULL)

    def forward(signum: int, _frame: object) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED_SIGNALS} if in_main_thread else {}
    try:
        while True:
            try:
                return process.wait(refresh_every_s if refresh else None)
            except subprocess.TimeoutExpired:
                _refresh(refresh, process)
            except KeyboardInterrupt:  # SIGINT reached us before the handler was installed
                forward(signal.SIGINT, None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _refresh(refresh: Callable[[], bool] | None, process: subprocess.Popen[bytes]) -> None:
    try:
        changed = refresh() if refresh is not None else False
    except Exception:
        logger.exception("refreshing the broker's files failed; the broker keeps the previous ones")
        return
    if changed and process.poll() is None:
        logger.info("broker files changed: asking mosquitto to reload passwords and ACL")
        process.send_signal(signal.SIGHUP)


def accepts_connections(host: str, port: int) -> bool:
    """Whether something listens on host:port now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_listener(host: str, port: int, *, timeout_s: float = 15.0,
                      process: subprocess.Popen | None = None) -> None:
    """Return once host:port accepts connections; RuntimeError when `process` exits first or on timeout."""
    deadline = time.monotonic() + timeout_s
    while not accepts_connections(host, port):
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode} before listening on {host}:{port}")
        if time.monotonic() >= deadline:
            raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s:g} s")
        time.sleep(0.05)


def reload_mosquitto(pid: int) -> None:
    """Ask a running broker to re-read its password and ACL files."""
    os.kill(pid, signal.SIGHUP)


def mosquitto_binary() -> str:
    """The mosquitto executable: on PATH, else Debian's /usr/sbin/mosquitto; FileNotFoundError if neither."""
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if found is None:
        raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
    return found


def _broker_owner() -> tuple[int, int] | None:
    """(uid, gid) of the `mosquitto` user when we are root (the broker drops to it), else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(BROKER_USER)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def folder_closed_to_broker(directory: Path) -> Path | None:
    """The first existing folder on the way to `directory` that the broker could not enter once it has
    dropped to the `mosquitto` user; None when there is none, or when it does not drop (not run as root)."""
    owner = _broker_owner()
    return None if owner is None else _closed_folder(Path(directory).resolve(), owner)


def _closed_folder(directory: Path, owner: tuple[int, int]) -> Path | None:
    for folder in (directory, *directory.parents):
        try:
            info = folder.stat()
        except FileNotFoundError:
            continue  # made later, by us, enterable by all
        if info.st_uid == owner[0]:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == owner[1]:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return folder
    return None


def _check_reachable(directory: Path, owner: tuple[int, int]) -> None:
    """The broker, once it has dropped to `owner`, must be able to walk down to its files."""
    folder = _closed_folder(directory, owner)
    if folder is not None:
        mode = stat.filemode(folder.stat().st_mode)
        raise PermissionError(f"user {BROKER_USER} cannot enter {folder} (mode {mode}); "
                              f"put the broker directory elsewhere or allow {BROKER_USER} to pass through")


def _own(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.chown(path, *owner)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _write_private(path: Path, text: str, owner: tuple[int, int] | None) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o600)
        _own(Path(temporary), owner)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
