"""Writes every object a stack declares as YAML, with no Pulumi engine and no cluster.

    python -m event_platform.render --stack dev [--out rendered/dev]     (or: make render STACK=dev)

One file per top-level component (`tenancy.yaml`, `gateway.yaml`, ...), keys sorted, objects in a
stable order, so `diff -r` between two commits reads as a change review. Kubernetes objects are
written as manifests; everything else (Helm releases, images, generated passwords) as a record with
its Pulumi type token, which `validate-manifests` recognises and skips. Secret values are written as
`[secret]`, and so is every value of a Kubernetes Secret's `data`/`stringData`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from event_platform import capacity, config, offline

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
"""Fixture stacks (e.g. `onboarding`) render and validate like the real ones: `make validate STACK=onboarding`."""


def stack_file(stack: str) -> Path:
    """`Pulumi.<stack>.yaml` at the top of the repository, else among the test fixtures."""
    top = REPO_ROOT / f"Pulumi.{stack}.yaml"
    return top if top.exists() or not (FIXTURES / top.name).exists() else FIXTURES / top.name


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (dashboards, agent configs) as literal blocks: readable diffs."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def is_yaml_bundle(resource: offline.Resource) -> bool:
    """`yaml/v2` ConfigFile/ConfigGroup: components to Pulumi, but they carry objects a reviewer must see
    (e.g. the Gateway API CRD bundle), so they render as records."""
    return resource.type.startswith("kubernetes:yaml/v2:")


def document(resource: offline.Resource) -> dict[str, Any]:
    """The YAML document for one resource, secrets redacted."""
    if resource.is_kubernetes_object:
        manifest = offline.redact(resource.inputs)
        if resource.kind == "Secret":
            for key in ("data", "stringData"):
                # pulumi-kubernetes marks a Secret's whole data/stringData secret: keep its keys.
                if isinstance(value := offline.reveal(resource.inputs.get(key)), dict):
                    manifest[key] = {k: offline.REDACTED for k in value}
        return manifest
    inputs = offline.redact(resource.inputs)
    if resource.type == "kubernetes:helm.sh/v3:Release":
        repo = (inputs.get("repositoryOpts") or {}).get("repo")
        return {"type": resource.type, "name": resource.name,
                "release": {"name": inputs.get("name"), "namespace": inputs.get("namespace"),
                            "chart": inputs.get("chart"), "version": inputs.get("version"),
                            "repository": repo, "values": inputs.get("values") or {}}}
    return {"type": resource.type, "name": resource.name, "inputs": inputs}


def _order(doc: dict[str, Any]) -> tuple:
    meta = doc.get("metadata") or {}
    return ("type" in doc, doc.get("type", ""), doc.get("apiVersion", ""), doc.get("kind", ""),
            meta.get("namespace") or "", meta.get("name") or doc.get("name", ""))


def render(recording: offline.Recording) -> dict[str, str]:
    """File name -> YAML text, one file per top-level component."""
    files: dict[str, list[dict[str, Any]]] = {}
    for resource in recording:
        if resource.type.startswith("pulumi:providers:") or not (resource.custom or is_yaml_bundle(resource)):
            continue  # our components and providers are structure, not objects
        top = recording.top_component(resource)
        files.setdefault(f"{top.name if top else 'stack'}.yaml", []).append(document(resource))
    return {name: yaml.dump_all(sorted(docs, key=_order), Dumper=_Dumper, sort_keys=True,
                                default_flow_style=False, explicit_start=True, width=120)
            for name, docs in sorted(files.items())}


def write(stack: str, out: Path) -> tuple[list[Path], offline.Recording]:
    """Renders `Pulumi.<stack>.yaml` into `out`, replacing the YAML files a previous render left.
    Returns the files and the recording they came from."""
    cfg = config.load_stack_file(stack_file(stack))
    recording = offline.record(cfg)
    files = render(recording)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.yaml"):
        stale.unlink()
    written = []
    for name, text in files.items():
        (out / name).write_text(text)
        written.append(out / name)
    return written, recording


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="render", description=__doc__.splitlines()[0])
    stacks = sorted(p.name.split(".")[1] for folder in (REPO_ROOT, FIXTURES) for p in folder.glob("Pulumi.*.yaml"))
    parser.add_argument("--stack", required=True, choices=stacks, help="which Pulumi.<stack>.yaml to render")
    parser.add_argument("--out", type=Path, help="output directory (default: rendered/<stack>)")
    args = parser.parse_args(argv)
    out = args.out or REPO_ROOT / "rendered" / args.stack
    try:
        written, recording = write(args.stack, out)
    except config.ConfigError as err:
        print(f"render: invalid stack configuration:\n{err}", file=sys.stderr)
        return 2
    finally:
        offline.close()
    print(f"rendered {args.stack}: {len(written)} files in {out}")
    # What each app namespace needs at its largest scale against its quota: read it before raising
    # maxReplicas or instances (tests/test_capacity.py fails the build when it does not fit).
    print(capacity.table(recording))
    return 0


if __name__ == "__main__":
    sys.exit(main())
