"""Renovate's own extraction must find what tests/test_renovate.py says its regex managers find.

tests/test_renovate.py applies renovate.json's regex managers in Python to prove that every pin of
versions.py is covered. This runs the pinned Renovate itself on the checkout (local platform, dry run
`extract`: no network, no lookups) and fails when the two disagree, so that the test speaks for
Renovate; it also fails when a built-in manager (requirements, Dockerfile, actions) finds nothing.
Run by `make renovate-check` after `npm ci` in this folder; Renovate reads only files git tracks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".ci" / "renovate" / "node_modules"
sys.path[:0] = [str(REPO / "tests"), str(REPO / "platform")]

from test_renovate import VERSIONS, manager_matches  # importable through the paths above


def renovate_extraction() -> dict[str, list[dict]]:
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "global.json"
        empty.write_text("{}")
        env = {**os.environ, "LOG_LEVEL": "debug", "LOG_FORMAT": "json", "RENOVATE_CONFIG_FILE": str(empty),
               "RENOVATE_BASE_DIR": scratch}
        run = subprocess.run(
            [str(TOOLS / ".bin" / "node"), str(TOOLS / "renovate" / "dist" / "renovate.js"), "--platform=local",
             "--dry-run=extract", "--onboarding=false", "--require-config=required"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    for line in run.stdout.splitlines():
        record = json.loads(line) if line.startswith("{") else {}
        if record.get("msg") == "Extracted dependencies":
            return dict(record["packageFiles"])
    raise SystemExit(f"renovate extracted nothing (exit {run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-3000:]}")


def main() -> None:
    extracted = renovate_extraction()
    problems = [f"the {manager} manager found nothing" for manager in ("pip_requirements", "dockerfile",
                                                                        "github-actions", "npm", "regex")
                if not any(f["deps"] for f in extracted.get(manager, []))]
    for path in (VERSIONS, "apps/collector/Dockerfile", "docs/delivery.md"):
        text = (REPO / path).read_text()
        expected = {(m.dep, text[m.start:m.end]) for m in manager_matches(path, text)}
        found = set()
        for package_file in extracted.get("regex", []):
            if package_file["packageFile"] == path:
                for dep in package_file["deps"]:
                    found |= {(dep["depName"], dep[key]) for key in ("currentValue", "currentDigest") if dep.get(key)}
        if found != expected:
            problems.append(f"{path}: Renovate alone finds {sorted(found - expected)}, "
                            f"tests/test_renovate.py alone {sorted(expected - found)}")
    if problems:
        raise SystemExit("renovate extraction: " + "; ".join(problems))
    counts = {manager: sum(len(f["deps"]) for f in files) for manager, files in extracted.items()}
    print(f"renovate extraction agrees with tests/test_renovate.py; dependencies per manager: {counts}")


if __name__ == "__main__":
    main()
