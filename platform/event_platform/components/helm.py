"""The one way this repo installs a Helm chart.

`helm.v3.Release` (not `helm.v4.Chart`) because it runs the chart's hooks: kube-prometheus-stack and
NGINX Gateway Fabric create their webhook certificates in hooks, and `helm.v4.Chart` drops them.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from event_platform.versions import HelmChart

RELEASE_TIMEOUT_SECONDS = 1800
"""How long `pulumi up` waits for a release's workloads to become ready before failing it: a first
bring-up on a laptop pulls every image over a home connection (kube-prometheus-stack alone is
several hundred MB), which ten minutes did not always cover."""


def helm_release(
    resource_name: str,
    chart: HelmChart,
    *,
    namespace: pulumi.Input[str],
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
    release_name: str | None = None,
) -> k8s.helm.v3.Release:
    """Installs `chart` at its pinned version into `namespace` (which the caller declares: Helm does
    not create it, so the namespace keeps our labels and guardrails).

    The release name is explicit (default: the chart's name) so that the objects the chart creates
    have predictable names other components can refer to.
    """
    repository_opts = None if chart.is_oci else k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository)
    return k8s.helm.v3.Release(
        resource_name,
        name=release_name or chart.name,
        chart=chart.chart_ref,
        version=chart.version,
        repository_opts=repository_opts,
        namespace=namespace,
        create_namespace=False,
        values=values,
        # Not atomic: on a timeout an atomic install uninstalls the whole release (and everything
        # depending on it fails), so a slow first pull never converges. Without it the release stays
        # `failed` with what it made, and the next `pulumi up` upgrades it from there.
        atomic=False,
        skip_await=False,  # still wait for the chart's workloads to be ready: dependents need them up
        cleanup_on_fail=True,
        timeout=RELEASE_TIMEOUT_SECONDS,
        max_history=5,
        opts=opts,
    )
