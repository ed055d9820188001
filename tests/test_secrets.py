"""Secrets: the External Secrets Operator, one ClusterSecretStore per stack (a namespace of the
cluster on dev, AWS Secrets Manager on prod), ExternalSecrets for every app secret, and no secret
value in clear text in state, rendered files or Helm values."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from event_platform import config, offline, versions
from event_platform.components import secrets as secrets_component
from event_platform.config import (
    AwsStoreConfig,
    KubernetesStoreConfig,
    PostgresBackupConfig,
    SecretsConfig,
    VaultStoreConfig,
)
from harness import REPO_ROOT, STACKS, stack_config

ESO_GROUP = "external-secrets.io"
STORE = secrets_component.STORE_NAME


def store(rec: offline.Recording) -> offline.Resource:
    return rec.object("ClusterSecretStore", STORE)


def external_secrets(rec: offline.Recording) -> list[offline.Resource]:
    return rec.objects("ExternalSecret")


def secrets_component_of(rec: offline.Recording) -> offline.Resource:
    (component,) = rec.of_type("event-platform:secrets:SecretStore")
    return component


def under(rec: offline.Recording, component: offline.Resource) -> list[offline.Resource]:
    return [r for r in rec if component.urn in {a.urn for a in rec.ancestors(r)}]


# ------------------------------------------------------------------------------------- operator
def test_the_operator_is_the_pinned_chart_and_installs_its_crds(recording) -> None:
    release = recording.helm_release(versions.EXTERNAL_SECRETS.name).plain
    assert (release["chart"], release["version"]) == (versions.EXTERNAL_SECRETS.name, versions.EXTERNAL_SECRETS.version)
    assert release["namespace"] == stack_config(recording.stack).namespaces.platform.secrets
    assert release["values"]["installCRDs"] is True
    assert recording.depends_on(store(recording), recording.helm_release(versions.EXTERNAL_SECRETS.name)), \
        "the store is a custom resource: the CRDs come first"


def test_on_aws_the_operator_assumes_the_configured_role_and_holds_no_static_key(recordings) -> None:
    cfg = stack_config("prod").secrets.store
    assert isinstance(cfg, AwsStoreConfig)
    values = recordings["prod"].helm_release(versions.EXTERNAL_SECRETS.name).plain["values"]
    assert values["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": cfg.role_arn}
    assert "auth" not in store(recordings["prod"]).plain["spec"]["provider"]["aws"]


# ---------------------------------------------------------------------------------------- store
def test_there_is_one_cluster_secret_store_per_stack(recording) -> None:
    assert [s.k8s_name for s in recording.objects("ClusterSecretStore")] == [STORE]
    assert not recording.objects("SecretStore"), "namespaced stores would split the one source of truth"


def test_the_dev_store_reads_a_platform_namespace_of_the_cluster_itself(recordings) -> None:
    cfg = stack_config("dev").secrets.store
    assert isinstance(cfg, KubernetesStoreConfig)
    provider = store(recordings["dev"]).plain["spec"]["provider"]
    assert list(provider) == ["kubernetes"]
    kube = provider["kubernetes"]
    assert kube["remoteNamespace"] == cfg.namespace
    assert kube["auth"] == {"serviceAccount": {"name": secrets_component.STORE_READER, "namespace": cfg.namespace}}
    assert kube["server"]["caProvider"]["name"] == "kube-root-ca.crt"


def test_the_dev_store_reader_can_read_secrets_of_the_store_namespace_and_nothing_else(recordings) -> None:
    ns = stack_config("dev").secrets.store.namespace
    role = recordings["dev"].object("Role", secrets_component.STORE_READER, ns).plain
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]
    assert not recordings["dev"].objects("ClusterRole"), "no cluster-wide read of Secrets"


def test_the_prod_store_is_aws_secrets_manager_in_the_configured_region(recordings) -> None:
    cfg = stack_config("prod").secrets.store
    provider = store(recordings["prod"]).plain["spec"]["provider"]
    assert provider == {"aws": {"service": "SecretsManager", "region": cfg.region}}


def test_a_vault_store_is_one_config_change_away() -> None:
    """The store is a typed choice: the same program builds a Vault store from a Vault config (here
    under the provider-shape function, which is all that differs between providers)."""
    vault = VaultStoreConfig(provider="vault", server="https://vault.example.com:8200")
    operator_ns = SimpleNamespace(metadata=SimpleNamespace(name="external-secrets"))
    provider = secrets_component.store_provider(vault, operator_ns)
    assert list(provider) == ["vault"]
    assert provider["vault"]["server"] == vault.server and provider["vault"]["version"] == "v2"
    assert provider["vault"]["auth"]["kubernetes"]["role"] == vault.role
    assert secrets_component.store_provider(
        AwsStoreConfig(provider="aws", region="eu-west-1", role_arn="arn:aws:iam::123456789012:role/x"),
        operator_ns) == {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}


def test_the_stack_file_chooses_the_store_by_its_provider_key() -> None:
    for provider, model in (("kubernetes", KubernetesStoreConfig), ("aws", AwsStoreConfig),
                            ("vault", VaultStoreConfig)):
        raw = {"kubernetes": {"provider": "kubernetes"},
               "aws": {"provider": "aws", "region": "eu-west-1", "roleArn": "arn:aws:iam::123456789012:role/x"},
               "vault": {"provider": "vault", "server": "https://vault:8200"}}[provider]
        assert isinstance(SecretsConfig.model_validate({"store": raw}).store, model)


# ------------------------------------------------------------------------------- ExternalSecrets
def test_every_external_secrets_object_uses_the_v1_api(recording, rendered) -> None:
    """v1beta1 is no longer served by ESO 2.x: an object in it fails at `pulumi up`."""
    objects = [r for r in recording.objects() if r.inputs["apiVersion"].startswith(f"{ESO_GROUP}/")]
    assert objects
    assert {r.inputs["apiVersion"] for r in objects} == {secrets_component.ESO_API} == {f"{ESO_GROUP}/v1"}
    for path in Path(rendered[recording.stack]).glob("*.yaml"):
        assert f"{ESO_GROUP}/v1beta1" not in path.read_text(), path.name
        assert f"{ESO_GROUP}/v1alpha1" not in path.read_text(), path.name


def test_every_external_secret_reads_the_stacks_store_under_its_prefix_and_waits_for_it(recording) -> None:
    prefix = stack_config(recording.stack).secrets.key_prefix
    the_store = store(recording)
    for es in external_secrets(recording):
        spec = es.plain["spec"]
        assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": STORE}
        assert spec["target"]["creationPolicy"] == "Owner", "the Secret goes when its ExternalSecret goes"
        assert spec["refreshInterval"] == secrets_component.REFRESH_INTERVAL
        assert spec["data"], es.k8s_name
        for item in spec["data"]:
            assert item["remoteRef"]["key"].startswith(prefix) and item["remoteRef"]["property"]
        assert recording.depends_on(es, the_store), es.k8s_name


def test_every_app_environment_gets_its_redis_password_from_an_external_secret(recording) -> None:
    for env in stack_config(recording.stack).namespaces.app_names:
        es = recording.object("ExternalSecret", "redis-auth", env).plain["spec"]
        assert es["data"][0]["remoteRef"]["property"] == "password"


def remote_entries(rec: offline.Recording) -> set[tuple[str, str]]:
    """(entry key without the stack's prefix, property) of everything the ExternalSecrets read."""
    prefix = stack_config(rec.stack).secrets.key_prefix
    return {(d["remoteRef"]["key"].removeprefix(prefix), d["remoteRef"]["property"])
            for es in external_secrets(rec) for d in es.plain["spec"]["data"]}


def test_the_dev_store_seeds_every_entry_it_is_asked_for_with_a_generated_secret(recordings) -> None:
    """On dev nobody fills a vault by hand: each entry an ExternalSecret reads must exist, generated."""
    rec = recordings["dev"]
    ns = stack_config("dev").secrets.store.namespace
    entries = remote_entries(rec)
    assert entries
    for key, prop in entries:
        seed = rec.object("Secret", key, ns)
        assert isinstance(seed.inputs["stringData"], offline.Secret) or all(
            isinstance(v, offline.Secret) for v in seed.inputs["stringData"].values())
        assert prop in offline.reveal(seed.inputs["stringData"]), (key, prop)
    for es in external_secrets(rec):
        for d in es.plain["spec"]["data"]:
            assert rec.depends_on(es, rec.object("Secret", d["remoteRef"]["key"], ns)), \
                "an ExternalSecret created before its seed fails its first sync"
    generated = {r.name for r in rec.of_type("random:index/randomPassword:RandomPassword")}
    assert len(generated) == len(entries)


def test_the_prod_store_seeds_nothing(recordings) -> None:
    """With a real vault, values are put there by the people who own them (docs/data-and-secrets.md):
    Pulumi generating them would put them into its state."""
    rec = recordings["prod"]
    component = secrets_component_of(rec)
    assert not [r for r in under(rec, component) if r.kind == "Secret"]
    assert not [r for r in under(rec, component) if r.type == "random:index/randomPassword:RandomPassword"]
    assert "platform-secrets" not in {ns.k8s_name for ns in rec.objects("Namespace")}


def test_the_prod_vault_entries_are_the_ones_the_docs_list(recordings) -> None:
    """docs/data-and-secrets.md tells whoever fills the prod vault which entries must exist."""
    docs = (REPO_ROOT / "docs" / "data-and-secrets.md").read_text()
    prefix = stack_config("prod").secrets.key_prefix
    for key, prop in sorted(remote_entries(recordings["prod"])):
        assert f"`{prefix}{key}`" in docs and f"`{prop}`" in docs, (key, prop)


def test_the_dev_store_refuses_an_entry_it_cannot_generate() -> None:
    """Object-storage credentials cannot be made up: a dev stack with backups fails loudly instead of
    deploying a Cluster whose WAL archiving silently fails."""
    cfg = stack_config("dev")
    with_backups = cfg.model_copy(update={"postgres": cfg.postgres.model_copy(
        update={"backup": PostgresBackupConfig(destination_path="s3://bucket/dev")})})
    with pytest.raises(ValueError, match="cannot be generated"):
        offline.record(with_backups)


# ------------------------------------------------------------------------------ nothing in clear
def stack_file_strings(stack: str) -> set[str]:
    def walk(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in walk(v)]
        if isinstance(value, list):
            return [s for v in value for s in walk(v)]
        return [value] if isinstance(value, str) else []
    document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    return set(walk(document["config"]))


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_manifest_carries_a_literal_from_a_stack_file(stack: str, recordings) -> None:
    """A Secret's values must be secret outputs (generated, or from `secure:` config), never a string
    someone typed into a stack file, which git and the state would then hold in clear."""
    rec, literals = recordings[stack], stack_file_strings(stack)
    for secret in rec.objects("Secret"):
        for field in ("data", "stringData"):
            value = secret.inputs.get(field)
            if value is None:
                continue
            values = offline.reveal(value)
            assert isinstance(value, offline.Secret) or all(isinstance(v, offline.Secret) for v in value.values()), \
                f"{secret.namespace}/{secret.k8s_name}.{field} is not a secret output"
            assert not set(map(str, values.values())) & literals, f"{secret.namespace}/{secret.k8s_name}"


def _clear_strings(value: Any) -> list[str]:
    """Strings of a recorded value that are not under a secret mark."""
    if isinstance(value, offline.Secret):
        return []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _clear_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _clear_strings(v)]
    return [value] if isinstance(value, str) else []


def test_secure_config_values_stay_secret_in_every_resource_and_helm_value(recording) -> None:
    """`secure:` values (placeholders offline) may reach a resource only under a secret mark, so Pulumi
    encrypts them in state and render writes `[secret]`."""
    for r in recording:
        leaked = [s for s in _clear_strings(r.inputs) if "offline-placeholder-for-" in s]
        assert not leaked, f"{r.type} {r.name}: {leaked}"
    for r in recording.of_type("random:index/randomPassword:RandomPassword"):
        assert r.inputs.get("special") is False, "generated values go into URLs and config files"


@pytest.fixture(scope="module")
def recording_with_a_secure_registry_password(tmp_path_factory: pytest.TempPathFactory) -> offline.Recording:
    """The prod stack with a `secure:` registry password, as a real stack file would carry it; the
    committed stack files hold none, so without this the registry-password branch never runs."""
    document = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    document["config"]["event-platform:collector"]["registry"].update(
        username="ci-push", password={"secure": "v1:AAAABBBBCCCC"})
    path = tmp_path_factory.mktemp("secure-stack") / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document))
    return offline.record(config.load_stack_file(path))


def test_a_secure_registry_password_reaches_the_image_push_only_under_a_secret_mark(
        recording_with_a_secure_registry_password: offline.Recording) -> None:
    """If this fails, the push password is in the state in clear text (or the branch that passes it
    was removed and the push is anonymous)."""
    rec = recording_with_a_secure_registry_password
    placeholder = "offline-placeholder-for-config.event-platform:collector.registry.password"
    marked = [r for r in rec if placeholder in repr(offline.reveal(r.inputs))]
    assert marked, "no resource received the registry password: the branch that uses it did not run"
    for r in rec:
        leaked = [s for s in _clear_strings(r.inputs) if "offline-placeholder-for-" in s]
        assert not leaked, f"{r.type} {r.name}: {leaked}"
