"""Running the `factory` command as a real process in tests: its environment."""

from __future__ import annotations

import os
from pathlib import Path


def factory_env(database_url: str, instance_dir: Path, mqtt_url: str) -> dict[str, str]:
    """What `python -m factory ...` reads, and none of this environment's own FACTORY_* keys."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FACTORY_")}
    return {**env, "FACTORY_DATABASE_URL": database_url, "FACTORY_INSTANCE_DIR": str(instance_dir),
            "FACTORY_MQTT_URL": mqtt_url, "FACTORY_SECRET_KEY": "s" * 32}
