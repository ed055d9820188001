"""The collector's container image: built from apps/collector with pulumi-docker and pushed to the
stack's registry, tagged from the source so the same code always gives the same tag (never `latest`)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pulumi
import pulumi_docker as docker
from pydantic import BaseModel, ConfigDict

from event_platform import versions
from event_platform.config import RegistryConfig

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


def source_tag(context: Path = COLLECTOR_SOURCE) -> str:
    """A tag that changes exactly when the image's inputs change: a hash of every file the build
    context sends (honouring .dockerignore), plus the pinned base image."""
    ignore_file = context / ".dockerignore"
    patterns = [line.strip() for line in ignore_file.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")] if ignore_file.exists() else []
    digest = hashlib.sha256(versions.COLLECTOR_BASE_IMAGE.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        rel = path.relative_to(context).as_posix()
        if not docker_ignored(rel, patterns):
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"src-{digest.hexdigest()[:12]}"


class CollectorImageArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: RegistryConfig
    """Where to push; credentials optional (the dev registry is anonymous)."""
    platform: str = "linux/amd64"
    """Target platform of the build. Omitted: linux/amd64 (kind on x86 and most clusters)."""


class CollectorImage(pulumi.ComponentResource):
    """Builds and pushes the collector image once per stack; every environment runs the same digest."""

    tag: str
    """The source-derived tag."""
    image_name: str
    """`registry/repository:tag` as pushed."""
    reference: pulumi.Output[str]
    """The pushed image by digest (`registry/repository@sha256:...`): what pods run, immutable."""

    def __init__(self, name: str, args: CollectorImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:collector:CollectorImage", name, None, opts)
        reg = args.registry
        self.tag = source_tag()
        self.image_name = f"{reg.server}/{reg.repository}:{self.tag}"
        credentials = None
        if reg.username and reg.password:
            credentials = docker.RegistryArgs(server=reg.server, username=reg.username,
                                              password=pulumi.Output.secret(reg.password.get_secret_value()))
        # Relative to the working directory (the repository root under make and Pulumi alike), so the
        # recorded inputs and the rendered review do not depend on where the checkout lives.
        context = os.path.relpath(COLLECTOR_SOURCE)
        image = docker.Image(
            f"{name}-build",
            image_name=self.image_name,
            build=docker.DockerBuildArgs(
                context=context, dockerfile=os.path.join(context, "Dockerfile"),
                platform=args.platform, args={"BASE_IMAGE": versions.COLLECTOR_BASE_IMAGE}),
            registry=credentials,
            opts=pulumi.ResourceOptions(parent=self))
        self.reference = image.repo_digest
        self.register_outputs({"tag": self.tag, "image_name": self.image_name, "reference": self.reference})
