"""Fixtures of the policy pack's tests. tests/conftest.py's fixtures do not reach this folder, so the
platform's recordings are made here the same way (event_platform.offline, tests/harness.py)."""

from __future__ import annotations

import pytest

from event_platform import offline
from harness import STACKS, stack_config


@pytest.fixture(scope="session")
def recordings() -> dict[str, offline.Recording]:
    """Every committed stack file, built under Pulumi mocks: what `pulumi up` would declare."""
    return {stack: offline.record(stack_config(stack)) for stack in STACKS}
