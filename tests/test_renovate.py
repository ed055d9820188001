"""renovate.json covers every pin: its regex managers, applied here the way Renovate applies them, must
see every version and digest written in versions.py, with the datasource that can update it.

Renovate's own validator (`make renovate-check`, run by .ci/run) checks the config's syntax and
options, and its extraction run there confirms these managers from Renovate's side.
Regex managers: https://docs.renovatebot.com/modules/manager/regex/ (named groups `currentValue`,
`currentDigest`, `depName`, `registryUrl`; ECMAScript syntax, so `(?<name>...)` groups).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

import pytest

from harness import REPO_ROOT

CONFIG = json.loads((REPO_ROOT / "renovate.json").read_text())
VERSIONS = "platform/event_platform/versions.py"
# A version or digest inside a pin: an image tag (after the `:` of `repo:tag`), a whole version string
# (`v1.5.1`, `88.5.3`) or a `sha256:` digest.
PIN_TOKEN = re.compile(r"sha256:[0-9a-f]{64}|(?:(?<=:)|(?<=^))v?\d+(?:\.\d+)+[\w.-]*")


@dataclass(frozen=True)
class Match:
    manager: str
    datasource: str
    dep: str
    group: str
    start: int
    end: int


def python_regex(pattern: str) -> re.Pattern[str]:
    """An ECMAScript pattern of renovate.json as a Python one (only the named-group syntax differs)."""
    return re.compile(re.sub(r"\(\?<([A-Za-z]\w*)>", r"(?P<\1>", pattern))


def file_matches(manager: dict, path: str) -> bool:
    patterns = manager["managerFilePatterns"]
    assert all(p.startswith("/") and p.endswith("/") for p in patterns), f"{manager['description']}: regex patterns"
    return any(python_regex(p[1:-1]).search(path) for p in patterns)


def manager_matches(path: str, text: str, config: dict = CONFIG) -> list[Match]:
    """Every `currentValue`/`currentDigest` span the regex managers of `config` capture in `text`."""
    found = []
    for manager in config["customManagers"]:
        assert manager["customType"] == "regex"
        if not file_matches(manager, path):
            continue
        for pattern in manager["matchStrings"]:
            for m in python_regex(pattern).finditer(text):
                groups = m.groupdict()
                dep = manager.get("depNameTemplate") or groups.get("depName") or ""
                datasource = manager.get("datasourceTemplate") or groups.get("datasource") or ""
                for group in ("currentValue", "currentDigest"):
                    if groups.get(group):
                        found.append(Match(manager["description"], datasource, dep, group, *m.span(group)))
    return found


def pins(text: str) -> list[tuple[str, int, int]]:
    """`(name, start, end)` of every version and digest in a module-level assignment of versions.py:
    string values (also split over several literals, or parts of f-strings) and HelmChart(...) calls."""
    tree = ast.parse(text)
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    found = []
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        name = target.id if isinstance(target, ast.Name) else ast.unparse(target)
        for child in ast.walk(node.value):
            if not (isinstance(child, ast.Constant) and isinstance(child.value, str)):
                continue
            assert child.end_lineno is not None and child.end_col_offset is not None
            start = line_starts[child.lineno - 1] + child.col_offset
            end = line_starts[child.end_lineno - 1] + child.end_col_offset
            # The source of the literal(s), quotes and all: find the tokens in each literal's contents.
            for literal in re.finditer(r'"([^"\n]*)"', text[start:end]):
                for token in PIN_TOKEN.finditer(literal.group(1)):
                    offset = start + literal.start(1)
                    found.append((name, offset + token.start(), offset + token.end()))
    return found


def uncovered(text: str, matches: list[Match]) -> list[str]:
    return [f"{name}: {text[start:end]!r} (line {text.count(chr(10), 0, start) + 1})"
            for name, start, end in pins(text)
            if not any(m.start <= start and end <= m.end for m in matches)]


def test_every_pin_in_versions_py_is_seen_by_a_renovate_manager() -> None:
    """If this fails, a version or digest in versions.py is invisible to Renovate: it never gets a bump
    pull request and silently ages (the message names the pin and its line)."""
    text = (REPO_ROOT / VERSIONS).read_text()
    found = pins(text)
    assert len(found) >= 16, f"the pin scanner found only {found}"
    assert uncovered(text, manager_matches(VERSIONS, text)) == []


def test_a_new_pin_no_manager_matches_fails_the_coverage_check() -> None:
    """If this fails, the coverage check above passes whatever versions.py holds (it would not notice
    the next pin nobody taught Renovate about)."""
    new_pins = ('\nVAULT_VERSION = "1.21.0"\nBUSYBOX = ("docker.io/library/busybox:1.37"\n'
                '           "@sha256:' + "0" * 64 + '")\n')
    text = (REPO_ROOT / VERSIONS).read_text() + new_pins
    assert uncovered(text, manager_matches(VERSIONS, text)) == [
        f"VAULT_VERSION: '1.21.0' (line {text.count(chr(10)) - 2})",
        f"BUSYBOX: '1.37' (line {text.count(chr(10)) - 1})",
        f"BUSYBOX: 'sha256:{'0' * 64}' (line {text.count(chr(10))})",
    ]


@pytest.mark.parametrize(("dep", "datasource", "values"), [
    ("kube-prometheus-stack", "helm", {"currentValue"}),
    ("nginx-gateway-fabric", "docker", {"currentValue"}),
    ("kubernetes-sigs/gateway-api", "github-releases", {"currentValue"}),
    ("kubernetes-sigs/kind", "github-releases", {"currentValue"}),
    ("ghcr.io/cloudnative-pg/postgresql", "docker", {"currentValue", "currentDigest"}),
    ("kindest/node", "docker", {"currentValue", "currentDigest"}),
    ("docker.io/library/redis", "docker", {"currentValue", "currentDigest"}),
    ("python", "docker", {"currentValue"}),
])
def test_each_kind_of_pin_is_read_with_the_datasource_that_can_bump_it(dep: str, datasource: str,
                                                                       values: set[str]) -> None:
    """If this fails, Renovate looks a pin up in the wrong place (a chart among images, a digest left
    behind when the tag moves): the pull request never comes or pins a tag to a stale digest."""
    text = (REPO_ROOT / VERSIONS).read_text()
    matches = [m for m in manager_matches(VERSIONS, text) if m.dep == dep]
    assert {m.datasource for m in matches} == {datasource}, matches
    assert {m.group for m in matches} == values, matches


def test_the_collector_base_image_is_bumped_in_versions_py_and_the_dockerfile_in_one_pull_request() -> None:
    """If this fails, the base image in versions.py and in the Dockerfile (its ARG, by Renovate's
    dockerfile manager, and the build example) drift apart: Renovate groups by dependency name, so
    both must be read as the same image."""
    dockerfile = (REPO_ROOT / "apps/collector/Dockerfile").read_text()
    versions_text = (REPO_ROOT / VERSIONS).read_text()
    arg = re.search(r"^ARG BASE_IMAGE=(\S+):(\S+)$", dockerfile, re.MULTILINE)
    assert arg and "dockerfile" in CONFIG["enabledManagers"]
    dockerfile_matches = manager_matches("apps/collector/Dockerfile", dockerfile)
    in_dockerfile = {(m.dep, dockerfile[m.start:m.end]) for m in dockerfile_matches}
    in_versions = {(m.dep, versions_text[m.start:m.end]) for m in manager_matches(VERSIONS, versions_text)}
    assert in_dockerfile == {arg.groups()}
    assert arg.groups() in in_versions


def test_renovate_reads_the_requirements_files_the_dockerfile_and_the_workflows() -> None:
    """If this fails, a whole kind of pin (Python packages, the base image, the actions' SHAs, CI's own
    Renovate) gets no update: `enabledManagers` leaves its manager out."""
    assert set(CONFIG["enabledManagers"]) == {"pip_requirements", "dockerfile", "github-actions", "npm", "custom.regex"}


def test_one_chart_bump_is_one_pull_request() -> None:
    """If this fails, a chart update is split over a minor and a major pull request, or charts are
    grouped into one, so a chart bump (values check against the new chart, render diff) cannot be
    reviewed on its own."""
    chart_rules = [r for r in CONFIG["packageRules"] if r.get("matchDepTypes") == ["helm-chart"]]
    assert chart_rules and chart_rules[0]["separateMajorMinor"] is False and "groupName" not in chart_rules[0]
    charts = {m.dep for m in manager_matches(VERSIONS, (REPO_ROOT / VERSIONS).read_text())
              if any(c.get("depTypeTemplate") == "helm-chart" and c["description"] == m.manager
                     for c in CONFIG["customManagers"])}
    assert len(charts) == 7, charts
    for rule in CONFIG["packageRules"]:
        grouped_charts = {name.rsplit("/", 1)[-1] for name in rule.get("matchPackageNames", [])} & charts
        if "groupName" in rule:
            assert len(grouped_charts) <= 1, f"{rule['groupName']} groups several charts: {grouped_charts}"


def test_a_docstring_that_restates_a_pin_moves_with_it() -> None:
    """If this fails, a bump leaves a docstring of versions.py naming the old version as the one in use
    (e.g. "as listed in the kind v0.32.0 release notes")."""
    text = (REPO_ROOT / VERSIONS).read_text()
    matches = manager_matches(VERSIONS, text)
    values = {text[start:end] for _, start, end in pins(text)}
    stale = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            doc = node.value.value
            for value in values:
                for hit in re.finditer(rf"(?<![\w.]){re.escape(value)}(?![\w.])", text):
                    line = text.count("\n", 0, hit.start()) + 1
                    inside = node.lineno <= line <= (node.end_lineno or node.lineno) and value in doc
                    if inside and not any(m.start <= hit.start() and hit.end() <= m.end for m in matches):
                        stale.append(f"{value} on line {line}")
    assert stale == []


def test_the_pins_docs_delivery_repeats_move_with_versions_py() -> None:
    """If this fails, a Renovate bump of kind, its node image or the local registry changes versions.py
    but not docs/delivery.md, and tests/test_delivery.py (docs list the current pins) fails on every
    such pull request."""
    docs = (REPO_ROOT / "docs/delivery.md").read_text()
    matches = manager_matches("docs/delivery.md", docs)
    from event_platform import versions

    missing = []
    for pin in (versions.KIND_VERSION, versions.KIND_NODE_IMAGE, versions.LOCAL_REGISTRY_IMAGE):
        start = docs.index(pin)
        for token in PIN_TOKEN.finditer(pin):
            span = (start + token.start(), start + token.end())
            if not any(m.start <= span[0] and span[1] <= m.end for m in matches):
                missing.append(token.group())
    assert missing == []
    assert {m.dep for m in matches} == {"kubernetes-sigs/kind", "kindest/node", "docker.io/library/registry"}


def test_the_regexes_use_only_what_re2_supports() -> None:
    """If this fails, a matchString works in the validator here (which falls back to JavaScript's
    RegExp without the native re2 module) but not in hosted Renovate, which runs RE2: no lookaround,
    no backreferences (https://github.com/google/re2/wiki/Syntax)."""
    patterns = [p for m in CONFIG["customManagers"] for p in [*m["matchStrings"], *m["managerFilePatterns"]]]
    patterns += [r["versioning"].removeprefix("regex:") for r in CONFIG["packageRules"] if "versioning" in r]
    unsupported = [p for p in patterns if re.search(r"\(\?<?[=!]|\\[1-9]|\\k<", p)]
    assert unsupported == []
