from __future__ import annotations

from pathlib import Path

import pytest

from cardshield.config import Settings, load_settings
from cardshield.errors import ConfigError


def test_defaults() -> None:
    s = load_settings(env={})
    assert s.port == 8750
    assert s.effective_database_url == "sqlite:///.cardshield/vault.db"
    assert s.effective_kms_url == "local:.cardshield/kek.key"


def test_toml_then_env_override(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[cardshield]\nport = 9000\nlog_format = "console"\n')
    s = load_settings(env={"CARDSHIELD_CONFIG": str(cfg), "CARDSHIELD_PORT": "9100"})
    assert (s.port, s.log_format) == (9100, "console")
    assert load_settings(cfg, env={}).port == 9000


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(ValueError, match="frozen"):
        s.port = 1  # type: ignore[misc]
    assert isinstance(s, Settings)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"CARDSHIELD_PORT": "http"}, "CARDSHIELD_PORT"),
        ({"CARDSHIELD_PORT": "70000"}, "CARDSHIELD_PORT"),
        ({"CARDSHIELD_LOG_FORMAT": "xml"}, "CARDSHIELD_LOG_FORMAT"),
        ({"CARDSHIELD_DATABSE_URL": "x"}, "unknown setting CARDSHIELD_DATABSE_URL"),
        ({"CARDSHIELD_CONFIG": "/nonexistent/c.toml"}, "config file not found"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    assert needle in info.value.message


def test_bad_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg, env={})
    cfg.write_text("prot = 1\n")
    with pytest.raises(ConfigError, match="CARDSHIELD_PROT"):
        load_settings(cfg, env={})


def test_the_twilio_token_never_shows_in_repr() -> None:
    settings = load_settings(env={"CARDSHIELD_TWILIO_AUTH_TOKEN": "tok-9f8e7d6c"})
    assert settings.twilio_auth_token.get_secret_value() == "tok-9f8e7d6c"
    assert "tok-9f8e7d6c" not in repr(settings) + str(settings)
    assert "tok-9f8e7d6c" not in settings.model_dump_json()
    again = Settings.model_validate(settings.model_dump())  # how the demo rebuilds settings
    assert again.twilio_auth_token.get_secret_value() == "tok-9f8e7d6c"


def test_connector_keys_never_show_in_repr() -> None:
    env = {"CARDSHIELD_CONNECTOR_OPTIONS": '{"secret_key": "sk_test_51abcdef"}'}
    settings = load_settings(env=env)
    assert settings.connector_values() == {"secret_key": "sk_test_51abcdef"}
    assert "sk_test_51abcdef" not in repr(settings) + str(settings)
    assert "sk_test_51abcdef" not in settings.model_dump_json()
    assert "sk_test_51abcdef" not in repr(settings.model_dump())
    assert "sk_test_51abcdef" not in repr(settings.connector_options)


def test_connector_options_keep_numbers_and_switches() -> None:
    env = {"CARDSHIELD_CONNECTOR_OPTIONS": '{"api_key": "12345", "timeout": 20, "live": false}'}
    settings = load_settings(env=env)
    assert settings.connector_values() == {"api_key": "12345", "timeout": 20, "live": False}
    again = Settings.model_validate(settings.model_dump())  # how the demo rebuilds settings
    assert again.connector_values() == settings.connector_values()
