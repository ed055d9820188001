"""Secrets from a real store, never from the image or the stack file: the External Secrets Operator
and one `ClusterSecretStore` per stack.

Components ask for a Kubernetes Secret with `SecretStore.external_secret(...)`, naming the entries
(`SecretEntry`) it is made of. Where the store is the platform's own namespace (dev: no cloud account),
the store seeds each entry with a value Pulumi generates and holds as a secret output; with a real
vault (prod), the entries are created there by the people who own them (docs/data-and-secrets.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import BaseModel, ConfigDict

from event_platform import labels, versions
from event_platform.components.helm import helm_release
from event_platform.config.secrets import AwsStoreConfig, KubernetesStoreConfig, SecretsConfig, VaultStoreConfig

ESO_API = "external-secrets.io/v1"
STORE_NAME = "platform-secrets"
"""metadata.name of the platform's ClusterSecretStore."""
TEAM_STORE_PREFIX = "team-"
"""A team's ClusterSecretStore is `team-<team>`."""
REFRESH_INTERVAL = "1h"
"""How often ExternalSecrets re-read the store (a rotated value reaches pods within this, plus a restart)."""
STORE_READER = "external-secrets-reader"
"""Service account in the dev store namespace whose token the operator uses to read it."""


@dataclass(frozen=True)
class SecretEntry:
    """One value in the secret store: `property` of the entry named `key` (AWS secret name, Vault
    path, or Secret name in the dev store namespace)."""

    key: str
    property: str
    generate_length: int | None = 32
    """Length of the random value the dev store seeds. None: cannot be generated (e.g. a webhook URL),
    so it must be put into the store by hand."""


class SecretStoreArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    config: SecretsConfig
    """Which store, and the entry-name prefix."""
    namespace: k8s.core.v1.Namespace
    """Where the operator runs (the platform's `external-secrets` namespace)."""
    store_namespace: k8s.core.v1.Namespace | None = None
    """The namespace holding the source Secrets; required with the `kubernetes` provider (a team's
    store has a namespace of its own)."""
    operator: k8s.helm.v3.Release | None = None
    """The operator release another store installed (the platform's): a team's store reuses it.
    Omitted: this store installs the operator."""
    team: str | None = None
    """The team whose entries the store serves, as `team-<team>`: AWS entries under
    `<keyPrefix><team>/` (the provider's `prefix`, which ESO puts before every key it fetches), Vault
    entries under the same path read with role `<role>-<team>`, dev entries in the team's own store
    namespace. Omitted: the platform's store `platform-secrets`."""
    namespaces: tuple[str, ...] | None = None
    """The only namespaces whose ExternalSecrets the store serves (ClusterSecretStore `conditions`).
    Omitted: every namespace."""


class SecretStore(pulumi.ComponentResource):
    """External Secrets Operator (Helm, pinned) and the stack's ClusterSecretStore."""

    store_name: str
    """Name of the ClusterSecretStore every ExternalSecret refers to."""
    operator: k8s.helm.v3.Release
    """The operator's Helm release; it also installs the external-secrets.io CRDs."""
    store: k8s.apiextensions.CustomResource
    """The ClusterSecretStore."""

    def __init__(self, name: str, args: SecretStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("event-platform:secrets:SecretStore", name, None, opts)
        self._name = name
        self._args = args
        self._seeded: dict[str, tuple[k8s.core.v1.Secret, set[str]]] = {}
        self.store_name = STORE_NAME if args.team is None else f"{TEAM_STORE_PREFIX}{args.team}"
        store_cfg = args.config.store

        self.operator = args.operator or helm_release(
            f"{name}-operator", versions.EXTERNAL_SECRETS, namespace=args.namespace.metadata.name,
            values=operator_values(store_cfg),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.namespace]))

        depends: list[pulumi.Resource] = [self.operator]
        if isinstance(store_cfg, KubernetesStoreConfig):
            if args.store_namespace is None:
                raise ValueError("the kubernetes secret store needs store_namespace")
            depends += self._dev_store_reader(args.store_namespace)

        spec: dict[str, Any] = {"provider": store_provider(
            store_cfg, args.namespace, team=args.team, key_prefix=args.config.key_prefix,
            store_namespace=args.store_namespace.metadata.name if args.store_namespace is not None else None)}
        if args.namespaces is not None:
            # ESO refuses an ExternalSecret outside these namespaces (a team cannot name another's store)
            spec["conditions"] = [{"namespaces": sorted(args.namespaces)}]
        self.store = k8s.apiextensions.CustomResource(
            f"{name}-store",
            api_version=ESO_API, kind="ClusterSecretStore",
            metadata={"name": self.store_name, "labels": labels.common(self.store_name, "secrets")},
            spec=spec, opts=pulumi.ResourceOptions(parent=self, depends_on=depends))
        self.register_outputs({"store_name": self.store_name, "operator": self.operator.status})

    def _dev_store_reader(self, store_ns: k8s.core.v1.Namespace) -> list[pulumi.Resource]:
        """A service account allowed to read Secrets in the store namespace, and nothing else."""
        child = pulumi.ResourceOptions(parent=self, depends_on=[store_ns])
        ns = store_ns.metadata.name
        account = k8s.core.v1.ServiceAccount(
            f"{self._name}-reader", metadata={"name": STORE_READER, "namespace": ns,
                                              "labels": labels.common(STORE_READER, "secrets")}, opts=child)
        role = k8s.rbac.v1.Role(
            f"{self._name}-reader-role",
            metadata={"name": STORE_READER, "namespace": ns, "labels": labels.common(STORE_READER, "secrets")},
            rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}],
            opts=child)
        binding = k8s.rbac.v1.RoleBinding(
            f"{self._name}-reader-binding",
            metadata={"name": STORE_READER, "namespace": ns, "labels": labels.common(STORE_READER, "secrets")},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": STORE_READER},
            subjects=[{"kind": "ServiceAccount", "name": STORE_READER, "namespace": ns}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, role]))
        return [account, role, binding]

    def _seeds_for(self, entries: Mapping[str, SecretEntry]) -> list[k8s.core.v1.Secret]:
        """In the dev store, the seed Secrets holding `entries`, generated on first use. All properties
        of one key live in one Secret, so the first request for a key must name all of them."""
        if not isinstance(self._args.config.store, KubernetesStoreConfig):
            return []
        by_key: dict[str, dict[str, SecretEntry]] = {}
        for entry in entries.values():
            by_key.setdefault(entry.key, {})[entry.property] = entry
        seeds = []
        for key, props in sorted(by_key.items()):
            if key not in self._seeded:
                self._seeded[key] = (self._new_seed(key, props), set(props))
            secret, known = self._seeded[key]
            if missing := set(props) - known:
                raise ValueError(f"secret entry {key}: properties {sorted(missing)} asked for after its seed "
                                 f"was declared with {sorted(known)}; request all properties of a key at once")
            seeds.append(secret)
        return seeds

    def _new_seed(self, key: str, props: Mapping[str, SecretEntry]) -> k8s.core.v1.Secret:
        namespace = self._args.store_namespace
        assert namespace is not None  # only the kubernetes store seeds, and __init__ checked it has one
        values = {}
        for prop, entry in sorted(props.items()):
            if entry.generate_length is None:
                raise ValueError(f"secret entry {key}/{prop} cannot be generated, and the dev store has no other "
                                 "way to fill it; put it into a real vault instead")
            values[prop] = random.RandomPassword(
                f"{self._name}-{key}-{prop}", length=entry.generate_length, special=False,
                opts=pulumi.ResourceOptions(parent=self)).result
        return k8s.core.v1.Secret(
            f"{self._name}-seed-{key}",
            metadata={"name": key, "namespace": namespace.metadata.name,
                      "labels": labels.common(key, "secret-seed")},
            type="Opaque", string_data=values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]))

    def external_secret(
        self,
        resource_name: str,
        *,
        namespace: k8s.core.v1.Namespace,
        secret_name: str,
        data: Mapping[str, SecretEntry],
        template: Mapping[str, str] | None = None,
        secret_type: str = "Opaque",
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        """An ExternalSecret that keeps the Kubernetes Secret `secret_name` in `namespace` filled with
        `data` (Secret key -> store entry). `template` (Secret key -> Go template over the `data` keys)
        composes values such as URLs; then the Secret holds exactly the template's keys. `secret_type`
        other than Opaque (e.g. `kubernetes.io/dockerconfigjson`) needs a template.

        `opts` must carry the caller's `parent`; the dependency on the store is added here.
        """
        seeds = self._seeds_for(data)
        target: dict[str, Any] = {"name": secret_name, "creationPolicy": "Owner"}
        if secret_type != "Opaque" and not template:
            raise ValueError(f"a {secret_type} Secret needs a template naming its keys")
        if template:
            target["template"] = {"engineVersion": "v2", "type": secret_type, "data": dict(template)}
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=ESO_API, kind="ExternalSecret",
            metadata={"name": secret_name, "namespace": namespace.metadata.name,
                      "labels": labels.common(secret_name, "secret")},
            spec={
                "refreshInterval": REFRESH_INTERVAL,
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": self.store_name},
                "target": target,
                "data": [{"secretKey": key, "remoteRef": {"key": self.remote_key(entry.key), "property": entry.property}}
                         for key, entry in sorted(data.items())],
            },
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[self.store, namespace, *seeds])))


    def remote_key(self, key: str) -> str:
        """The `remoteRef.key` an ExternalSecret names for entry `key` of this store."""
        prefix, team, store = self._args.config.key_prefix, self._args.team, self._args.config.store
        if team is None:
            return f"{prefix}{key}"
        if isinstance(store, VaultStoreConfig):
            return f"{prefix}{team}/{key}"
        return key  # AWS: the store's `prefix` adds `<keyPrefix><team>/`; dev: the team's own namespace


def operator_values(store: KubernetesStoreConfig | VaultStoreConfig | AwsStoreConfig) -> dict[str, Any]:
    """Helm values of the operator. Its chart already runs restricted-compliant pods."""
    small = {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
    values: dict[str, Any] = {
        "installCRDs": True,
        "resources": small,
        "webhook": {"resources": small},
        "certController": {"resources": small},
    }
    if isinstance(store, AwsStoreConfig):
        # IRSA: the operator's pods assume the role; the store then needs no static credentials.
        values["serviceAccount"] = {"annotations": {"eks.amazonaws.com/role-arn": store.role_arn}}
    return values


def store_provider(store: KubernetesStoreConfig | VaultStoreConfig | AwsStoreConfig,
                   operator_ns: k8s.core.v1.Namespace, *, team: str | None = None, key_prefix: str = "",
                   store_namespace: pulumi.Input[str] | None = None) -> dict[str, Any]:
    """The ClusterSecretStore's `spec.provider` for the configured store (a team's store: only that
    team's entries). Adding a store kind means a config model in config/secrets.py and one branch here."""
    if isinstance(store, KubernetesStoreConfig):
        source = store_namespace if store_namespace is not None else store.namespace
        return {"kubernetes": {
            "remoteNamespace": source,
            "server": {"url": "https://kubernetes.default.svc",
                       "caProvider": {"type": "ConfigMap", "name": "kube-root-ca.crt", "key": "ca.crt",
                                      "namespace": source}},
            "auth": {"serviceAccount": {"name": STORE_READER, "namespace": source}},
        }}
    if isinstance(store, VaultStoreConfig):
        return {"vault": {
            "server": store.server, "path": store.path, "version": "v2",
            # a team's role: its Vault policy grants `<path>/<keyPrefix><team>/*` and nothing else
            "auth": {"kubernetes": {"mountPath": "kubernetes", "role": store.role + (f"-{team}" if team else ""),
                                    "serviceAccountRef": {"name": versions.EXTERNAL_SECRETS.name,
                                                          "namespace": operator_ns.metadata.name}}},
        }}
    aws: dict[str, Any] = {"service": "SecretsManager", "region": store.region}
    if team is not None:
        # providers/v1/aws/secretsmanager/secretsmanager.go (fetch): `key := sm.prefix + ref.Key`
        aws["prefix"] = f"{key_prefix}{team}/"
    return {"aws": aws}
