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
from harness import REPO_ROOT, STACKS, stack_config

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


# ------------------------------------------------------------------------- the target cluster (item 15)
def test_every_kubernetes_resource_goes_through_the_stacks_own_provider(every_recording) -> None:
    """If this fails, a resource uses Pulumi's default Kubernetes provider, which deploys to whatever
    context the user's kubeconfig has current: a mistyped context would deploy prod to a laptop's
    cluster or the reverse."""
    recording = every_recording
    cfg = stack_config(recording.stack)
    (provider,) = recording.of_type("pulumi:providers:kubernetes")
    assert provider.plain["context"] == cfg.cluster.context
    kube = [r for r in recording if r.custom and r.type.startswith("kubernetes:")]
    assert kube, "the stack declares Kubernetes resources"
    strays = sorted({r.type for r in kube if not (r.provider or "").startswith(provider.urn + "::")})
    assert not strays, f"on the default provider: {strays}"


def test_the_stack_files_disable_the_default_kubernetes_provider() -> None:
    """Belt and braces for the test above: with `pulumi:disable-default-providers` the engine itself
    refuses a resource that reaches for the ambient kubeconfig (pulumi/pulumi#8829)."""
    for stack in STACKS:
        raw = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        assert "kubernetes" in raw["pulumi:disable-default-providers"], stack
        assert "kubernetes:context" not in raw, f"{stack}: nothing reads kubernetes:context any more"


def test_a_stack_naming_no_cluster_context_stops_before_declaring_anything() -> None:
    """If this fails, a stack without `cluster.context` would run against the current context."""
    cluster = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())["config"]["event-platform:cluster"]
    del cluster["context"]
    with pytest.raises(pulumi.RunError) as caught:
        run_program("dev", **{"event-platform:cluster": cluster})
    assert str(caught.value) == ("invalid stack configuration:\nPulumi.dev.yaml: event-platform:cluster.context: "
                                 "required key is missing")
    assert not [r.type for r in caught.value.recording if r.type != "pulumi:pulumi:Stack"]


def test_the_old_kubernetes_context_key_is_refused_with_where_it_moved() -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_program("dev", **{"kubernetes:context": "kind-event-platform"})
    assert "kubernetes:context: got 'kind-event-platform'; expected event-platform:cluster.context" in str(
        caught.value)


# ------------------------------------------------------------------------------ data protection (item 14)
DATA_HOLDERS = (("Namespace", None), ("Cluster", "events-db"), ("StatefulSet", "redis"))


@pytest.mark.parametrize("stack", STACKS)
def test_data_and_the_namespaces_holding_it_are_protected_exactly_where_the_stack_says(stack, recordings) -> None:
    """If this fails in prod, `pulumi destroy`, a rename or a replacing change deletes a namespace, a
    Postgres Cluster (its volumes are owned by it) or Redis, and the data with it; if it fails in dev,
    `make down --destroy` stops on protected resources."""
    rec = recordings[stack]
    for ns in stack_config(stack).namespaces.apps:
        for kind, name in DATA_HOLDERS:
            obj = rec.object(kind, name or ns.name, None if kind == "Namespace" else ns.name)
            assert (obj.protect, obj.retain_on_delete) == (ns.protect_data, ns.protect_data), (kind, ns.name)
    if stack == "prod":
        assert all(ns.protect_data for ns in stack_config(stack).namespaces.apps)
    unprotected = [r for r in rec if r.protect and r.kind not in {k for k, _ in DATA_HOLDERS}]
    assert not unprotected, "only what holds data is protected: everything else must stay replaceable"


def test_the_program_builds_the_image_for_the_hosts_architecture(monkeypatch) -> None:
    """If this fails, dev on an Apple-silicon laptop builds linux/amd64 and the kind node cannot run
    it (ErrImagePull / exec format error)."""
    from event_platform import config
    monkeypatch.setattr(config, "host_platform", lambda: "linux/arm64")
    (build,) = run_program("dev").of_type("docker-build:index:Image")
    assert build.plain["platforms"] == ["linux/arm64"]
