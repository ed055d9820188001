"""Every label and name the program derives from user input stays valid for the longest inputs the
config allows (issue 11, "the proof must catch this class"): the dev stack rebuilt with its
environment name, hostname and registry at their maxima, rendered, and checked by validate-manifests
(metadata syntax of every object and pod template) and by the image-reference grammar."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from event_platform import config, offline, render
from harness import shared_path, stack_config

LONGEST_ENV = "e" * config.ENVIRONMENT_NAME_MAX
"""The longest environment (namespace) name config accepts."""
LONGEST_HOST = ".".join(["h" * 63, "o" * 63, "s" * 63, "t" * 61])
"""253 characters: the longest hostname config accepts."""
# distribution/reference: name components of lowercase alphanumerics and separators, 255 at most
REFERENCE = re.compile(r"^(?P<name>[a-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+)"
                       r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$")


def _maximal(tls: bool = False) -> config.PlatformConfig:
    cfg = stack_config("dev")
    if tls:  # HTTPS listeners and one certificate per hostname: names derived from the hostname too
        cfg = cfg.model_copy(update={"gateway": cfg.gateway.model_copy(update={"tls": config.TlsConfig()})})
    ns = cfg.namespaces.apps[0].model_copy(update={"name": LONGEST_ENV})
    env = cfg.collector.environments["dev"].model_copy(update={"hostname": LONGEST_HOST})
    registry = cfg.collector.registry.model_copy(update={
        "server": "registry-" + "r" * 54 + ".example.com:5001",  # 80 characters
        "repository": "t" * 99 + "/" + "r" * 74})  # 174: the name is 255, the most a reference allows
    collector = cfg.collector.model_copy(update={"environments": {LONGEST_ENV: env}, "registry": registry})
    namespaces = cfg.namespaces.model_copy(update={"apps": (ns,)})
    return config.PlatformConfig.model_validate(
        {**cfg.model_dump(), "namespaces": namespaces.model_dump(), "collector": collector.model_dump()})


@pytest.fixture(scope="module")
def maximal() -> offline.Recording:
    return offline.record(_maximal())


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_the_longest_inputs_render_objects_the_api_server_accepts(tls, tmp_path) -> None:
    """If this fails, an environment name, hostname or registry that config accepts produces a name,
    label or annotation the API server refuses (too long, bad characters), found only at `pulumi up`:
    listener, certificate and redirect-route names are all derived from the hostname."""
    tools = shared_path("EVENT_PLATFORM_TOOLS", "the validate-manifests tool")
    crds = shared_path("EVENT_PLATFORM_CRD_SCHEMAS", "the CRD schemas")
    for name, text in render.render(offline.record(_maximal(tls))).items():
        (tmp_path / name).write_text(text)
    run = subprocess.run([sys.executable, str(tools / "validate-manifests"), "--crd-dir", str(crds), str(tmp_path)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.stdout.strip().splitlines()[-1].endswith(" 0 failed"), run.stdout


def test_the_longest_registry_gives_valid_image_references(maximal) -> None:
    images = {c["image"] for d in maximal.objects("Deployment")
              for c in d.plain["spec"]["template"]["spec"]["containers"]}
    assert images
    for image in images:
        match = REFERENCE.match(image)
        assert match and len(match.group("name")) <= 255, image


@pytest.mark.parametrize("repository", ["Team/App", "team app", "team//app", "-team/app"])
def test_a_repository_docker_cannot_name_is_refused(repository: str) -> None:
    cfg = stack_config("dev")
    raw = cfg.collector.registry.model_dump(by_alias=True) | {"repository": repository}
    with pytest.raises(ValueError, match="repository"):
        config.RegistryConfig.model_validate(raw)


def test_an_environment_name_too_long_for_the_names_derived_from_it_is_refused() -> None:
    """The render test above fails at 58 characters: `redis-<env>` becomes a 64-character label."""
    cfg = stack_config("dev")
    raw = cfg.namespaces.apps[0].model_dump(by_alias=True) | {"name": "e" * (config.ENVIRONMENT_NAME_MAX + 1)}
    with pytest.raises(ValueError, match="at most 57 characters"):
        config.AppNamespaceConfig.model_validate(raw)


def test_an_image_name_longer_than_a_reference_allows_is_refused() -> None:
    cfg = stack_config("dev")
    raw = cfg.collector.registry.model_dump(by_alias=True) | {"server": "r" * 80, "repository": "t" * 175}
    with pytest.raises(ValueError, match="256-character image name; expected at most 255"):
        config.RegistryConfig.model_validate(raw)


def test_a_canary_by_tag_renders_a_valid_version_label() -> None:
    """By digest and by tag@digest are issue 11 item 4, fixed with the collector rebuild (issue 14),
    whose tests cover those two forms."""
    cfg = stack_config("dev")
    canary = config.CanaryConfig(image="localhost:5001/event-collector:" + "v" * 63, weight=10)
    env = cfg.collector.environments["dev"].model_copy(update={"canary": canary})
    rec = offline.record(cfg.model_copy(update={"collector": cfg.collector.model_copy(
        update={"environments": {"dev": env}})}))
    labels = rec.object("Deployment", "collector-canary", "dev").plain["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "v" * 63
