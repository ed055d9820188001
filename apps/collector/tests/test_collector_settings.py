"""Configuration: precedence of the four sources, and one clear line for every invalid setting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from collector.settings import EXPECTED, Settings, SettingsError, env_name, flag_name, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def error_line(argv: list[str]) -> str:
    """The SettingsError message that loading settings with ``argv`` raises."""
    with pytest.raises(SettingsError) as caught:
        load_settings(argv)
    return str(caught.value)


def test_a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default(monkeypatch, tmp_path):
    """If this fails, operators cannot predict which value wins (flags > env > config file > defaults)."""
    config = tmp_path / "collector.yaml"
    config.write_text("LOG_LEVEL: error\nretention_days: 7\nmax-batch-size: 50\nport: 9001\n")
    monkeypatch.setenv("CONFIG_FILE", str(config))
    monkeypatch.setenv("RETENTION_DAYS", "14")
    monkeypatch.setenv("PORT", "9002")
    settings = load_settings(["--port", "9003"])
    assert settings.port == 9003  # flag over env over file
    assert settings.retention_days == 14  # env over file
    assert settings.log_level == "error"  # file over default
    assert settings.max_batch_size == 50  # file, kebab-case key
    assert settings.drain_seconds == Settings.model_fields["drain_seconds"].default  # default


def test_a_toml_config_file_named_by_flag_is_read(tmp_path):
    """If this fails, TOML config files (or --config-file) are ignored."""
    config = tmp_path / "collector.toml"
    config.write_text('log_level = "debug"\nauth_tokens = ["t1", "t2"]\nredis_url = "redis://cache:6379/0"\n')
    settings = load_settings(["--config-file", str(config)])
    assert settings.log_level == "debug"
    assert settings.auth_tokens == ["t1", "t2"]
    assert settings.redis_url == "redis://cache:6379/0"


def test_defaults_select_sqlite_on_port_8080_without_cache_or_auth():
    """If this fails, `python -m collector` with no configuration no longer just works as documented."""
    settings = load_settings([])
    assert settings.port == 8080 == Settings.model_fields["port"].default
    assert settings.backend == "sqlite"
    assert settings.sqlite_path == "collector.db"
    assert settings.redis_url is None
    assert settings.auth_tokens == []


def test_auth_tokens_are_comma_separated_and_an_empty_value_turns_auth_off(monkeypatch):
    """If this fails, tokens from a Secret are mis-split, or an empty Secret enables auth with no valid token."""
    monkeypatch.setenv("AUTH_TOKENS", " alpha, beta ,,")
    assert load_settings([]).auth_tokens == ["alpha", "beta"]
    monkeypatch.setenv("AUTH_TOKENS", "")
    assert load_settings([]).auth_tokens == []


def test_empty_database_and_redis_urls_mean_unset(monkeypatch):
    """If this fails, an empty optional Secret makes the service refuse to start."""
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("REDIS_URL", "  ")
    settings = load_settings([])
    assert settings.database_url is None and settings.redis_url is None


@pytest.mark.parametrize(
    ("env", "argv", "key", "value_part"),
    [
        ({"DATABASE_URL": "mysql://db/events"}, [], "DATABASE_URL", "mysql://db/events"),
        ({"REDIS_URL": "http://cache"}, [], "REDIS_URL", "http://cache"),
        ({"RETENTION_DAYS": "-1"}, [], "RETENTION_DAYS", "-1"),
        ({"LOG_LEVEL": "chatty"}, [], "LOG_LEVEL", "chatty"),
        ({}, ["--port", "http"], "PORT", "http"),
        ({"PORT": "70000"}, [], "PORT", "70000"),
        ({"MAX_BATCH_SIZE": "0"}, [], "MAX_BATCH_SIZE", "0"),
        ({"DRAIN_SECONDS": "soon"}, [], "DRAIN_SECONDS", "soon"),
        ({"DATABASE_SCHEMA": "events; drop table x"}, [], "DATABASE_SCHEMA", "drop table"),
        ({"DATABASE_URL": "postgresql://db:notaport/x"}, [], "DATABASE_URL", "notaport"),
        ({"SHUTDOWN_DELAY_SECONDS": "30", "DRAIN_SECONDS": "20"}, [], "SHUTDOWN_DELAY_SECONDS", "30"),
    ],
)
def test_an_invalid_setting_is_reported_in_one_line_naming_key_value_and_expectation(
    monkeypatch, env, argv, key, value_part
):
    """If this fails, a misconfigured pod crash-loops with a validation dump instead of a readable cause."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(argv)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"invalid setting {key}=")
    assert value_part in message
    assert "expected" in message


def test_the_origin_of_a_bad_value_is_named(monkeypatch, tmp_path):
    """If this fails, operators cannot tell whether the flag, the environment or the file holds the bad value."""
    monkeypatch.setenv("RETENTION_DAYS", "-3")
    assert "environment variable RETENTION_DAYS" in error_line([])
    assert "--retention-days" in error_line(["--retention-days", "-4"])
    monkeypatch.delenv("RETENTION_DAYS")
    config = tmp_path / "c.yaml"
    config.write_text("retention_days: -5\n")
    message = error_line(["--config-file", str(config)])
    assert "config file" in message and "-5" in message


def test_passwords_in_a_bad_database_url_are_not_echoed(monkeypatch):
    """If this fails, the startup error line leaks the database password into logs."""
    monkeypatch.setenv("DATABASE_URL", "mysql://app:s3cret@db/events")
    message = error_line([])
    assert "s3cret" not in message
    assert "DATABASE_URL" in message


@pytest.mark.parametrize(
    ("content", "name", "expected_part"),
    [
        (None, "missing.yaml", "readable"),
        ("port: 8080\ncolour: blue\n", "c.yaml", "unknown key 'colour'"),
        ("port: [8080\n", "c.yaml", "valid YAML or TOML"),
        ("port = \n", "c.toml", "valid YAML or TOML"),
        ("- port\n- 8080\n", "c.yaml", "mapping"),
        ("config_file: other.yaml\n", "c.yaml", "unknown key"),
    ],
)
def test_a_bad_config_file_is_reported_naming_config_file(monkeypatch, tmp_path, content, name, expected_part):
    """If this fails, a typo or unreadable config file is silently ignored or crashes with a traceback."""
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("CONFIG_FILE", str(path))
    message = error_line([])
    assert message.startswith("invalid setting CONFIG_FILE=")
    assert expected_part in message
    assert "\n" not in message


def _run_collector(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {env_name(f) for f in Settings.model_fields}
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "collector", *args], env=clean, capture_output=True, text=True, timeout=60
    )


def test_the_process_stops_at_start_with_one_line_for_an_invalid_setting():
    """If this fails, `python -m collector` starts with a bad setting, or dies with a traceback."""
    result = _run_collector({"RETENTION_DAYS": "-1"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "RETENTION_DAYS" in lines[0] and "'-1'" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_the_process_rejects_an_unknown_key_in_its_config_file(tmp_path):
    """If this fails, a misspelt key in the config file goes unnoticed in production."""
    config = tmp_path / "c.yaml"
    config.write_text("retention_dayz: 3\n")
    result = _run_collector({}, "--config-file", str(config))
    assert result.returncode == 2
    assert "retention_dayz" in result.stderr and "CONFIG_FILE" in result.stderr


def test_every_setting_has_an_env_var_a_flag_a_description_and_a_readme_row():
    """If this fails, a setting exists that operators cannot discover or set in every documented way."""
    readme = README.read_text()
    parser_help = _run_collector({}, "--help").stdout
    for field, info in Settings.model_fields.items():
        assert info.description, field
        assert field in EXPECTED, field
        assert flag_name(field) in parser_help, field
        assert re.search(rf"`{env_name(field)}`", readme), f"{env_name(field)} missing from README"
