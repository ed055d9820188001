"""Resource-graph test harness: every real stack file, built once per session under Pulumi mocks.

Fixtures:
  recordings  {"dev": Recording, "prod": Recording} for the committed stack files
  recording   parametrized over the stacks: a test using it runs once per stack
  rendered    {"dev": Path, "prod": Path} of the render output, written once per session
  fixture_recordings  {"onboarding": Recording} for the fixture stacks of tests/fixtures (the dev
              stack plus two more teams' services): checks that take a Recording run over these too
  fixture_rendered    {"onboarding": Path} of their render output
  every_recording     parametrized over the real stacks and the fixture stacks

`Recording` (event_platform/offline.py) holds each resource's type token, logical name, inputs,
parent and dependencies, and has the lookups (`object(kind, name, ns)`, `objects(kind)`,
`helm_release(name)`, `depends_on(a, b)`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from event_platform import offline, render
from harness import FIXTURE_STACKS, STACKS, stack_config


@pytest.fixture(scope="session")
def recordings() -> dict[str, offline.Recording]:
    return {stack: offline.record(stack_config(stack)) for stack in STACKS}


@pytest.fixture(params=STACKS)
def recording(request: pytest.FixtureRequest, recordings: dict[str, offline.Recording]) -> offline.Recording:
    return recordings[request.param]


@pytest.fixture(params=STACKS + FIXTURE_STACKS)
def every_recording(request: pytest.FixtureRequest, recordings: dict[str, offline.Recording],
                    fixture_recordings: dict[str, offline.Recording]) -> offline.Recording:
    """The real stacks and the fixture stacks (more services): for the checks every stack must pass,
    whatever it declares (admission and capacity, flows, access, hostname ownership, the provider)."""
    return {**recordings, **fixture_recordings}[request.param]


@pytest.fixture(scope="session")
def rendered(recordings: dict[str, offline.Recording], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _render_all(recordings, tmp_path_factory)


@pytest.fixture(scope="session")
def fixture_recordings() -> dict[str, offline.Recording]:
    return {stack: offline.record(stack_config(stack)) for stack in FIXTURE_STACKS}


@pytest.fixture(scope="session")
def fixture_rendered(fixture_recordings: dict[str, offline.Recording],
                     tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _render_all(fixture_recordings, tmp_path_factory)


def _render_all(recordings: dict[str, offline.Recording], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each recording rendered into a folder of its own, as `make render` writes it."""
    out = {}
    for stack, rec in recordings.items():
        folder = tmp_path_factory.mktemp(f"rendered-{stack}")
        for name, text in render.render(rec).items():
            (folder / name).write_text(text)
        out[stack] = folder
    return out
