"""What a stock managed cluster lacks (issue 11, item 9): the platform declares what it can (the
StorageClass its claims name, the load balancer's scheme on the data-plane Service) and refuses,
before declaring anything, a stack that cannot come up. The rest is in README "Prod prerequisites"."""

from __future__ import annotations

import copy

import pytest
import yaml

from event_platform import config
from harness import REPO_ROOT


def test_prod_declares_the_storage_class_its_claims_name_before_any_claim(recordings) -> None:
    """If this fails, `storageClass: gp3` names a class a stock EKS cluster does not have, and every
    Postgres, Redis and Prometheus volume stays Pending."""
    rec = recordings["prod"]
    cfg = config.load_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    sc = rec.object("StorageClass", cfg.cluster.storage_class).plain
    assert sc["provisioner"] == "ebs.csi.aws.com" and sc["parameters"]["type"] == "gp3"
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Retain", "WaitForFirstConsumer")
    storage = rec.object("StorageClass", cfg.cluster.storage_class)
    for env in cfg.namespaces.app_names:
        for kind, name in (("Cluster", "events-db"), ("StatefulSet", "redis")):
            assert rec.depends_on(rec.object(kind, name, env), storage), (kind, env)
    assert rec.depends_on(rec.helm_release("kube-prometheus-stack"), storage)


def test_dev_declares_no_storage_class(recordings) -> None:
    assert not recordings["dev"].objects("StorageClass"), "kind's `standard` class is the default"


def test_prods_front_door_is_an_internet_facing_load_balancer(recordings) -> None:
    """If this fails, the AWS Load Balancer Controller makes the Gateway's NLB internal and nobody
    outside the VPC reaches the collector."""
    values = recordings["prod"].helm_release("nginx-gateway-fabric").plain["values"]
    (patch,) = values["nginx"]["service"]["patches"]
    assert patch["type"] == "StrategicMerge"
    annotations = patch["value"]["metadata"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert "patches" not in recordings["dev"].helm_release("nginx-gateway-fabric").plain["values"]["nginx"]["service"]


def _error(stack: str, change) -> str:
    raw = copy.deepcopy(yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])
    change(raw)
    with pytest.raises(config.ConfigError) as caught:
        config.from_mapping(stack, raw, f"Pulumi.{stack}.yaml")
    (line,) = str(caught.value).splitlines()
    return line


def test_aws_load_balancer_settings_without_a_scheme_are_refused() -> None:
    line = _error("prod", lambda c: c["event-platform:gateway"]["serviceAnnotations"].pop(
        "service.beta.kubernetes.io/aws-load-balancer-scheme"))
    assert line.startswith("Pulumi.prod.yaml: event-platform:gateway: ")
    assert "expected internet-facing (public) or internal" in line


def test_lets_encrypt_for_a_name_public_dns_cannot_resolve_is_refused() -> None:
    """HTTP-01 needs the DNS record first; a localtest.me name never gets a certificate."""
    def change(c) -> None:
        c["event-platform:gateway"]["tls"] = {"issuer": "letsencrypt", "acmeEmail": "a@example.com"}
    line = _error("dev", change)
    assert "cannot prove events.localtest.me" in line and "expected a public domain or issuer self-signed" in line


def test_declaring_a_storage_class_needs_its_name() -> None:
    line = _error("prod", lambda c: c["event-platform:cluster"].pop("storageClass"))
    assert line.startswith("Pulumi.prod.yaml: event-platform:cluster: ") and "expected storageClass" in line


def test_a_managed_cluster_must_name_its_image_platforms() -> None:
    """The host's architecture fits kind on that host, not a remote cluster: an arm64 laptop deploying
    prod would otherwise ship an arm64-only image to amd64 nodes."""
    line = _error("prod", lambda c: c["event-platform:collector"].pop("image"))
    assert "collector.image.platforms is not set on a managed cluster" in line
