import pytest

from factory.settings import ConfigError, Settings


def test_defaults_to_sqlite_in_the_instance_folder_with_a_kept_secret(tmp_path):
    first = Settings.from_env({"FACTORY_INSTANCE_DIR": str(tmp_path)})
    second = Settings.from_env({"FACTORY_INSTANCE_DIR": str(tmp_path)})
    assert first.database_url == f"sqlite:///{tmp_path / 'factory.db'}"
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("env", "key"), [
    ({"FACTORY_DATABASE_URL": "not a url"}, "FACTORY_DATABASE_URL"),
    ({"FACTORY_MQTT_URL": "http://broker"}, "FACTORY_MQTT_URL"),
    ({"FACTORY_SECRET_KEY": "short"}, "FACTORY_SECRET_KEY"),
    ({"FACTORY_DISPLAY_TIME_ZONE": "Mars/Olympus"}, "FACTORY_DISPLAY_TIME_ZONE"),
])
def test_bad_configuration_is_refused_naming_the_key(tmp_path, env, key):
    with pytest.raises(ConfigError, match=key):
        Settings.from_env({"FACTORY_INSTANCE_DIR": str(tmp_path), **env})


def test_telemetry_retention_defaults_and_can_be_set():
    assert (Settings.from_env({"FACTORY_SECRET_KEY": "k" * 20}).telemetry_raw_hours,
            Settings.from_env({"FACTORY_SECRET_KEY": "k" * 20}).telemetry_keep_days) == (48, 90)
    settings = Settings.from_env({"FACTORY_SECRET_KEY": "k" * 20, "FACTORY_TELEMETRY_RAW_HOURS": "6",
                                  "FACTORY_TELEMETRY_KEEP_DAYS": "30"})
    assert (settings.telemetry_raw_hours, settings.telemetry_keep_days) == (6, 30)


@pytest.mark.parametrize("key, value", [("FACTORY_TELEMETRY_RAW_HOURS", "0"), ("FACTORY_TELEMETRY_RAW_HOURS", "x"),
                                        ("FACTORY_TELEMETRY_KEEP_DAYS", "-3"), ("FACTORY_TELEMETRY_KEEP_DAYS", "1.5")])
def test_malformed_retention_settings_name_the_key(key, value):
    with pytest.raises(ConfigError, match=key):
        Settings.from_env({"FACTORY_SECRET_KEY": "k" * 20, key: value})
