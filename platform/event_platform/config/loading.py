"""Loading a stack's config and saying what is wrong with it.

Two loaders build a `PlatformConfig`:

* `from_pulumi()`: inside `pulumi up/preview`, from the engine's decrypted config;
* `load_stack_file(path)`: offline (tests, render), from the YAML file itself. Values written as
  `secure:` ciphertext cannot be decrypted there; they become clearly-marked placeholders that are
  still handled as secrets all the way through.

Either way a bad value raises `ConfigError`, whose message has one line per problem naming the key,
the value and what was expected; a value that is or may be secret is never shown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from event_platform.config.base import (
    PROJECT,
    ConfigError,
    PlacedError,
)
from event_platform.config.stack import PlatformConfig


class _OfflineSecret(str):
    """Stands in for a `secure:` value that cannot be decrypted without the Pulumi engine."""


def _replace_secure(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return _OfflineSecret(f"offline-placeholder-for-{path}")
        return {k: _replace_secure(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def from_mapping(stack: str, config: dict[str, Any], source: str) -> PlatformConfig:
    """Builds the config from `{"event-platform:<key>": value}` (other namespaces are ignored:
    `kubernetes:context` is the provider's). `source` names the file in error messages."""
    prefix = f"{PROJECT}:"
    if "kubernetes:context" in config:
        # With default providers disabled nothing reads it: a stack that sets it would believe it is in force.
        raise ConfigError(f"{source}: kubernetes:context: got {config['kubernetes:context']!r}; expected "
                          f"{PROJECT}:cluster.context instead (the platform's explicit provider reads that)")
    sections = {k[len(prefix):]: v for k, v in config.items() if k.startswith(prefix)}
    try:
        return PlatformConfig.model_validate({"stack": stack, **sections})
    except ValidationError as err:
        raise ConfigError("\n".join(f"{source}: {line}" for line in _describe(err))) from None


def load_stack_file(path: str | Path) -> PlatformConfig:
    """Reads `Pulumi.<stack>.yaml` without the Pulumi engine (tests, render)."""
    path = Path(path)
    match = re.fullmatch(r"Pulumi\.([\w.-]+)\.yaml", path.name)
    if not match:
        raise ConfigError(f"{path}: expected a stack file named Pulumi.<stack>.yaml")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the stack file: {err}") from None
    config = document.get("config") if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a top-level `config:` mapping")
    return from_mapping(match.group(1), _replace_secure(config, "config"), path.name)


def host_platform() -> str:
    """The container platform of the machine running Pulumi (`linux/arm64` on Apple silicon): what
    a kind node there runs. Only `__main__.py` asks; render and tests stay machine-independent."""
    import platform as stdlib_platform

    machine = stdlib_platform.machine().lower()
    return "linux/arm64" if machine in ("arm64", "aarch64") else "linux/amd64"


def from_pulumi() -> PlatformConfig:
    """Reads the running stack's config (already decrypted by the engine)."""
    import json

    import pulumi
    from pulumi.runtime.config import CONFIG

    raw = {}
    for key, value in CONFIG.get().items():
        try:
            raw[key] = json.loads(value)
        except (TypeError, ValueError):
            raw[key] = value  # a plain string value
    return from_mapping(pulumi.get_stack(), raw, f"Pulumi.{pulumi.get_stack()}.yaml")


def _describe(err: ValidationError) -> list[str]:
    """One readable line per pydantic error: key, value, expectation."""
    lines = []
    for e in err.errors(include_url=False):
        if e["type"] == "too_short" and "after validation" in e["msg"] and len(err.errors()) > 1:
            continue  # a follow-on of an item's own error, which is reported already
        loc = [str(p) for p in e["loc"] if not str(p).startswith(("function-", "tagged-union"))]
        # discriminated unions put the chosen tag into the location; it is not a key of the file
        loc = [p for p in loc if p not in {"kubernetes", "vault", "aws"} or loc.index(p) == 0]
        key = f"{PROJECT}:{'.'.join(loc)}" if loc else f"{PROJECT}"
        kind, msg = e["type"], e["msg"]
        placed = (e.get("ctx") or {}).get("error")
        if isinstance(placed, PlacedError):  # names its key (relative: below the error's location)
            where = f"{key}{placed.key}" if placed.key.startswith(".") else f"{PROJECT}:{placed.key}"
            lines.append(f"{where}: got {placed.value!r}; expected {placed.expected}")
            continue
        value = e.get("input")
        shown = "[secret]" if _may_be_secret(e["loc"], value, unknown_key=kind == "extra_forbidden") else repr(value)
        if kind == "extra_forbidden":
            lines.append(f"{key}: unknown key (value {shown}); expected one of: {_allowed_keys(dict(e), err)}")
        elif kind == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            expected = msg.removeprefix("Value error, ").removeprefix("Input should be ")
            if "expected" not in expected:
                expected = f"expected {expected}"
            lines.append(f"{key}: got {shown}; {expected}")
    return lines


_SECRET_NAME = re.compile(r"pass|pwd|token|secret|key|credential|auth", re.IGNORECASE)
"""Key names that say, or may say, the value is secret. `key` also catches `secretKey`-style names
that only name a store entry: redacting a harmless value costs a hint, showing a secret costs a leak."""


def _may_be_secret(loc: tuple[Any, ...], value: Any, *, unknown_key: bool = False) -> bool:
    """May the value of an error at `loc` be secret? Yes when it holds a `secure:` value or a key named
    like a secret at any depth, when any key on its path is named like one, or when it is an unknown key
    in a model that holds a secret value (an unknown `passwrd` beside `password` is a misspelt password).
    A known field's value (a port, a replica count) is shown even beside a secret: its name says what
    it is."""
    if _holds_secret(value) or any(_SECRET_NAME.search(str(part)) for part in loc):
        return True
    if not unknown_key:
        return False
    annotation: Any = PlatformConfig
    for part in loc[:-1]:
        annotation = _step(annotation, part)
    model = _as_model(annotation)
    return model is not None and any(_is_secret_type(f.annotation) for f in model.model_fields.values())


def _is_secret_type(annotation: Any) -> bool:
    import typing

    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _holds_secret(value: Any) -> bool:
    """Is `value` a `secure:` placeholder, or does it contain one or a key named like a secret?"""
    if isinstance(value, _OfflineSecret):
        return True
    if isinstance(value, dict):
        return any(_SECRET_NAME.search(str(k)) or _holds_secret(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_secret(v) for v in value)
    return False


def _allowed_keys(error: Any, err: ValidationError) -> str:
    """The keys the model at the error's location accepts, for `unknown key` messages."""
    annotation: Any = PlatformConfig
    for part in error["loc"][:-1]:
        annotation = _step(annotation, part)
        if annotation is None:
            return "(see platform/event_platform/config/)"
    model = _as_model(annotation)
    if model is None:
        return "(see platform/event_platform/config/)"
    return ", ".join(f.alias or name for name, f in model.model_fields.items() if name != "stack")


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one location step below `annotation` (a field, an item, a value, a union member)."""
    import typing

    model = _as_model(annotation)
    if model is not None:
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        return field.annotation if field else None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _step(args[0], part)
    if origin in (tuple, list):
        return args[0]
    if origin is dict:
        return args[1]
    # a discriminated union: the location names the chosen member by its tag
    for member in args:
        tag = getattr(_as_model(member), "model_fields", {}).get("provider")
        if tag is not None and part in typing.get_args(tag.annotation):
            return member
    return None


def _as_model(annotation: Any) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) == 1 and len([a for a in args if a is not type(None)]) == 1:
        return models[0]  # Optional[Model]
    return None

