"""The RBAC access matrix: effective access of every role bound in every app namespace, derived from
the rendered Roles and bindings (creating a pod counts as reading the Secrets it can mount), equals the
table in docs/tenancy.md, so the doc and the code cannot drift."""

from __future__ import annotations

import re

import pytest

import access_matrix
from event_platform.components.app_namespace import DEVELOPER_RULES
from harness import REPO_ROOT, stack_config, tenant_namespaces

DOC = REPO_ROOT / "docs" / "tenancy.md"


def documented_matrix() -> dict[tuple[str, str], dict[str, bool]]:
    """(role, developerAccess) -> capability -> granted, from the table after the access-matrix marker."""
    lines = DOC.read_text().split("<!-- access-matrix", 1)[1].splitlines()[1:]
    rows = []
    for line in lines:  # the table right after the marker, up to its first non-table line
        if not line.startswith("|"):
            break
        rows.append(line)
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[2:] == list(access_matrix.CAPABILITIES), "the doc's columns are the evaluated capabilities"
    out = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert set(cells[2:]) <= {"yes", "no"}, row
        out[(cells[0], cells[1])] = {cap: cell == "yes" for cap, cell in zip(header[2:], cells[2:], strict=True)}
    return out


def expected_row(role: str, access: str) -> dict[str, bool]:
    matrix = documented_matrix()
    return matrix[(role, access if role == "developer" else "any")]


def test_every_bound_role_in_every_app_namespace_grants_exactly_what_the_docs_matrix_says(every_recording) -> None:
    """If this fails, docs/tenancy.md promises access the cluster does not enforce (or the reverse):
    e.g. production's developers able to create a Job that mounts the database Secret."""
    recording = every_recording
    for ns in tenant_namespaces(stack_config(recording.stack)):
        for role in ("developer", "viewer"):
            rules = recording.object("Role", role, ns.name).plain["rules"]
            assert access_matrix.capabilities(rules) == expected_row(role, ns.developer_access), (ns.name, role)


def test_every_configured_group_holds_the_union_of_its_roles_and_nothing_more(every_recording) -> None:
    """A ClusterRoleBinding or an extra RoleBinding for a group would widen access past the matrix."""
    recording = every_recording
    for ns in tenant_namespaces(stack_config(recording.stack)):
        groups = {g: [] for g in (*ns.developer_groups, *ns.viewer_groups)}
        for g in ns.developer_groups:
            groups[g].append(expected_row("developer", ns.developer_access))
        for g in ns.viewer_groups:
            groups[g].append(expected_row("viewer", ns.developer_access))
        for group, rows in groups.items():
            union = {cap: any(r[cap] for r in rows) for cap in access_matrix.CAPABILITIES}
            assert access_matrix.group_capabilities(recording, ns.name, group) == union, (ns.name, group)


def test_production_is_operate_and_the_other_environments_edit() -> None:
    """The model the issue asks for: production changes go through `pulumi up`."""
    access = {ns.name: ns.developer_access for c in ("dev", "prod") for ns in stack_config(c).namespaces.apps}
    assert access == {"dev": "edit", "staging": "edit", "production": "operate"}


def test_no_role_anywhere_may_write_endpoints_or_endpointslices(recording) -> None:
    """Endpoints write plus a selector-less Service lets a route publish another namespace's pods
    (CVE-2021-25740)."""
    for kind in ("Role", "ClusterRole"):
        for role in recording.objects(kind):
            assert not access_matrix.capabilities(role.plain.get("rules") or [])["write endpoints"], \
                f"{kind} {role.namespace}/{role.k8s_name}"


@pytest.mark.parametrize("rules, capability", [
    ([{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]}], "read Secrets"),
    ([{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}], "run pods"),
    ([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}], "read Secrets"),
    ([{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["create"]}], "write endpoints"),
    ([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}], "exec"),
])
def test_the_evaluator_sees_indirect_and_wildcard_grants(rules: list[dict], capability: str) -> None:
    """The matrix is only as good as the evaluator: a Job-create or a wildcard must count."""
    assert access_matrix.capabilities(rules)[capability]


def test_the_operate_role_would_fail_the_matrix_if_it_could_patch_a_deployment() -> None:
    """The check must be able to fail: `rollout restart` rights (deployments patch) read Secrets."""
    widened = [*DEVELOPER_RULES["operate"], {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}]
    assert access_matrix.capabilities(widened) != expected_row("developer", "operate")
    assert access_matrix.capabilities(DEVELOPER_RULES["operate"]) == expected_row("developer", "operate")


def test_the_doc_table_is_found_and_complete() -> None:
    assert set(documented_matrix()) == {("developer", "edit"), ("developer", "operate"), ("viewer", "any")}
    assert re.search(r"developerAccess", DOC.read_text())
