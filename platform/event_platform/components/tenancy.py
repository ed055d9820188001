"""All namespaces of a stack: the app environments with their guardrails, and the platform's own."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import BaseModel, ConfigDict

from event_platform import labels
from event_platform.components.app_namespace import (
    AppNamespace,
    AppNamespaceArgs,
    PodSecurityLevel,
    pod_security_labels,
)
from event_platform.config.tenancy import AppNamespaceConfig


class PlatformNamespaceSpec(BaseModel):
    """A namespace one of the platform's own pieces runs in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    purpose: str
    """What runs there (goes into an annotation, and explains the Pod Security level)."""
    pod_security: PodSecurityLevel = "restricted"
    """Least level its pods work with. Omitted: restricted. Anything looser must say why in `purpose`."""


class TeamNamespaceSpec(BaseModel):
    """A team's namespace in one environment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: AppNamespaceConfig
    """Its name (`<team>-<env>`), quota, limits, the team's groups and the environment's access."""
    environment: str
    team: str


class TenancyArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    apps: tuple[AppNamespaceConfig, ...]
    """App environments: one guarded namespace each."""
    platform: tuple[PlatformNamespaceSpec, ...] = ()
    """Platform namespaces. Omitted: none."""
    teams: tuple[TeamNamespaceSpec, ...] = ()
    """The teams' namespaces, guarded like the environments' own. Omitted: none."""


class Tenancy(pulumi.ComponentResource):
    """Declares every namespace; other components receive the Namespace objects from here."""

    apps: dict[str, AppNamespace]
    """App environments by name."""
    platform: dict[str, k8s.core.v1.Namespace]
    """Platform namespaces by name."""
    teams: dict[str, AppNamespace]
    """The teams' namespaces by name."""

    def __init__(self, name: str, args: TenancyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:tenancy:Tenancy", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.apps = {cfg.name: AppNamespace(f"{name}-{cfg.name}", AppNamespaceArgs(config=cfg), child)
                     for cfg in args.apps}
        self.teams = {spec.config.name: AppNamespace(f"{name}-{spec.config.name}", AppNamespaceArgs(
            config=spec.config, environment=spec.environment, team=spec.team), child) for spec in args.teams}
        self.platform = {
            spec.name: k8s.core.v1.Namespace(
                f"{name}-{spec.name}",
                metadata={"name": spec.name,
                          "labels": {**labels.common(spec.name, "platform-namespace"),
                                     **pod_security_labels(spec.pod_security)},
                          "annotations": {"event-platform.io/purpose": spec.purpose}},
                opts=child)
            for spec in args.platform}
        self.register_outputs({"app_namespaces": list(self.apps), "platform_namespaces": list(self.platform),
                               "team_namespaces": list(self.teams)})
