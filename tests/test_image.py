"""The collector image: built for the cluster's architecture, tagged from everything that goes into
it, or promoted by digest instead of rebuilt (issue 11, items 5 and 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from event_platform import config, offline
from event_platform.components.collector_image import source_tag
from harness import stack_config

BUILD = "docker-build:index:Image"


def _context(tmp_path: Path) -> Path:
    (tmp_path / ".dockerignore").write_text("*\n!src/\n")
    (tmp_path / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY src /src\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("v1\n")
    return tmp_path


@pytest.mark.parametrize("change", ["Dockerfile", ".dockerignore", "base image", "build arg", "platforms"])
def test_the_tag_changes_whenever_anything_that_goes_into_the_image_changes(change: str, tmp_path: Path) -> None:
    """If this fails, different content is pushed under an existing tag: immutable-tag registries
    (ECR) refuse the push, and elsewhere two images answer to one name. The .dockerignore here leaves
    the Dockerfile and itself out of the build context, as the collector's does."""
    ctx = _context(tmp_path)
    args, platforms = {"BASE_IMAGE": "python:3.11.14-slim-bookworm"}, ("linux/amd64",)
    before = source_tag(ctx, build_args=args, platforms=platforms)
    if change == "Dockerfile":
        (ctx / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY src /app\n")
    elif change == ".dockerignore":
        (ctx / ".dockerignore").write_text("*\n!src/\nsrc/*.md\n")
    elif change == "base image":
        args = {"BASE_IMAGE": "python:3.11.15-slim-bookworm"}
    elif change == "build arg":
        args = {**args, "PIP_INDEX_URL": "https://mirror.example.com/simple"}
    else:
        platforms = ("linux/amd64", "linux/arm64")
    assert source_tag(ctx, build_args=args, platforms=platforms) != before


def test_the_tag_ignores_the_order_platforms_are_listed_in(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    assert source_tag(ctx, platforms=("linux/arm64", "linux/amd64")) == source_tag(
        ctx, platforms=("linux/amd64", "linux/arm64"))


def _with_image(stack: str, **image) -> offline.Recording:
    cfg = stack_config(stack)
    collector = cfg.collector.model_copy(update={"image": config.CollectorImageConfig(**image)})
    return offline.record(cfg.model_copy(update={"collector": collector}))


def test_several_platforms_in_the_stack_config_build_one_multi_platform_image() -> None:
    """If this fails, prod's nodes of another architecture cannot run the image (exec format error)."""
    rec = _with_image("prod", platforms=("linux/amd64", "linux/arm64"))
    (build,) = rec.of_type(BUILD)
    assert sorted(build.plain["platforms"]) == ["linux/amd64", "linux/arm64"]
    assert build.plain["push"] is True


def test_without_platforms_in_config_the_build_is_for_the_host_the_program_names(recording) -> None:
    """Render and tests build for linux/amd64 so they do not depend on the machine; the program itself
    passes the host's architecture (tests/test_program.py proves that)."""
    (build,) = recording.of_type(BUILD)
    assert build.plain["platforms"] == ["linux/amd64"]


PROMOTED = "registry.example.com/platform/event-collector:src-0123456789ab@sha256:" + "a" * 64


def test_a_promoted_image_is_run_by_its_digest_and_nothing_is_built() -> None:
    """If this fails, prod rebuilds instead of running the digest the dev smoke test proved."""
    rec = _with_image("prod", prebuilt=PROMOTED)
    assert not rec.of_type(BUILD)
    for env in ("staging", "production"):
        pod = rec.object("Deployment", "collector", env).plain["spec"]["template"]
        assert pod["spec"]["containers"][0]["image"] == PROMOTED.split(":src-")[0] + "@sha256:" + "a" * 64
        assert pod["metadata"]["labels"]["app.kubernetes.io/version"] == "src-0123456789ab"


@pytest.mark.parametrize("value, expected", [
    ("registry.example.com/app@sha256:" + "a" * 64, "expected an image reference with tag and digest"),
    ("registry.example.com/app:" + "v" * 64 + "@sha256:" + "a" * 64, "a tag of at most 63 characters"),
])
def test_a_promoted_image_needs_a_tag_that_can_be_a_label_and_a_digest(value: str, expected: str) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.from_mapping("prod", {"event-platform:cluster": {"type": "kind", "context": "x"}, **{
            k: v for k, v in _prod_mapping().items() if k != "event-platform:cluster"},
            "event-platform:collector": {**_prod_mapping()["event-platform:collector"], "image": {"prebuilt": value}}},
            "Pulumi.prod.yaml")
    (line,) = str(caught.value).splitlines()
    assert line.startswith("Pulumi.prod.yaml: event-platform:collector.image.prebuilt: got ") and expected in line


def _prod_mapping() -> dict:
    import yaml

    from harness import REPO_ROOT
    return yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())["config"]
