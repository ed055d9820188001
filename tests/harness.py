"""Helpers shared by the platform tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from event_platform import config

REPO_ROOT = Path(__file__).resolve().parents[1]
STACKS = ("dev", "prod")
FIXTURES = REPO_ROOT / "tests" / "fixtures"
FIXTURE_STACKS = ("onboarding",)
"""Stack files of tests/fixtures: the dev stack plus more teams' services (`services:`)."""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def stack_config(stack: str) -> config.PlatformConfig:
    if stack in FIXTURE_STACKS:
        return config.load_stack_file(FIXTURES / f"Pulumi.{stack}.yaml")
    return config.load_stack_file(REPO_ROOT / f"Pulumi.{stack}.yaml")


def shared_path(env_var: str, what: str) -> Path:
    """A file or directory of upstream reference data named by `env_var`. Missing: the test is
    skipped with how to enable it, except in CI, where it fails."""
    value = os.environ.get(env_var)
    if value and Path(value).exists():
        return Path(value)
    message = (f"{what} not found: set {env_var} (`make test` sets it from ../shared when that exists)"
               + (f"; it is set to {value!r}, which does not exist" if value else ""))
    if in_ci():
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


def system_tool(name: str, install: str, purpose: str) -> str:
    """The path of a command-line tool from a Debian package (promtool, amtool, prometheus). Missing:
    the test is skipped saying how to install it, except in CI, where it fails."""
    path = shutil.which(name)
    if path:
        return path
    message = (f"{name} not found: install it with `apt-get update && apt-get install -y "
               f"--no-install-recommends {install}` (Debian) to {purpose}")
    if in_ci():
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)
