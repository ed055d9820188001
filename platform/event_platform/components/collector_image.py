"""The collector's container image: built from apps/collector with pulumi-docker-build (buildx) for
the stack's platforms and pushed to its registry, tagged from everything that goes into it so the
same content always gives the same tag and new content a new one (never `latest`)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pulumi
import pulumi_docker_build as docker_build
from pydantic import BaseModel, ConfigDict

from event_platform import versions
from event_platform.config.collector import RegistryConfig

COLLECTOR_SOURCE = Path(__file__).resolve().parents[3] / "apps" / "collector"


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `**` any path, `*` and `?` within one path element."""
    out = ""
    for token in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/")):
        out += {"**": ".*", "**/": "(.*/)?", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out)


def docker_ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule: patterns apply in order, the last one that matches decides, `!` re-includes,
    and a pattern matching a directory matches everything in it."""
    parts = rel.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        regex = _pattern(raw[1:] if negate else raw)
        if any(regex.fullmatch(c) for c in candidates):
            ignored = not negate
    return ignored


BUILD_DEFINITION = ("Dockerfile", ".dockerignore")
"""Files that shape the image without being sent in the build context (the .dockerignore leaves the
Dockerfile out of it): hashed whatever .dockerignore says."""


def source_tag(context: Path = COLLECTOR_SOURCE, *, build_args: dict[str, str] | None = None,
               platforms: tuple[str, ...] = ("linux/amd64",)) -> str:
    """A tag that changes whenever anything that goes into the image changes: every file the build
    context sends (honouring .dockerignore), the Dockerfile and .dockerignore themselves, the build
    arguments (the base image among them) and the target platforms. Registries with immutable tags
    (ECR) refuse a second push under a tag; different content under one tag must never happen."""
    ignore_file = context / ".dockerignore"
    patterns = [line.strip() for line in ignore_file.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")] if ignore_file.exists() else []
    args = {"BASE_IMAGE": versions.COLLECTOR_BASE_IMAGE} if build_args is None else build_args
    digest = hashlib.sha256()
    for key in sorted(args):
        digest.update(f"arg {key}={args[key]}\0".encode())
    digest.update(f"platforms {','.join(sorted(platforms))}\0".encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        rel = path.relative_to(context).as_posix()
        if rel in BUILD_DEFINITION or not docker_ignored(rel, patterns):
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"src-{digest.hexdigest()[:12]}"


class CollectorImageArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: RegistryConfig
    """Where to push; credentials optional (the dev registry is anonymous)."""
    platforms: tuple[str, ...] = ("linux/amd64",)
    """Target platforms; several build one multi-platform image. Omitted: linux/amd64. The stack
    passes the config's list, or the host's architecture (detected by `__main__.py`, never here)."""
    prebuilt: str | None = None
    """`registry/repository:tag@sha256:...` of an image built before: nothing is built, every
    environment runs it (promotion). Omitted: built from apps/collector."""


class CollectorImage(pulumi.ComponentResource):
    """Builds and pushes the collector image once per stack (or takes a promoted one); every
    environment runs the same digest."""

    tag: str
    """The content-derived tag (or the promoted image's tag)."""
    image_name: str
    """`registry/repository:tag` as pushed."""
    reference: pulumi.Output[str]
    """The image by digest (`registry/repository@sha256:...`): what pods run, immutable."""

    def __init__(self, name: str, args: CollectorImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:collector:CollectorImage", name, None, opts)
        reg = args.registry
        if args.prebuilt:
            named, digest = args.prebuilt.split("@", 1)
            repository, _, self.tag = named.rpartition(":")
            self.image_name = f"{repository}:{self.tag}"
            self.reference = pulumi.Output.from_input(f"{repository}@{digest}")
            self.register_outputs({"tag": self.tag, "image_name": self.image_name, "reference": self.reference})
            return
        build_args = {"BASE_IMAGE": versions.COLLECTOR_BASE_IMAGE}
        self.tag = source_tag(build_args=build_args, platforms=args.platforms)
        repository = f"{reg.server}/{reg.repository}"
        self.image_name = f"{repository}:{self.tag}"
        registries = None
        if reg.username and reg.password:
            registries = [docker_build.RegistryArgs(
                address=reg.server, username=reg.username,
                password=pulumi.Output.secret(reg.password.get_secret_value()))]
        # Relative to the working directory (the repository root under make and Pulumi alike), so the
        # recorded inputs and the rendered review do not depend on where the checkout lives.
        context = os.path.relpath(COLLECTOR_SOURCE)
        # docker-build (buildx), not docker.Image: the latter builds one platform only.
        image = docker_build.Image(
            f"{name}-build",
            tags=[self.image_name],
            context=docker_build.BuildContextArgs(location=context),
            dockerfile=docker_build.DockerfileArgs(location=os.path.join(context, "Dockerfile")),
            platforms=[docker_build.Platform(p) for p in args.platforms],
            build_args=build_args,
            push=True,
            registries=registries,
            opts=pulumi.ResourceOptions(parent=self))
        self.reference = image.digest.apply(lambda digest: f"{repository}@{digest}")
        self.register_outputs({"tag": self.tag, "image_name": self.image_name, "reference": self.reference})


if __name__ == "__main__":  # `python -m event_platform.components.collector_image prod`: CI's build plan
    import sys

    from event_platform.config.loading import load_stack_file

    cfg = load_stack_file(COLLECTOR_SOURCE.parents[1] / f"Pulumi.{sys.argv[1]}.yaml")
    plan_platforms = cfg.collector.image.platforms or ("linux/amd64",)
    plan_args = {"BASE_IMAGE": versions.COLLECTOR_BASE_IMAGE}
    # GITHUB_OUTPUT lines: what `docker buildx build` needs to build what `pulumi up` would.
    print(f"platforms={','.join(plan_platforms)}")
    print(f"base-image={versions.COLLECTOR_BASE_IMAGE}")
    print(f"tag={source_tag(build_args=plan_args, platforms=plan_platforms)}")
    print(f"repository={cfg.collector.registry.server}/{cfg.collector.registry.repository}")
