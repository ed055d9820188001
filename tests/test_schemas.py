"""Rendered objects against the real schemas: Kubernetes' own for core kinds (kubernetes-validate,
strict), the upstream CRDs' for custom resources, and each Helm release's values against the pinned
chart's defaults and values schema.

The upstream reference data is not copied into this repository; these tests find it through
environment variables (`make test` points them at ../shared when it exists):

  EVENT_PLATFORM_TOOLS        folder with validate-manifests and check-helm-values
  EVENT_PLATFORM_CRD_SCHEMAS  CRD openAPIV3Schemas, <group>/<kind>_<version>.json
  EVENT_PLATFORM_CHART_DATA   per-chart Chart.yaml, values.yaml, values.schema.json
"""

from __future__ import annotations

import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from event_platform import offline, render
from harness import shared_path, stack_config


def core_objects(rec: offline.Recording) -> list[offline.Resource]:
    """Objects of built-in kinds: their group has no dot, or is a *.k8s.io API group."""
    def builtin(api_version: str) -> bool:
        group = api_version.rpartition("/")[0]
        return "." not in group or group.endswith(".k8s.io") and not group.startswith("gateway.")
    return [r for r in rec.objects() if builtin(r.inputs["apiVersion"])]


def test_every_core_object_validates_strictly_against_the_stacks_kubernetes_version(recordings) -> None:
    """A typo in a field name or a wrong type would otherwise surface only at `pulumi up`."""
    for stack, rec in recordings.items():
        version = stack_config(stack).cluster.kubernetes_version
        problems = []
        for r in core_objects(rec):
            try:
                kubernetes_validate.validate(render.document(r), version, strict=True)
            except kubernetes_validate.ValidationError as err:
                problems.append(f"{r.kind}/{r.k8s_name}: {err.message} at {list(err.path)}")
        assert not problems, f"{stack}:\n" + "\n".join(problems)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_rendered_stack_passes_validate_manifests_with_no_failure(stack: str, rendered) -> None:
    """Schemas of core kinds and CRDs plus the wiring between objects (routes -> Services -> pods,
    env -> Secret keys, monitors -> Services), as checked by the shared validator."""
    tools = shared_path("EVENT_PLATFORM_TOOLS", "the validate-manifests tool")
    crds = shared_path("EVENT_PLATFORM_CRD_SCHEMAS", "the upstream CRD schemas")
    version = stack_config(stack).cluster.kubernetes_version
    run = subprocess.run([sys.executable, str(tools / "validate-manifests"), "--k8s-version", version,
                          "--crd-dir", str(crds), str(rendered[stack])], capture_output=True, text=True, check=False)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr
    assert run.returncode == 0 and summary.endswith(" 0 failed"), run.stdout + run.stderr




def test_every_helm_releases_values_pass_check_helm_values(recordings, tmp_path) -> None:
    """Unknown keys, typos and wrong types in Helm values are silently ignored by Helm itself."""
    tools = shared_path("EVENT_PLATFORM_TOOLS", "the check-helm-values tool")
    charts = shared_path("EVENT_PLATFORM_CHART_DATA", "the Helm chart reference data")
    if not any(rec.helm_releases() for rec in recordings.values()):
        pytest.fail("no Helm release declared: nothing to check")
    failures = []
    for stack, rec in recordings.items():
        for release in rec.helm_releases():
            chart = release.inputs["chart"].rsplit("/", 1)[-1]
            values_file = tmp_path / f"{stack}-{release.inputs['name']}.yaml"
            values_file.write_text(yaml.safe_dump(offline.redact(release.inputs.get("values") or {})))
            run = subprocess.run([sys.executable, str(tools / "check-helm-values"), chart, str(values_file),
                                  "--charts-dir", str(charts)], capture_output=True, text=True, check=False)
            if run.returncode != 0:
                failures.append(f"{stack} {release.inputs['name']} ({chart}):\n{run.stdout}{run.stderr}")
    assert not failures, "\n".join(failures)


def test_every_pinned_chart_version_matches_the_reference_data(recordings) -> None:
    """The values are checked against the chart version we pin, not some other one."""
    from event_platform import versions
    charts = shared_path("EVENT_PLATFORM_CHART_DATA", "the Helm chart reference data")
    for chart in versions.ALL_CHARTS:
        meta = yaml.safe_load((charts / chart.name / "Chart.yaml").read_text())
        if meta["version"] in ("v0.0.0", "0.0.0"):
            continue  # cert-manager stamps its version at release; SOURCES.md records v1.21.1
        assert str(meta["version"]) == chart.version, chart.name
