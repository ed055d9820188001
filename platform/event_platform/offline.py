"""Runs `stack.build` with no Pulumi engine and no cluster, and records every resource it declares.

Pulumi's mocks stand in for the engine: each registration is captured with its type token, logical
name, inputs, parent and dependencies. The render command and the resource-graph tests both read
this one recording, so what the tests prove is what a reviewer reads in the rendered YAML.

Secret-marked values keep their mark (`Secret`) so that render can redact them and tests can prove
they stayed secret.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime.settings import ROOT, SETTINGS
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from event_platform.config.base import PROJECT
from event_platform.config.stack import PlatformConfig

_SECRET_SIG = rpc._special_secret_sig  # the wire marker Pulumi uses for secret values
_SIG_KEY = rpc._special_sig_key
REDACTED = "[secret]"


@dataclass(frozen=True)
class Secret:
    """A value Pulumi holds as a secret."""

    value: Any

    def __repr__(self) -> str:  # never print the value by accident
        return "Secret([redacted])"


def _mark_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return Secret(_mark_secrets(value.get("value")))
        return {k: _mark_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_secrets(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles; Kubernetes wants 53, not 53.0
    return value


def redact(value: Any) -> Any:
    """The value with every secret replaced by `[secret]`."""
    if isinstance(value, Secret):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def reveal(value: Any) -> Any:
    """The value with every secret unwrapped (for tests that must see through the mark)."""
    if isinstance(value, Secret):
        return reveal(value.value)
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


@dataclass(frozen=True)
class Resource:
    """One registration as the engine would have seen it."""

    type: str
    """Pulumi type token, e.g. `kubernetes:apps/v1:Deployment`."""
    name: str
    """Logical name (unique per type in a stack)."""
    urn: str
    inputs: dict[str, Any]
    """Inputs with secret values wrapped in `Secret`."""
    parent: str | None
    """URN of the parent, None for the stack itself."""
    dependencies: tuple[str, ...]
    """URNs of explicit and implicit dependencies."""
    custom: bool
    """True for provider-managed resources, False for components."""
    alias_parents: tuple[str, ...] = ()
    """Parent URNs of its aliases (same name and type, earlier parent): what `pulumi up` matches the
    resource's earlier identity by when a refactoring moved it."""
    provider: str | None = None
    """Reference (`urn::id`) of the provider a custom resource goes through; None: the default one."""
    protect: bool = False
    retain_on_delete: bool = False

    @property
    def is_kubernetes_object(self) -> bool:
        """A plain Kubernetes object (not a Helm release, a YAML bundle or a provider)."""
        return self.custom and self.type.startswith("kubernetes:") and "apiVersion" in self.inputs \
            and "kind" in self.inputs

    @property
    def kind(self) -> str | None:
        return self.inputs.get("kind")

    @property
    def metadata(self) -> dict[str, Any]:
        return reveal(self.inputs.get("metadata") or {})

    @property
    def k8s_name(self) -> str | None:
        return self.metadata.get("name")

    @property
    def namespace(self) -> str | None:
        return self.metadata.get("namespace")

    @property
    def plain(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped."""
        return reveal(self.inputs)


@dataclass
class Recording:
    """Everything one stack declared, with lookups for tests."""

    stack: str
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """The stack's exported outputs."""

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[Resource]:
        """Kubernetes objects, optionally of one kind and/or in one namespace."""
        return [r for r in self.resources if r.is_kubernetes_object
                and (kind is None or r.kind == kind) and (namespace is None or r.namespace == namespace)]

    def object(self, kind: str, name: str, namespace: str | None = None) -> Resource:
        """The one Kubernetes object of that kind and name; fails loudly if absent or ambiguous."""
        found = [r for r in self.objects(kind, namespace) if r.k8s_name == name]
        if len(found) != 1:
            where = f" in namespace {namespace}" if namespace else ""
            raise LookupError(f"expected one {kind} {name!r}{where}, found {len(found)}")
        return found[0]

    def helm_releases(self) -> list[Resource]:
        return self.of_type("kubernetes:helm.sh/v3:Release")

    def helm_release(self, release_name: str) -> Resource:
        found = [r for r in self.helm_releases() if r.inputs.get("name") == release_name]
        if len(found) != 1:
            raise LookupError(f"expected one Helm release {release_name!r}, found {len(found)}")
        return found[0]

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def ancestors(self, resource: Resource) -> list[Resource]:
        chain, urn = [], resource.parent
        while urn:
            parent = self.by_urn(urn)
            chain.append(parent)
            urn = parent.parent
        return chain

    def top_component(self, resource: Resource) -> Resource | None:
        """The component directly under the stack that declared this resource (None at top level)."""
        chain = [r for r in [resource, *self.ancestors(resource)] if r.type != "pulumi:pulumi:Stack"]
        return chain[-1] if chain and not chain[-1].custom else None

    def depends_on(self, resource: Resource, target: Resource) -> bool:
        """True if `resource`, or any ancestor of it, depends on `target` or on any ancestor of target
        (a dependency on a component means on everything inside it)."""
        targets = {target.urn, *(a.urn for a in self.ancestors(target) if a.type != "pulumi:pulumi:Stack")}
        targets |= {r.urn for r in self.resources if target.urn in {a.urn for a in self.ancestors(r)}}
        return any(targets & set(r.dependencies) for r in [resource, *self.ancestors(resource)])


class _Mocks(mocks.Mocks):
    """Resource outputs the way the providers would fill them, as far as the program reads them."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict]:
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            # Deterministic, clearly fake, and secret-marked as the provider marks `result`.
            state["result"] = {_SIG_KEY: _SECRET_SIG, "value": f"mock-random-{args.name}"}
        elif args.typ == "docker-build:index:Image":
            state["digest"] = f"sha256:{'0' * 64}"
            state["ref"] = f"{(args.inputs.get('tags') or [args.name])[0]}@sha256:{'0' * 64}"
        elif args.typ.startswith("docker:") and args.typ.endswith(":Image"):
            image = args.inputs.get("imageName", args.name)
            state["repoDigest"] = f"{image.rsplit(':', 1)[0]}@sha256:{'0' * 64}"
            state["imageName"] = image
        elif args.typ == "kubernetes:helm.sh/v3:Release":
            state["status"] = {"name": args.inputs.get("name"), "namespace": args.inputs.get("namespace"),
                               "status": "deployed"}
        return f"{args.name}-id", state

    def call(self, args: mocks.MockCallArgs) -> tuple[dict, list | None]:
        return {}, None


class _RecordingMonitor(mocks.MockMonitor):
    def __init__(self, recording: Recording) -> None:
        super().__init__(_Mocks())
        self.recording = recording
        self._lock = threading.Lock()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        inputs = _mark_secrets(rpc.deserialize_properties(request.object)) if request.type != \
            "pulumi:pulumi:Stack" else {}
        with self._lock:
            self.recording.resources.append(Resource(
                type=request.type, name=request.name, urn=response.urn, inputs=inputs,
                parent=request.parent or None, dependencies=tuple(sorted(set(request.dependencies))),
                custom=bool(request.custom), provider=request.provider or None, protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                alias_parents=tuple(a.spec.parentUrn for a in request.aliases if a.HasField("spec")
                                    and a.spec.parentUrn)))
        return response


def mock_engine(stack_name: str) -> Recording:
    """Puts Pulumi's mocks in place of the engine for one stack; everything registered from now on
    lands in the returned recording."""
    _ensure_open_event_loop()
    # Start clean, as pulumi.runtime.test does: tasks left by an earlier run (on a loop that may be
    # closed by now) would otherwise be awaited forever by wait_for_rpcs.
    SETTINGS.outputs.clear()
    recording = Recording(stack=stack_name)
    ROOT.set(None)  # a fresh root Stack per recording, or a second stack would hang off the first's
    monitor = _RecordingMonitor(recording)
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT, stack=stack_name, preview=False, monitor=monitor)
    return recording


def settle() -> None:
    """Waits until every registration made so far has reached the recording."""
    _sync_await(wait_for_rpcs())


def record(cfg: PlatformConfig) -> Recording:
    """Builds the platform for `cfg` under mocks and returns everything it declared."""
    from event_platform import stack  # late import: components need the mocks in place first

    recording = mock_engine(cfg.stack)
    platform = stack.build(cfg)
    exports = stack.outputs(platform)

    async def resolve_exports() -> dict[str, Any]:
        resolved = {}
        for key, value in exports.items():
            output = pulumi.Output.from_input(value)
            resolved[key] = await output.future() if not await output.is_secret() else Secret(
                await output.future())
        await wait_for_rpcs()
        return resolved

    recording.outputs = _sync_await(resolve_exports())
    return recording


def _ensure_open_event_loop() -> None:
    """The mocks run on the thread's event loop; async test frameworks may have closed or unset it."""
    import asyncio

    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def close() -> None:
    """Closes the event loop the mocks ran on (call once, when no more stacks will be recorded)."""
    import asyncio

    loop = asyncio.get_event_loop()
    if not loop.is_closed():
        loop.close()
