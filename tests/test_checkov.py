"""checkov, the scanner security reviewers already use, over both rendered stacks and the onboarding
fixture (two teams' services): every finding is either fixed or listed with its reason in
policy/checkov-exceptions.yaml, and every listed exception still matches a finding (no stale excuses)."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from harness import REPO_ROOT, STACKS

EXCEPTIONS = REPO_ROOT / "policy" / "checkov-exceptions.yaml"


def checkov_binary() -> Path:
    """`make test` builds .venv-checkov (pinned in requirements-checkov.txt); CHECKOV overrides."""
    path = Path(os.environ.get("CHECKOV", REPO_ROOT / ".venv-checkov" / "bin" / "checkov"))
    if not path.exists():
        pytest.fail(f"checkov not found at {path}: run `make checkov-venv` (or set CHECKOV)")
    return path


def exceptions() -> list[dict]:
    return yaml.safe_load(EXCEPTIONS.read_text())


def findings(folder: Path) -> set[tuple[str, str]]:
    """(check id, Kind.namespace.name) of every failed checkov check on the YAML files in `folder`."""
    run = subprocess.run([str(checkov_binary()), "-d", str(folder), "--framework", "kubernetes", "--quiet",
                          "--compact", "--output", "json", "--skip-download"],
                         check=False, capture_output=True, text=True, timeout=600)
    assert run.returncode in (0, 1), run.stderr[-2000:]
    reports = json.loads(run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r["summary"]["resource_count"] for r in reports) > 50, "checkov saw almost nothing"
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)
    return {(f["check_id"], f["resource"]) for r in reports for f in r["results"]["failed_checks"]}


SCANNED = (*STACKS, "onboarding")
"""The real stacks, and the fixture whose teams' services run images by tag (what a team may do)."""


@pytest.fixture(scope="module")
def scanned(rendered: dict[str, Path], fixture_rendered: dict[str, Path]) -> dict[str, set[tuple[str, str]]]:
    folders = {**rendered, **fixture_rendered}
    return {stack: findings(folders[stack]) for stack in SCANNED}


def excused(finding: tuple[str, str]) -> bool:
    check, resource = finding
    return any(e["check"] == check and fnmatch.fnmatch(resource, e["resource"]) for e in exceptions())


@pytest.mark.parametrize("stack", SCANNED)
def test_checkov_finds_nothing_but_the_listed_exceptions(stack: str, scanned) -> None:
    """A new finding (a root container, a missing probe, an image by tag) fails here until it is fixed
    or listed with a reason."""
    unexcused = sorted(f for f in scanned[stack] if not excused(f))
    assert not unexcused, unexcused


def test_every_listed_exception_has_a_reason_and_still_matches_a_finding(scanned) -> None:
    """An exception nothing needs any more would silently excuse the next real finding."""
    found = set().union(*scanned.values())
    for e in exceptions():
        assert len(e["reason"].split()) >= 8, e
        assert any(c == e["check"] and fnmatch.fnmatch(r, e["resource"]) for c, r in found), e


def test_the_redis_image_is_pinned_by_digest_and_runs_as_a_high_uid(scanned) -> None:
    """The two findings issue 12 named as fixable are fixed, not excused: no workload runs as a low UID,
    and the platform's own images (Redis, every cache) are by digest; only a team's service Deployment
    may run its image by tag (docs/onboarding.md)."""
    for found in scanned.values():
        assert not {f for f in found if f[0] == "CKV_K8S_40"}
        assert not {f for f in found if f[0] == "CKV_K8S_43" and not f[1].startswith("Deployment.")}
    assert not [e for e in exceptions() if e["check"] == "CKV_K8S_40"]
    assert all(e["resource"].startswith("Deployment.") for e in exceptions() if e["check"] == "CKV_K8S_43")
