"""Configuration, read once from the environment by each entry point."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the key."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    mqtt_url: str
    instance_dir: Path
    display_time_zone: str = "UTC"
    telemetry_raw_hours: int = 48
    telemetry_keep_days: int = 90
    plan_seconds: float = 5.0  # the solver's time limit per re-plan

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        instance_dir = Path(env.get("FACTORY_INSTANCE_DIR", "instance")).resolve()
        database_url = env.get("FACTORY_DATABASE_URL") or f"sqlite:///{instance_dir / 'factory.db'}"
        try:
            make_url(database_url)
        except ArgumentError as exc:
            raise ConfigError(f"FACTORY_DATABASE_URL is not a database URL: {exc}") from exc
        mqtt_url = env.get("FACTORY_MQTT_URL", "mqtt://127.0.0.1:1883")
        if urlsplit(mqtt_url).scheme not in ("mqtt", "mqtts"):
            raise ConfigError("FACTORY_MQTT_URL must start with mqtt:// or mqtts://")
        tz = env.get("FACTORY_DISPLAY_TIME_ZONE", "UTC")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"FACTORY_DISPLAY_TIME_ZONE {tz!r} is not an IANA time zone") from exc
        secret_key = env.get("FACTORY_SECRET_KEY") or _instance_secret(instance_dir)
        if len(secret_key) < 16:
            raise ConfigError("FACTORY_SECRET_KEY must be at least 16 characters")
        raw_hours = _positive_int(env, "FACTORY_TELEMETRY_RAW_HOURS", 48)
        keep_days = _positive_int(env, "FACTORY_TELEMETRY_KEEP_DAYS", 90)
        if keep_days * 24 < raw_hours:
            raise ConfigError("FACTORY_TELEMETRY_KEEP_DAYS must cover FACTORY_TELEMETRY_RAW_HOURS")
        try:
            plan_seconds = float(env.get("FACTORY_PLAN_SECONDS", "5"))
        except ValueError:
            plan_seconds = 0.0
        if not 0.5 <= plan_seconds <= 300:
            raise ConfigError("FACTORY_PLAN_SECONDS must be a number of seconds from 0.5 to 300")
        return cls(database_url, secret_key, mqtt_url, instance_dir, tz, raw_hours, keep_days, plan_seconds)


def _positive_int(env: Mapping[str, str], key: str, default: int) -> int:
    value = env.get(key)
    if value is None or value == "":
        return default
    if not value.strip().isdigit() or int(value) < 1:
        raise ConfigError(f"{key} must be a whole number of at least 1, not {value!r}")
    return int(value)


def _instance_secret(instance_dir: Path) -> str:
    """A secret kept in the instance folder, made on first use, so sessions survive restarts."""
    path = instance_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
