"""The Pulumi program itself (`platform/__main__.py`), run under mocks with the config the engine
would hand it: a good stack builds; a bad value stops it with the one-line message and no resource
declared (Pulumi prints a RunError without a traceback)."""

from __future__ import annotations

import json
import runpy

import pulumi
import pytest
import yaml
from pulumi.runtime.config import set_all_config

from event_platform import offline
from harness import REPO_ROOT

MAIN = REPO_ROOT / "platform" / "__main__.py"


def engine_config(stack: str, **overrides) -> dict[str, str]:
    """The stack file's config the way the engine passes it: every value JSON-encoded."""
    raw = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw.update(overrides)
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


def run_program(stack: str, **overrides) -> offline.Recording:
    """Runs platform/__main__.py as the engine would; the recording is returned, or attached to the
    exception the program raised (`err.recording`)."""
    recording = offline.mock_engine(stack)
    set_all_config(engine_config(stack, **overrides))
    try:
        runpy.run_path(str(MAIN), run_name="__main__")
        offline.settle()
    except Exception as err:
        err.recording = recording
        raise
    finally:
        set_all_config({})
    return recording


def test_the_program_reads_the_engines_config_and_declares_the_platform() -> None:
    recording = run_program("dev")
    assert recording.object("Namespace", "dev")
    assert recording.object("Deployment", "collector", "dev")


def test_a_bad_value_stops_the_program_with_one_line_and_declares_nothing() -> None:
    bad = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]["event-platform:postgres"]
    bad["instances"] = "many"
    with pytest.raises(pulumi.RunError) as caught:
        run_program("dev", **{"event-platform:postgres": bad})
    assert str(caught.value) == ("invalid stack configuration:\nPulumi.dev.yaml: event-platform:postgres.instances: "
                                 "got 'many'; expected a valid integer, unable to parse string as an integer")
    assert not [r.type for r in caught.value.recording if r.type != "pulumi:pulumi:Stack"]
