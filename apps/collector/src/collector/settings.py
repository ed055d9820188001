"""Service configuration: one pydantic-settings model fed by four sources.

Precedence, highest first: command-line flags, environment variables, a config
file (YAML or TOML, named by ``--config-file`` / ``CONFIG_FILE``), defaults.

Environment variables carry no prefix (``PORT``, ``DATABASE_URL``...); every
setting also has a ``--kebab-case`` flag. An invalid value is reported as a
single :class:`SettingsError` line naming the key, the value and what is
expected, so an operator reading a crash-looping pod's log sees the cause in
one line instead of a validation dump.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SECRET_FIELDS = frozenset({"auth_tokens"})
_URL_FIELDS = frozenset({"database_url", "redis_url"})

#: What each setting accepts, in words; used in error messages, ``--help`` and
#: the README so the three never disagree.
EXPECTED: dict[str, str] = {
    "port": "an integer from 1 to 65535",
    "host": "an interface address to listen on, e.g. 0.0.0.0",
    "database_url": "a postgresql:// or postgres:// URL (unset = SQLite)",
    "database_schema": "a PostgreSQL identifier (letters, digits, _; max 63)",
    "sqlite_path": "a file path for the SQLite database",
    "redis_url": "a redis://, rediss:// or unix:// URL (unset = no cache)",
    "redis_key_prefix": "a non-empty string",
    "log_level": "one of " + ", ".join(LOG_LEVELS),
    "retention_days": "an integer >= 0 (0 keeps events forever)",
    "retention_interval_seconds": "a number of seconds > 0",
    "retention_batch_size": "an integer from 1 to 1000000",
    "max_batch_size": "an integer from 1 to 100000",
    "max_body_bytes": "an integer >= 1024",
    "max_field_length": "an integer from 1 to 65536",
    "max_attributes_bytes": "an integer >= 2",
    "auth_tokens": "comma-separated bearer tokens without spaces (empty = auth off)",
    "drain_seconds": "a number of seconds > 0 and <= 3600",
    "shutdown_delay_seconds": "a number of seconds >= 0, smaller than DRAIN_SECONDS",
    "config_file": "a readable .yaml, .yml, .json or .toml file",
    "db_pool_size": "an integer from 2 to 100",
    "db_timeout_seconds": "a number of seconds > 0",
    "redis_timeout_seconds": "a number of seconds > 0",
    "cache_window": "an integer from 1 to 100000",
    "writer_concurrency": "an integer from 1 to 16",
    "max_events_per_commit": "an integer >= 1",
    "max_pending_events": "an integer >= MAX_BATCH_SIZE",
    "metrics_max_sources": "an integer >= 1",
}


class SettingsError(Exception):
    """An invalid setting; ``str()`` is the one line shown to the operator."""

    def __init__(self, key: str, value: Any, expected: str, origin: str | None = None) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        self.origin = origin
        where = f" (from {origin})" if origin else ""
        super().__init__(f"invalid setting {key}={value!r}{where}: expected {expected}")


class Settings(BaseSettings):
    """Every knob of the service. Environment names are the field names in upper case."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="forbid", validate_default=True)

    port: int = Field(8080, ge=1, le=65535, description="TCP port the HTTP server listens on.")
    host: str = Field("0.0.0.0", min_length=1, description="Interface to listen on.")
    database_url: str | None = Field(
        None, repr=False, description="PostgreSQL URL. Unset: events are stored in SQLite at SQLITE_PATH."
    )
    database_schema: str = Field("public", description="PostgreSQL schema holding the events table.")
    sqlite_path: str = Field("collector.db", min_length=1, description="SQLite file used when DATABASE_URL is unset.")
    redis_url: str | None = Field(None, repr=False, description="Redis URL. Set: the recent-events window is cached.")
    redis_key_prefix: str = Field("collector:", min_length=1, description="Prefix of every Redis key the service uses.")
    log_level: str = Field("info", description="Lowest level logged (JSON lines on stdout).")
    retention_days: int = Field(30, ge=0, description="Events older than this are deleted; 0 keeps them forever.")
    retention_interval_seconds: float = Field(300.0, gt=0, description="Pause between retention passes.")
    retention_batch_size: int = Field(5000, ge=1, le=1_000_000, description="Rows deleted per retention statement.")
    max_batch_size: int = Field(1000, ge=1, le=100_000, description="Most events accepted in one POST.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest POST body accepted (413 above).")
    max_field_length: int = Field(256, ge=1, le=65536, description="Longest `source` / `action`, in characters.")
    max_attributes_bytes: int = Field(16_384, ge=2, description="Largest `attributes` object, serialized as JSON.")
    auth_tokens: Annotated[list[str], NoDecode] = Field(
        default_factory=list, repr=False, description="Comma-separated bearer tokens for POST; empty turns auth off."
    )
    drain_seconds: float = Field(
        20.0, gt=0, le=3600, description="Longest SIGTERM drain: finish requests, commit buffered writes, exit."
    )
    shutdown_delay_seconds: float = Field(
        2.0,
        ge=0,
        description=(
            "After SIGTERM, keep serving (not ready, `Connection: close`) this long before closing the listener."
        ),
    )
    config_file: Path | None = Field(
        None, description="YAML or TOML settings file; overridden by flags and environment, overrides defaults."
    )
    db_pool_size: int = Field(8, ge=2, le=100, description="Most PostgreSQL connections.")
    db_timeout_seconds: float = Field(5.0, gt=0, description="Connect / statement timeout for the database.")
    redis_timeout_seconds: float = Field(
        0.25, gt=0, description="Redis connect and command timeout; slower = fall back to the database."
    )
    cache_window: int = Field(1000, ge=1, le=100_000, description="Newest events kept in the Redis window.")
    writer_concurrency: int = Field(2, ge=1, le=16, description="Group commits in flight at once (PostgreSQL).")
    max_events_per_commit: int = Field(
        5000, ge=1, description="Most events in one group commit (a POST is never split)."
    )
    max_pending_events: int = Field(
        50_000, ge=1, description="Events waiting for commit before POSTs get 503 (bounds memory)."
    )
    metrics_max_sources: int = Field(
        200, ge=1, description="Distinct `source` labels on collector_events_total; more are counted as `_other`."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (passed as init kwargs) > environment > config file > defaults."""
        init_kwargs = getattr(init_settings, "init_kwargs", {}) or {}
        path = init_kwargs.get("config_file") or _env_value("config_file")
        file_values = read_config_file(path) if path else {}
        return (init_settings, env_settings, _ConfigFileSource(settings_cls, file_values))

    @field_validator("database_url", "redis_url", mode="before")
    @classmethod
    def _empty_url_means_unset(cls, value: Any) -> Any:
        # Secrets mounted as env vars are often present but empty.
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None:
            _check_url(value, ("postgresql", "postgres"))
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None:
            _check_url(value, ("redis", "rediss", "unix"))
        return value

    @field_validator("database_schema")
    @classmethod
    def _check_schema(cls, value: str) -> str:
        if not _SCHEMA_NAME.match(value):
            raise ValueError("not an identifier")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: Any) -> str:
        level = str(value).strip().lower()
        if level not in LOG_LEVELS:
            raise ValueError("unknown log level")
        return level

    @field_validator("auth_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, (list, tuple)):
            raise ValueError("not a list of tokens")
        tokens = [str(token).strip() for token in value if str(token).strip()]
        if any(re.search(r"\s", token) for token in tokens):
            raise ValueError("token contains whitespace")
        return tokens

    @model_validator(mode="after")
    def _check_combinations(self) -> Settings:
        if self.shutdown_delay_seconds >= self.drain_seconds:
            raise PydanticCustomError(
                "combination",
                "shutdown delay too long",
                {"key": "shutdown_delay_seconds", "value": self.shutdown_delay_seconds},
            )
        if self.max_pending_events < self.max_batch_size:
            raise PydanticCustomError(
                "combination",
                "pending bound too small",
                {"key": "max_pending_events", "value": self.max_pending_events},
            )
        return self

    @property
    def backend(self) -> str:
        """``"postgres"`` when a database URL is set, else ``"sqlite"``."""
        return "postgres" if self.database_url else "sqlite"


class _ConfigFileSource(PydanticBaseSettingsSource):
    """Values read from the config file, already normalised to field names."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def env_name(field: str) -> str:
    """The environment variable of a setting, e.g. ``log_level`` -> ``LOG_LEVEL``."""
    return field.upper()


def flag_name(field: str) -> str:
    """The command-line flag of a setting, e.g. ``log_level`` -> ``--log-level``."""
    return "--" + field.replace("_", "-")


def _env_value(field: str) -> str | None:
    wanted = env_name(field)
    for key, value in os.environ.items():
        if key.upper() == wanted:
            return value
    return None


def _normalise_key(key: str) -> str:
    return str(key).strip().lower().replace("-", "_")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a YAML (``.yaml``/``.yml``/``.json``) or TOML file into ``{field: value}``.

    Raises :class:`SettingsError` naming ``CONFIG_FILE`` when the file cannot be
    read or parsed, or holds a key that is not a setting (a typo in a config
    file must not be silently ignored).
    """
    file_path = Path(path)
    try:
        raw = file_path.read_bytes()
    except OSError as exc:
        raise SettingsError("CONFIG_FILE", str(path), f"{EXPECTED['config_file']} ({exc.strerror})") from None
    try:
        if file_path.suffix.lower() == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            data = yaml.safe_load(raw) if raw.strip() else {}
    except (tomllib.TOMLDecodeError, yaml.YAMLError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SettingsError("CONFIG_FILE", str(path), f"valid YAML or TOML ({first_line})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError("CONFIG_FILE", str(path), "a mapping of setting names to values at the top level")
    values: dict[str, Any] = {}
    for key, value in data.items():
        field = _normalise_key(key)
        if field not in Settings.model_fields or field == "config_file":
            raise SettingsError(
                "CONFIG_FILE", str(path), f"only known setting names as keys, found unknown key {str(key)!r}"
            )
        values[field] = value
    return values


def _check_url(value: str, schemes: tuple[str, ...]) -> None:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a non-numeric / out-of-range port
    except ValueError as exc:
        raise ValueError(f"malformed URL: {exc}") from None
    if parts.scheme.lower() not in schemes:
        raise ValueError("wrong scheme")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe to log or print)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit((parts.scheme, f"{user}:***@{netloc}", parts.path, parts.query, parts.fragment))


def _shown_value(field: str, value: Any) -> Any:
    if field in _SECRET_FIELDS:
        return "<redacted>"
    if field in _URL_FIELDS and isinstance(value, str):
        return redact_url(value)
    return value


def build_arg_parser() -> argparse.ArgumentParser:
    """One ``--kebab-case`` flag per setting; unset flags are left out of the result."""
    parser = argparse.ArgumentParser(
        prog="collector",
        description="Event collector service. Each flag overrides the environment variable named in its help.",
        argument_default=argparse.SUPPRESS,
    )
    for field, info in Settings.model_fields.items():
        parser.add_argument(
            flag_name(field),
            dest=field,
            metavar=env_name(field),
            help=f"{info.description} Expected: {EXPECTED[field]}. Env: {env_name(field)}.",
        )
    return parser


def _origin(field: str, cli: dict[str, Any], file_values: dict[str, Any], config_path: Any) -> str:
    if field in cli:
        return flag_name(field)
    if _env_value(field) is not None:
        return f"environment variable {env_name(field)}"
    if field in file_values:
        return f"config file {config_path}"
    return "default"


def _error_from_validation(exc: ValidationError, cli: dict[str, Any]) -> SettingsError:
    error = exc.errors(include_url=False)[0]
    ctx = error.get("ctx") or {}
    if error.get("loc"):
        field = str(error["loc"][0])
        value = error.get("input")
    else:  # a combination check from the model validator names its key itself
        field = str(ctx.get("key", ""))
        value = ctx.get("value")
    if field not in Settings.model_fields:
        # extra="forbid" only triggers for programmatic use with unknown kwargs.
        return SettingsError(field.upper() or "SETTINGS", value, "a known setting name")
    config_path = cli.get("config_file") or _env_value("config_file")
    try:
        file_values = read_config_file(config_path) if config_path else {}
    except SettingsError:
        file_values = {}
    return SettingsError(
        env_name(field), _shown_value(field, value), EXPECTED[field], _origin(field, cli, file_values, config_path)
    )


def load_settings(argv: list[str] | None = None) -> Settings:
    """Settings from flags (``argv``, default ``sys.argv[1:]``), environment, config file and defaults.

    Raises :class:`SettingsError` (one line, naming the key) for any invalid value.
    ``--help`` and unknown flags are handled by argparse (it exits).
    """
    cli = vars(build_arg_parser().parse_args(argv))
    try:
        return Settings(**cli)
    except ValidationError as exc:
        raise _error_from_validation(exc, cli) from None


def describe(settings: Settings) -> dict[str, Any]:
    """Settings as a dict safe to log: secrets redacted, token values never shown."""
    shown: dict[str, Any] = {}
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if field == "auth_tokens":
            shown[field] = f"{len(value)} token(s)"
        elif isinstance(value, Path):
            shown[field] = str(value)
        else:
            shown[field] = _shown_value(field, value)
    return shown
