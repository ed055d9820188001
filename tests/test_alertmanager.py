"""The Alertmanager configuration exactly as each stack renders it passes `amtool check-config`, and
its routing tree sends pages and tickets to the receivers and the Watchdog nowhere.

kube-prometheus-stack writes `alertmanager.config` as given into the Secret the Alertmanager reads
(`alertmanager.yaml`; templates/alertmanager/secret.yaml of the chart), so the rendered Helm values
are the configuration. The receivers' URLs stay file paths (`api_url_file`) into the Secret the
operator mounts under /etc/alertmanager/secrets/ (`alertmanagerSpec.secrets`): Alertmanager reads the
file when it notifies, so the check needs no credential.

amtool comes with Debian's `prometheus-alertmanager` (0.25 on Debian 12; the chart runs 0.34).
Without it these tests are skipped, except in CI, where they fail.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from event_platform.components import alerting, prometheus_stack
from harness import STACKS, stack_config, system_tool
from live import rendered_documents


@pytest.fixture(scope="module")
def amtool() -> str:
    return system_tool("amtool", "prometheus-alertmanager", "check the Alertmanager configuration")


def rendered_alertmanager_config(folder: Path) -> dict[str, Any]:
    (release,) = [d["release"] for d in rendered_documents(folder)
                  if d.get("type") == "kubernetes:helm.sh/v3:Release"
                  and d["release"]["name"] == prometheus_stack.KPS_RELEASE]
    config: dict[str, Any] = release["values"]["alertmanager"]["config"]
    return config


def write_config(rendered: dict[str, Path], stack: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{stack}-alertmanager.yaml"
    path.write_text(yaml.safe_dump(rendered_alertmanager_config(rendered[stack]), sort_keys=False))
    return path


@pytest.mark.parametrize("stack", STACKS)
def test_amtool_accepts_the_rendered_alertmanager_configuration(amtool, rendered, stack, tmp_path) -> None:
    """An invalid configuration is refused by the Alertmanager on reload: it keeps the old one, or,
    on a fresh install, never starts, and no alert reaches anyone."""
    path = write_config(rendered, stack, tmp_path)
    run = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    receivers = stack_config(stack).observability.alert_receivers
    assert f" - {len(receivers) + 1} receivers" in run.stdout, run.stdout
    config = rendered_alertmanager_config(rendered[stack])
    for receiver in receivers:
        (entry,) = [r for r in config["receivers"] if r["name"] == receiver.name]
        (notifier,) = entry.get("slack_configs", []) + entry.get("webhook_configs", [])
        url_file = notifier.get("api_url_file") or notifier.get("url_file")
        assert url_file and url_file.startswith(alerting.ALERTMANAGER_SECRETS_DIR + "/"), notifier


def route(amtool: str, config: Path, *labels: str) -> str:
    run = subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}", *labels],
                         capture_output=True, text=True, check=False)
    return run.stdout.strip()


@pytest.mark.parametrize("stack", STACKS)
def test_pages_and_tickets_reach_every_receiver_and_the_watchdog_none(amtool, rendered, stack, tmp_path) -> None:
    """The burn-rate alerts are only as good as their delivery: critical (page) and warning (ticket)
    go to each configured receiver; the always-firing Watchdog to `null`."""
    path = write_config(rendered, stack, tmp_path)
    expected = {r.name for r in stack_config(stack).observability.alert_receivers} or {"null"}
    for severity in ("critical", "warning"):
        got = route(amtool, path, "alertname=CollectorAvailabilityBudgetBurn", f"severity={severity}",
                    "namespace=production")
        assert set(got.split(",")) == expected, (severity, got)
    assert route(amtool, path, "alertname=Watchdog", "severity=none") == "null"
