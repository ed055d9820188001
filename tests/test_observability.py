"""Observability: metrics reach Prometheus exactly once, monitors and rules are selected, Grafana
sees both datasources and is routed through the Gateway, logs ship with their labels, and no Helm
values carry a credential.

The contracts with the charts (service names, the release-label selector, the Prometheus datasource
URL) are modelled here from the pinned charts' templates (kube-prometheus-stack 88.5.3,
templates/prometheus/prometheus.yaml and templates/grafana/configmaps-datasources.yaml; loki 18.11.0,
templates/monolithic/service.yaml and _helpers.tpl `loki.host`); a chart bump must re-check them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from event_platform import labels, offline, render, stack
from event_platform.components import app_monitoring, logging_stack, prometheus_stack, scraping
from event_platform.components.network import Peer, allow_ingress
from harness import shared_path, stack_config

MONITORING = "monitoring.coreos.com"
MONITOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule", "Probe", "ScrapeConfig")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
METRICS_PORT_NAMES = ("metrics", "http-metrics")
"""Container ports with these names serve metrics: such a pod must be scraped (once)."""


# ------------------------------------------------------------------------------------------ helpers
def values(recording, release: str) -> dict[str, Any]:
    return recording.helm_release(release).plain["values"]


def kps(recording) -> dict[str, Any]:
    return values(recording, prometheus_stack.KPS_RELEASE)


def monitoring_ns(recording) -> str:
    return stack_config(recording.stack).namespaces.platform.monitoring


def app_namespaces(recording) -> tuple[str, ...]:
    return stack_config(recording.stack).namespaces.app_names


def matches(selector: dict | None, have: dict[str, str]) -> bool:
    """Kubernetes LabelSelector semantics (matchLabels and matchExpressions); {} matches all."""
    selector = selector or {}
    if any(have.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, vals = e["key"], e["operator"], e.get("values") or []
        if (op == "In" and have.get(key) not in vals) or (op == "NotIn" and have.get(key) in vals) or \
                (op == "Exists" and key not in have) or (op == "DoesNotExist" and key in have):
            return False
    return True


def namespace_labels(recording, name: str) -> dict[str, str]:
    ns = recording.object("Namespace", name)
    return {**(ns.metadata.get("labels") or {}), labels.NAMESPACE_NAME: name}


@dataclass
class PodTemplate:
    """The pods one workload runs, as far as scraping is concerned."""

    owner: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    containers: list[dict] = field(default_factory=list)

    def port(self, name_or_number: str | int) -> int | None:
        for c in self.containers:
            for p in c.get("ports") or []:
                if name_or_number in (p.get("name"), p.get("containerPort")):
                    return p["containerPort"]
        return None


def pod_templates(recording) -> list[PodTemplate]:
    """Every pod template of the stack, and the pods CloudNativePG runs for each Cluster (labels and
    ports from its documentation: `cnpg.io/cluster`, `cnpg.io/podRole: instance`, `metrics` 9187)."""
    found = []
    for r in recording.objects():
        spec = r.plain.get("spec") or {}
        if r.kind in WORKLOAD_KINDS and "." not in r.inputs["apiVersion"].rpartition("/")[0]:
            tpl = spec if r.kind == "Pod" else (spec.get("jobTemplate", {}).get("spec", {}).get("template")
                                                if r.kind == "CronJob" else spec.get("template"))
            meta = (r.metadata if r.kind == "Pod" else tpl.get("metadata")) or {}
            pod_spec = spec if r.kind == "Pod" else tpl.get("spec") or {}
            found.append(PodTemplate(f"{r.kind}/{r.namespace}/{r.k8s_name}", r.namespace, meta.get("labels") or {},
                                     meta.get("annotations") or {}, pod_spec.get("containers") or []))
        elif r.kind == "Cluster" and r.inputs["apiVersion"].startswith("postgresql.cnpg.io/"):
            inherited = spec.get("inheritedMetadata") or {}
            found.append(PodTemplate(
                f"Cluster/{r.namespace}/{r.k8s_name}", r.namespace,
                {**(inherited.get("labels") or {}), "cnpg.io/cluster": r.k8s_name, "cnpg.io/podRole": "instance"},
                inherited.get("annotations") or {},
                [{"name": "postgres", "ports": [{"name": "postgresql", "containerPort": 5432},
                                                {"name": "metrics", "containerPort": 9187}]}]))
    return found


def sanitize(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def relabel(rules: list[dict], target: dict[str, str]) -> dict[str, str] | None:
    """Prometheus relabelling (keep, drop, replace) of one discovered target; None if dropped."""
    target = dict(target)
    for rule in rules:
        action = rule.get("action", "replace")
        value = rule.get("separator", ";").join(target.get(s, "") for s in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            result = re.sub(r"\$\{?(\d+)\}?", lambda g, m=match: m.group(int(g.group(1))) or "",
                            rule.get("replacement", "$1"))
            if result:
                target[rule["target_label"]] = result
            else:
                target.pop(rule["target_label"], None)
        elif action not in ("keep", "drop", "replace"):
            raise AssertionError(f"relabel action {action} is not modelled by this test")
    return target


def annotation_targets(scrape_config: dict, pod: PodTemplate) -> list[dict[str, str]]:
    """What pod discovery offers the annotation job for this pod (one target per container port, or
    per container without ports), after relabelling, deduplicated as Prometheus does."""
    meta = {"__meta_kubernetes_namespace": pod.namespace, "__meta_kubernetes_pod_name": "pod-0",
            "__meta_kubernetes_pod_phase": "Running", "__metrics_path__": "/metrics", "__scheme__": "http",
            **{f"__meta_kubernetes_pod_label_{sanitize(k)}": v for k, v in pod.labels.items()},
            **{f"__meta_kubernetes_pod_annotation_{sanitize(k)}": v for k, v in pod.annotations.items()}}
    addresses = [f"10.0.0.1:{p['containerPort']}" for c in pod.containers for p in c.get("ports") or []] or \
        ["10.0.0.1"]
    targets = [relabel(scrape_config["relabel_configs"], {**meta, "__address__": a}) for a in addresses]
    unique = {json.dumps({k: v for k, v in t.items() if not k.startswith("__meta_")}, sort_keys=True)
              for t in targets if t is not None}
    return [json.loads(t) for t in sorted(unique)]


def annotation_job(recording) -> dict:
    (job,) = [j for j in kps(recording)["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"]
              if j["job_name"] == scraping.ANNOTATION_JOB]
    return job


def monitor_namespaces(monitor: offline.Resource) -> tuple[bool, list[str]]:
    """(any namespace?, names) a ServiceMonitor/PodMonitor looks in: its own unless it says otherwise."""
    nss = monitor.plain["spec"].get("namespaceSelector") or {}
    return bool(nss.get("any")), nss.get("matchNames") or [monitor.namespace]


def scrapes(recording, pod: PodTemplate) -> list[str]:
    """Every way Prometheus scrapes `pod`: the annotation job, and each monitor endpoint reaching it."""
    found = [f"annotation job {scraping.ANNOTATION_JOB}"] if annotation_targets(annotation_job(recording),
                                                                                      pod) else []
    for sm in recording.objects("ServiceMonitor"):
        any_ns, names = monitor_namespaces(sm)
        if not (any_ns or pod.namespace in names):
            continue
        for svc in recording.objects("Service", pod.namespace):
            svc_spec = svc.plain["spec"]
            if not matches(sm.plain["spec"].get("selector"), svc.metadata.get("labels") or {}) or \
                    not svc_spec.get("selector") or not matches({"matchLabels": svc_spec["selector"]}, pod.labels):
                continue
            port_names = {p.get("name") for p in svc_spec.get("ports") or []}
            found += [f"ServiceMonitor {sm.namespace}/{sm.k8s_name} via Service {svc.k8s_name} port {ep['port']}"
                      for ep in sm.plain["spec"]["endpoints"] if ep.get("port") in port_names]
    for pm in recording.objects("PodMonitor"):
        any_ns, names = monitor_namespaces(pm)
        if (any_ns or pod.namespace in names) and matches(pm.plain["spec"].get("selector"), pod.labels):
            found += [f"PodMonitor {pm.namespace}/{pm.k8s_name} port {ep.get('port')}"
                      for ep in pm.plain["spec"]["podMetricsEndpoints"] if pod.port(ep.get("port")) is not None]
    return found


def exposes_metrics(pod: PodTemplate, how: list[str]) -> bool:
    return bool(how) or pod.annotations.get(scraping.SCRAPE_ANNOTATION) == "true" or \
        any(pod.port(name) is not None for name in METRICS_PORT_NAMES)


def walk(value: Any, path: str = ""):
    """(path, key, value) for every entry of nested dicts/lists."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield f"{path}[{i}]", None, v
            yield from walk(v, f"{path}[{i}]")


# ------------------------------------------------------------------------------------------ scraping
def scrape_count_problems(recording) -> list[str]:
    problems = []
    for pod in pod_templates(recording):
        if pod.namespace not in app_namespaces(recording):
            continue
        how = scrapes(recording, pod)
        if len(how) > 1 or (exposes_metrics(pod, how) and len(how) != 1):
            problems.append(f"{pod.owner}: scraped {len(how)} times ({'; '.join(how) or 'never'})")
    return problems


def test_every_app_workload_exposing_metrics_is_scraped_exactly_once(recording) -> None:
    """Scraped twice, every rate and sum doubles and alerts lie; scraped never, nobody sees it break.
    A pod counts once per way in: the annotation job (annotated, not dropped) and every ServiceMonitor
    endpoint (-> Service -> pods) or PodMonitor endpoint that reaches it."""
    problems = scrape_count_problems(recording)
    assert not problems, "\n".join(problems)


def test_each_app_environment_has_scraped_workloads(recording) -> None:
    """An environment whose workloads nobody scrapes has no metrics, no alerts and empty dashboards."""
    for ns in app_namespaces(recording):
        scraped = [p.owner for p in pod_templates(recording) if p.namespace == ns and scrapes(recording, p)]
        assert scraped, f"nothing is scraped in {ns}"


ANNOTATED = {scraping.SCRAPE_ANNOTATION: "true", scraping.PORT_ANNOTATION: "9102",
             scraping.PATH_ANNOTATION: "/custom-metrics"}
TWO_PORTS = [{"name": "app", "ports": [{"name": "http", "containerPort": 8080},
                                       {"name": "metrics", "containerPort": 9102}]}]


@pytest.mark.parametrize(("pod_labels", "annotations", "scraped"), [
    ({}, ANNOTATED, True),
    (app_monitoring.scraped_by_monitor_labels(), ANNOTATED, False),
    ({labels.SCRAPED_BY: labels.SCRAPED_BY_POD_MONITOR}, ANNOTATED, False),
    ({labels.SCRAPED_BY: "something-else"}, ANNOTATED, True),
    ({}, {**ANNOTATED, scraping.SCRAPE_ANNOTATION: "false"}, False),
    ({}, {}, False),
], ids=["annotated", "annotated-and-servicemonitor", "annotated-and-podmonitor", "unknown-scraped-by",
        "scrape-false", "not-annotated"])
def test_the_annotation_job_scrapes_annotated_pods_unless_a_monitor_covers_them(
        recordings, pod_labels, annotations, scraped) -> None:
    """The relabelling Prometheus runs, not a description of it: the job's own rules applied to the
    discovery labels of a pod with two container ports. `annotation_scraping_applies` (what apps
    and docs rely on) must agree, and an annotated pod yields one target at its annotated port and path."""
    pod = PodTemplate("Deployment/x/app", "x", pod_labels, annotations, TWO_PORTS)
    targets = annotation_targets(annotation_job(recordings["dev"]), pod)
    assert bool(targets) == scraped == scraping.annotation_scraping_applies(pod_labels, annotations)
    if scraped:
        (target,) = targets
        assert target["__address__"] == "10.0.0.1:9102"
        assert target["__metrics_path__"] == "/custom-metrics"
        assert target["namespace"] == "x" and target["pod"] == "pod-0"


def test_the_label_apps_add_to_skip_the_annotation_job_is_the_one_it_drops(recording) -> None:
    """The pod label is spelled in labels.py, the drop rule names its sanitised form: a rename on one
    side only would silently double-scrape every monitored app."""
    drop = [r for r in annotation_job(recording)["relabel_configs"] if r["action"] == "drop"
            and r["source_labels"] == [f"__meta_kubernetes_pod_label_{sanitize(labels.SCRAPED_BY)}"]]
    assert drop and re.fullmatch(drop[0]["regex"], labels.SCRAPED_BY_SERVICE_MONITOR)
    assert app_monitoring.AppMonitoring.POD_LABELS == {labels.SCRAPED_BY: labels.SCRAPED_BY_SERVICE_MONITOR}


def test_every_service_monitor_selects_an_existing_service_with_the_named_port(recording) -> None:
    problems = []
    for sm in recording.objects("ServiceMonitor"):
        any_ns, names = monitor_namespaces(sm)
        services = [s for s in recording.objects("Service") if (any_ns or s.namespace in names)
                    and matches(sm.plain["spec"].get("selector"), s.metadata.get("labels") or {})]
        if not services:
            problems.append(f"{sm.namespace}/{sm.k8s_name}: selects no Service")
        for ep in sm.plain["spec"]["endpoints"]:
            with_port = [s for s in services if ep.get("port") in {p.get("name") for p in s.plain["spec"]["ports"]}]
            if services and not with_port:
                problems.append(f"{sm.namespace}/{sm.k8s_name}: no selected Service has a port named {ep.get('port')}")
            for svc in with_port:  # and the Service leads to pods that serve that port
                spec = svc.plain["spec"]
                target = next(p for p in spec["ports"] if p.get("name") == ep["port"]).get("targetPort")
                pods = [p for p in pod_templates(recording) if p.namespace == svc.namespace
                        and matches({"matchLabels": spec["selector"]}, p.labels)]
                if not pods or not all(p.port(target) is not None for p in pods):
                    problems.append(f"{sm.namespace}/{sm.k8s_name}: Service {svc.k8s_name} port {ep['port']} "
                                    f"does not lead to a container port {target!r}")
    assert not problems, "\n".join(problems)


def test_every_pod_monitor_selects_pods_with_the_named_port(recording) -> None:
    problems = []
    for pm in recording.objects("PodMonitor"):
        any_ns, names = monitor_namespaces(pm)
        pods = [p for p in pod_templates(recording) if (any_ns or p.namespace in names)
                and matches(pm.plain["spec"].get("selector"), p.labels)]
        if not pods:
            problems.append(f"{pm.namespace}/{pm.k8s_name}: selects no pod")
        for ep in pm.plain["spec"]["podMetricsEndpoints"]:
            if pods and not all(p.port(ep.get("port")) is not None for p in pods):
                problems.append(f"{pm.namespace}/{pm.k8s_name}: a selected pod has no port {ep.get('port')}")
    assert not problems, "\n".join(problems)


def test_prometheus_can_reach_every_pod_it_scrapes_in_an_app_namespace(recording) -> None:
    """App namespaces deny ingress by default: a scrape target without a NetworkPolicy letting the
    Prometheus pods in is permanently down (AppMonitoring declares this policy for its app)."""
    problems = reachability_problems(recording)
    assert not problems, "\n".join(problems)


def reachability_problems(recording) -> list[str]:
    monitoring = monitoring_ns(recording)
    prometheus = prometheus_stack.PROMETHEUS_POD_LABELS
    problems = []
    for pod in pod_templates(recording):
        if pod.namespace not in app_namespaces(recording) or not scrapes(recording, pod):
            continue
        ports = {p["containerPort"] for c in pod.containers for p in c.get("ports") or []}
        allowed: set[int] = set()
        for policy in recording.objects("NetworkPolicy", pod.namespace):
            spec = policy.plain["spec"]
            if "Ingress" not in spec.get("policyTypes", []) or not matches(spec["podSelector"], pod.labels):
                continue
            for rule in spec.get("ingress") or []:
                if any(matches(peer.get("namespaceSelector"), namespace_labels(recording, monitoring))
                       and "namespaceSelector" in peer and matches(peer.get("podSelector"), prometheus)
                       for peer in rule.get("from") or []):
                    allowed |= {pod.port(p["port"]) for p in rule.get("ports") or []}
        if not ports & allowed:
            problems.append(f"{pod.owner}: no NetworkPolicy lets Prometheus reach ports {sorted(ports)}")
    return problems


# --------------------------------------------------------------------------- selection and ordering
SELECTOR_KINDS = {"ServiceMonitor": "serviceMonitor", "PodMonitor": "podMonitor", "PrometheusRule": "rule",
                  "Probe": "probe", "ScrapeConfig": "scrapeConfig"}


def chart_defaults(chart: str) -> dict[str, Any]:
    """The pinned chart's own values.yaml, from the chart reference data (never a copy in a test)."""
    charts = shared_path("EVENT_PLATFORM_CHART_DATA", "the Helm chart reference data")
    return yaml.safe_load((charts / chart / "values.yaml").read_text())


def with_defaults(defaults: Any, values: Any) -> Any:
    """Helm's merge of values over a chart's defaults: maps merge key by key, the rest is replaced."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        return {**defaults, **{k: with_defaults(defaults.get(k), v) for k, v in values.items()}}
    return defaults if values is None else values


def effective_selectors(spec: dict, kind: str) -> tuple[dict, dict]:
    """(object selector, namespace selector) the chart writes into the Prometheus resource
    (templates/prometheus/prometheus.yaml): a set selector wins; otherwise, unless
    `<kind>SelectorNilUsesHelmValues` is false, `release: <release name>`; otherwise {} (all).
    Namespace selectors are rendered as given, and {} when unset (all namespaces). `spec` is our
    prometheusSpec merged over the chart's defaults."""
    key = SELECTOR_KINDS[kind]
    selector = spec.get(f"{key}Selector") or {}
    if not selector and spec[f"{key}SelectorNilUsesHelmValues"]:
        selector = {"matchLabels": {"release": prometheus_stack.KPS_RELEASE}}
    return selector, spec.get(f"{key}NamespaceSelector") or {}


def test_prometheus_selects_every_monitor_and_rule_the_stack_declares(recording) -> None:
    """kube-prometheus-stack's default selectors only pick objects labelled with its release name:
    any monitor or rule without that label would be silently ignored. Whatever the labels, every
    one the stack declares must be selected, in whatever namespace it lives."""
    defaults = chart_defaults("kube-prometheus-stack")["prometheus"]["prometheusSpec"]
    assert defaults["serviceMonitorSelectorNilUsesHelmValues"] is True  # what makes the flags necessary
    spec = with_defaults(defaults, kps(recording)["prometheus"]["prometheusSpec"])
    declared = [r for r in recording.objects() if r.kind in MONITOR_KINDS
                and r.inputs["apiVersion"].startswith(f"{MONITORING}/")]
    assert declared, "the stack declares no monitor or rule"
    for r in declared:
        selector, ns_selector = effective_selectors(spec, r.kind)
        assert matches(selector, r.metadata.get("labels") or {}), f"{r.kind} {r.namespace}/{r.k8s_name}"
        assert matches(ns_selector, namespace_labels(recording, r.namespace)), f"{r.kind} {r.namespace}/{r.k8s_name}"
    for kind in SELECTOR_KINDS:  # including the ones the charts themselves create (Loki's, Alloy's)
        assert effective_selectors(spec, kind) == ({}, {}), kind


def test_every_monitor_and_rule_waits_for_the_crds(recording) -> None:
    """Created before kube-prometheus-stack installed the monitoring.coreos.com CRDs, they fail
    on a fresh cluster."""
    release = recording.helm_release(prometheus_stack.KPS_RELEASE)
    for r in recording.objects():
        if r.kind in MONITOR_KINDS and r.inputs["apiVersion"].startswith(f"{MONITORING}/"):
            assert recording.depends_on(r, release), f"{r.kind} {r.namespace}/{r.k8s_name}"
    for chart in (logging_stack.LOKI_RELEASE, logging_stack.ALLOY_RELEASE):  # their ServiceMonitors
        assert recording.depends_on(recording.helm_release(chart), release), chart


def test_prometheus_retention_storage_and_resources_come_from_the_stack_config(recording) -> None:
    cfg = stack_config(recording.stack)
    spec = kps(recording)["prometheus"]["prometheusSpec"]
    prom = cfg.observability.prometheus
    assert spec["retention"] == prom.retention
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == prom.storage_size
    assert claim.get("storageClassName") == cfg.cluster.storage_class
    assert spec["resources"] == prom.resources.as_kubernetes()
    # deletes old blocks before the volume fills up
    size_mb = int(spec["retentionSize"].removesuffix("MB"))
    assert 0.7 * int(re.match(r"\d+", prom.storage_size).group()) * 1024 < size_mb < \
        int(re.match(r"\d+", prom.storage_size).group()) * 1024


# ----------------------------------------------------------------------------------------- grafana
def test_grafana_has_the_prometheus_and_the_loki_datasource_pointing_at_the_charts_services(recording) -> None:
    """kube-prometheus-stack provisions Prometheus at http://<fullname>-prometheus.<ns>:<port>/ (its
    datasource ConfigMap); Loki is added by us and must name the Service the Loki chart creates."""
    ns = monitoring_ns(recording)
    grafana = kps(recording)["grafana"]
    sidecar = grafana["sidecar"]["datasources"]
    assert sidecar["enabled"] and sidecar["defaultDatasourceEnabled"] and "url" not in sidecar
    assert sidecar["uid"] == "prometheus"
    prometheus_service = f"{prometheus_stack.KPS_RELEASE}-prometheus"  # fullname: release name (<= 26 chars)
    assert prometheus_service == prometheus_stack.PROMETHEUS_NAME and len(prometheus_stack.KPS_RELEASE) <= 26
    kps_defaults = chart_defaults("kube-prometheus-stack")["prometheus"]
    assert with_defaults(kps_defaults, kps(recording)["prometheus"])["service"]["port"] == prometheus_stack.PROMETHEUS_PORT

    (loki,) = [d for d in grafana["additionalDataSources"] if d["type"] == "loki"]
    assert loki["uid"] == "loki"
    loki_values = values(recording, logging_stack.LOKI_RELEASE)
    # monolithic with the chart's gateway off: the Service is `loki.fullname` (the release name) on
    # loki.server.http_listen_port (the chart's default unless we set it)
    assert loki_values["deploymentMode"] == "Monolithic" and loki_values["gateway"]["enabled"] is False
    port = with_defaults(chart_defaults("loki"), loki_values)["loki"]["server"]["http_listen_port"]
    assert loki["url"] == f"http://{logging_stack.LOKI_RELEASE}.{ns}.svc.cluster.local:{port}"
    assert {d["type"] for d in grafana["additionalDataSources"]} | {"prometheus"} == {"prometheus", "loki"}


def test_grafana_admin_credentials_come_from_the_secret_store(recording) -> None:
    """Never the chart's default password, never a password in values (Helm keeps values in a
    readable Secret of its own): Grafana reads an existing Secret an ExternalSecret fills."""
    ns = monitoring_ns(recording)
    grafana = kps(recording)["grafana"]
    assert "adminPassword" not in grafana
    admin = grafana["admin"]
    external = recording.object("ExternalSecret", admin["existingSecret"], ns).plain["spec"]
    assert external["target"]["name"] == admin["existingSecret"]
    produced = set(external["target"]["template"]["data"])
    assert {admin["userKey"], admin["passwordKey"]} <= produced
    assert "{{" in external["target"]["template"]["data"][admin["passwordKey"]]  # from the store


def test_grafana_is_routed_through_the_platform_gateway_on_its_own_hostname(recording) -> None:
    """The chart renders the HTTPRoute to its own Service; it must attach to a listener of the
    platform Gateway that admits routes from the monitoring namespace, on a hostname the Gateway
    serves (with TLS, one its certificate covers), and plain HTTP must redirect to HTTPS."""
    cfg = stack_config(recording.stack)
    ns = monitoring_ns(recording)
    hostname = cfg.observability.grafana_hostname or f"grafana.{cfg.gateway.domain}"
    grafana = kps(recording)["grafana"]
    route = grafana["route"]["main"]
    assert route["enabled"] and route["hostnames"] == [hostname]
    assert hostname in stack.served_hostnames(cfg)
    (parent,) = route["parentRefs"]
    gateway = recording.object("Gateway", parent["name"], parent["namespace"]).plain["spec"]
    (listener,) = [x for x in gateway["listeners"] if x["name"] == parent["sectionName"]]
    assert listener["protocol"] == ("HTTPS" if cfg.gateway.tls else "HTTP")
    assert matches(listener["allowedRoutes"]["namespaces"]["selector"], namespace_labels(recording, ns))
    scheme = "https" if cfg.gateway.tls else "http"
    assert grafana["grafana.ini"]["server"]["root_url"] == f"{scheme}://{hostname}/"
    assert recording.outputs["grafanaUrl"] == f"{scheme}://{hostname}"
    # issue 12: with TLS, plain HTTP for every hostname is the Gateway's own redirect, in its namespace
    redirects = [r for r in recording.objects("HTTPRoute", cfg.namespaces.platform.gateway)
                 if r.plain["spec"]["hostnames"] == [hostname]]
    assert not recording.objects("HTTPRoute", ns)
    if cfg.gateway.tls:
        (redirect,) = redirects
        spec = redirect.plain["spec"]
        assert spec["hostnames"] == [hostname]
        (http,) = [x for x in gateway["listeners"] if x["name"] == spec["parentRefs"][0]["sectionName"]]
        assert http["protocol"] == "HTTP"
        assert spec["rules"][0]["filters"][0]["requestRedirect"]["scheme"] == "https"
        assert "backendRefs" not in spec["rules"][0]
    else:
        assert not redirects


def test_every_dashboard_config_map_is_valid_json_with_a_unique_uid(recording) -> None:
    """The sidecar loads labelled ConfigMaps from every namespace; Grafana refuses a second
    dashboard with a uid it already has, or a uid over 40 characters."""
    grafana = kps(recording)["grafana"]["sidecar"]["dashboards"]
    assert grafana["searchNamespace"] == "ALL"
    uids = []
    boards = [c for c in recording.objects("ConfigMap")
              if (c.metadata.get("labels") or {}).get(grafana["label"]) == grafana["labelValue"]]
    assert {c.namespace for c in boards} >= {monitoring_ns(recording)}
    for cm in boards:
        assert cm.metadata["annotations"][grafana["folderAnnotation"]]
        for key, text in cm.plain["data"].items():
            board = json.loads(text)
            assert key == f"{board['uid']}.json"
            assert board["title"] and len(board["uid"]) <= 40
            uids.append(board["uid"])
            used = {t.get("datasource", {}).get("uid") for p in board["panels"] for t in p.get("targets", [])}
            assert used <= {"prometheus", "loki", "${datasource}", None}, (board["uid"], used)
    assert len(uids) == len(set(uids)), uids


# ----------------------------------------------------------------------------------------- secrets
CREDENTIAL_KEY = re.compile(r"passw|secret|token|api_?key|webhook|credential|access_?key|private_?key", re.IGNORECASE)
REFERENCE_KEY = re.compile(r"(existingSecret(Name)?|[sS]ecretName|(password|user|username|token)Key|_file|File|"
                           r"[sS]ecretRef|secrets)$")
"""Keys naming where a credential is (a Secret's name, a key in it, a file), not the credential.
`apiKey`, `accessKey`, `secretKey` and the like are credentials themselves."""
CREDENTIAL_VALUE = re.compile(r"://[^/\s:@]+:[^/\s@]+@|hooks\.slack\.com/services/|AKIA[0-9A-Z]{16}|"
                              r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def test_no_helm_release_carries_a_credential_in_clear_text(recording) -> None:
    """Helm stores a release's values in a Secret any namespace admin can decode, and they show up in
    `pulumi preview` diffs: credentials must come from Secrets the workloads read themselves."""
    problems = [f"{release.inputs['name']}{path}: {problem}"
                for release in recording.helm_releases()
                for path, key, value in walk(release.inputs.get("values") or {})
                if (problem := credential_problem(key, value))]
    assert not problems, "\n".join(problems)


def credential_problem(key: str | None, value: Any) -> str | None:
    if isinstance(value, offline.Secret):
        return "a secret value passed in Helm values"
    if key == "adminPassword":
        return "adminPassword set"
    if isinstance(value, str) and value and key and CREDENTIAL_KEY.search(key) and not REFERENCE_KEY.search(key):
        return "literal value for a credential-looking key"
    if isinstance(value, str) and CREDENTIAL_VALUE.search(value):
        return "value looks like a credential"
    return None


def test_alertmanager_receivers_read_their_urls_from_the_mounted_secret(recording) -> None:
    """Each configured receiver gets the warnings and criticals, with its URL read from a file of
    the Secret the operator mounts (`alertmanagerSpec.secrets`), filled by an ExternalSecret."""
    cfg = stack_config(recording.stack).observability
    ns = monitoring_ns(recording)
    am = kps(recording)["alertmanager"]
    config = am["config"]
    names = {r["name"] for r in config["receivers"]}
    assert names == {"null", *(r.name for r in cfg.alert_receivers)}
    routed = {r["receiver"] for r in config["route"]["routes"]}
    if not cfg.alert_receivers:
        assert "secrets" not in am["alertmanagerSpec"] and not recording.objects("ExternalSecret", ns)[1:]
        return
    (mounted,) = am["alertmanagerSpec"]["secrets"]
    external = recording.object("ExternalSecret", mounted, ns).plain["spec"]
    keys = {d["secretKey"] for d in external["data"]}
    for receiver in cfg.alert_receivers:
        assert receiver.name in routed
        (entry,) = [r for r in config["receivers"] if r["name"] == receiver.name]
        (notifier,) = entry["slack_configs" if receiver.type == "slack" else "webhook_configs"]
        path = notifier["api_url_file" if receiver.type == "slack" else "url_file"]
        assert path == f"/etc/alertmanager/secrets/{mounted}/{receiver.name}" and receiver.name in keys
        assert not {"api_url", "url"} & set(notifier)
        (data,) = [d for d in external["data"] if d["secretKey"] == receiver.name]
        assert data["remoteRef"]["key"].endswith(receiver.secret_key)


# -------------------------------------------------------------------------------------------- logs
def test_loki_is_monolithic_with_filesystem_storage_on_dev_and_s3_on_prod(recording) -> None:
    cfg = stack_config(recording.stack)
    loki_cfg = cfg.observability.loki
    v = values(recording, logging_stack.LOKI_RELEASE)
    assert v["deploymentMode"] == "Monolithic"
    assert v["singleBinary"]["replicas"] == 1
    assert all(v[target]["replicas"] == 0 for target in ("read", "write", "backend"))
    storage, schema = v["loki"]["storage"], v["loki"]["schemaConfig"]["configs"]
    if loki_cfg.s3 is None:
        assert storage == {"type": "filesystem"} and recording.stack == "dev"
        assert {c["object_store"] for c in schema} == {"filesystem"}
    else:
        assert storage["type"] == "s3" and recording.stack == "prod"
        assert storage["bucketNames"]["chunks"] == loki_cfg.s3.bucket
        assert storage["s3"]["region"] == loki_cfg.s3.region
        assert not {"accessKeyId", "secretAccessKey"} & set(storage["s3"])  # IRSA, no keys
        assert v["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == loki_cfg.s3.role_arn
        assert {c["object_store"] for c in schema} == {"s3"}
    assert v["loki"]["compactor"]["delete_request_store"] == storage["type"]
    assert all(c["store"] == "tsdb" and c["schema"] == "v13" for c in schema)
    assert v["singleBinary"]["persistence"]["size"] == loki_cfg.storage_size
    assert v["singleBinary"]["persistence"].get("storageClass") == cfg.cluster.storage_class


def test_loki_is_sized_for_a_small_stack(recording) -> None:
    """No auth (one tenant), one replica of every stream, no memcached (the chunks cache defaults to
    8 GB), no canary or Helm test pods, and retention applied by the compactor."""
    loki_cfg = stack_config(recording.stack).observability.loki
    v = values(recording, logging_stack.LOKI_RELEASE)
    assert v["loki"]["auth_enabled"] is False
    assert v["loki"]["commonConfig"]["replication_factor"] == 1
    for off in ("chunksCache", "resultsCache", "lokiCanary", "test", "gateway"):
        assert v[off]["enabled"] is False, off
    assert v["loki"]["limits_config"]["retention_period"] == loki_cfg.retention
    assert v["loki"]["compactor"]["retention_enabled"] is True


def test_alloy_runs_on_every_node_and_ships_namespace_pod_and_container_labels_to_loki(recording) -> None:
    v = values(recording, logging_stack.ALLOY_RELEASE)
    assert v["controller"]["type"] == "daemonset"
    config = v["alloy"]["configMap"]["content"]
    assert "\n" in config  # a readable block in the rendered YAML
    rules = re.findall(r'source_labels = \["([^"]+)"\]\s+target_label\s+= "([^"]+)"', config)
    assert {("__meta_kubernetes_namespace", "namespace"), ("__meta_kubernetes_pod_name", "pod"),
            ("__meta_kubernetes_pod_container_name", "container")} <= set(rules)
    assert re.search(r"loki\.source\.kubernetes \"pods\" \{\s+targets\s+= discovery\.relabel\.pods\.output", config)
    # each DaemonSet pod tails its own node's pods only, or every line would arrive once per node
    assert 'field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME")' in config
    (url,) = re.findall(r'url = "([^"]+)"', config)
    assert url == f"{logging_stack.loki_url(monitoring_ns(recording))}/loki/api/v1/push"


def test_alloy_chart_rbac_lets_it_read_pod_logs_through_the_api() -> None:
    """`loki.source.kubernetes` lists pods and reads `pods/log`; the chart's default RBAC (which we
    keep) must grant both, cluster-wide."""
    charts = shared_path("EVENT_PLATFORM_CHART_DATA", "the Helm chart reference data")
    defaults = yaml.safe_load((charts / "alloy" / "values.yaml").read_text())
    assert "rbac" not in logging_stack.alloy_values("http://loki/push")
    rbac = defaults["rbac"]
    assert rbac["create"] is True and not rbac["namespaces"]
    granted = {(res, verb) for rule in rbac["rules"] if "" in rule["apiGroups"]
               for res in rule["resources"] for verb in rule["verbs"]}
    assert {("pods", "list"), ("pods", "watch"), ("pods/log", "get")} <= granted


# ------------------------------------------------------------------------------------ app helper
def test_app_dashboards_get_a_uid_per_namespace() -> None:
    board = {"uid": "event-collector", "title": "Event collector", "panels": []}
    assert app_monitoring.namespaced_dashboard(board, "staging")["uid"] == "event-collector-staging"
    long = app_monitoring.namespaced_dashboard({**board, "uid": "x" * 39}, "production")["uid"]
    assert len(long) <= 40 and long != app_monitoring.namespaced_dashboard({**board, "uid": "x" * 39}, "staging")["uid"]
    assert board["uid"] == "event-collector"  # the caller's model is not modified


@pytest.mark.parametrize("groups", [
    ({"name": "a", "rules": []},),
    ({"name": "a", "rules": [{"alert": "X"}]},),
    ({"name": "a", "rules": [{"alert": "X", "record": "y", "expr": "up"}]},),
    ({"name": "a", "rules": [{"alert": "X", "expr": "up"}]}, {"name": "a", "rules": [{"record": "y", "expr": "up"}]}),
], ids=["no-rules", "no-expr", "alert-and-record", "duplicate-group"])
def test_app_monitoring_refuses_malformed_rule_groups(groups) -> None:
    with pytest.raises(ValueError):
        app_monitoring.AppMonitoringArgs._rule_groups(groups)


@pytest.mark.parametrize(("key", "value", "flagged"), [
    ("adminPassword", "hunter2", True), ("apiKey", "abc", True), ("secretAccessKey", "abc", True),
    ("webhook_url", "https://example.com/x", True), ("api_url", "https://hooks.slack.com/services/T/B/x", True),
    ("url", "https://user:pass@example.com", True), ("existingSecret", "grafana-admin", False),
    ("passwordKey", "admin-password", False), ("api_url_file", "/etc/alertmanager/secrets/x/y", False),
    ("url", "http://loki.monitoring.svc.cluster.local:3100", False), ("password", offline.Secret("x"), True),
], ids=lambda v: str(v))
def test_the_credential_scan_tells_credentials_from_references(key, value, flagged) -> None:
    """The scan above is only as good as its patterns: these are the cases it must get right."""
    assert (credential_problem(key, value) is not None) == flagged


# ------------------------------------------------------------- other apps, the ways docs describe
@pytest.fixture(scope="module")
def with_other_apps() -> offline.Recording:
    """dev plus two workloads added the ways docs/observability.md describes: `worker`, scraped by a
    PodMonitor through AppMonitoring while keeping its prometheus.io annotations, and `legacy`,
    scraped only through its annotations, with the NetworkPolicy its owner must declare."""
    build = stack.build

    def deployment(name: str, pod_labels: dict, annotations: dict, port: int) -> k8s.apps.v1.Deployment:
        return k8s.apps.v1.Deployment(
            name, metadata={"name": name, "namespace": "dev", "labels": labels.common(name)},
            spec={"selector": {"matchLabels": {labels.NAME: name}},
                  "template": {"metadata": {"labels": pod_labels, "annotations": annotations},
                               "spec": {"containers": [{"name": name, "image": f"registry.example.com/{name}:1.0",
                                                        "ports": [{"name": "metrics", "containerPort": port}]}]}}})

    def extended(cfg):
        platform = build(cfg)
        ns, obs = platform.tenancy.apps["dev"].namespace, platform.observability
        scrape = {scraping.SCRAPE_ANNOTATION: "true", scraping.PORT_ANNOTATION: "9102"}
        worker = deployment("worker", {labels.NAME: "worker", **app_monitoring.scraped_by_monitor_labels("PodMonitor")},
                            scrape, 9102)
        app_monitoring.AppMonitoring("worker-monitoring", app_monitoring.AppMonitoringArgs(
            app_name="worker", namespace=ns, monitor_kind="PodMonitor", metrics_port_name="metrics",
            monitoring_namespace=obs.monitoring_namespace, pod_labels={labels.NAME: "worker"}, metrics_port=9102,
            crd_dependencies=(obs.release,)), pulumi.ResourceOptions(depends_on=[worker]))
        deployment("legacy", {labels.NAME: "legacy"}, {**scrape, scraping.PORT_ANNOTATION: "9100"}, 9100)
        allow_ingress("legacy-from-prometheus", namespace="dev", policy_name="legacy-from-prometheus",
                      to_pods={labels.NAME: "legacy"}, ports=[9100],
                      sources=[Peer(obs.monitoring_namespace, prometheus_stack.PROMETHEUS_POD_LABELS)],
                      opts=pulumi.ResourceOptions(depends_on=[ns]))
        return platform

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stack, "build", extended)
        return offline.record(stack_config("dev"))


def test_pod_monitored_and_annotation_only_apps_are_scraped_exactly_once(with_other_apps) -> None:
    rec = with_other_apps
    owners = {p.owner: scrapes(rec, p) for p in pod_templates(rec)}
    assert owners["Deployment/dev/worker"] == ["PodMonitor dev/worker port metrics"]
    assert owners["Deployment/dev/legacy"] == [f"annotation job {scraping.ANNOTATION_JOB}"]
    assert not scrape_count_problems(rec) and not reachability_problems(rec)
    monitor = rec.object("PodMonitor", "worker", "dev")
    assert recording_selects(rec, monitor) and rec.depends_on(monitor, rec.helm_release(prometheus_stack.KPS_RELEASE))


def recording_selects(rec, monitor: offline.Resource) -> bool:
    selector, ns_selector = effective_selectors(kps(rec)["prometheus"]["prometheusSpec"], monitor.kind)
    return matches(selector, monitor.metadata.get("labels") or {}) and \
        matches(ns_selector, namespace_labels(rec, monitor.namespace))


def test_a_service_monitor_needs_a_service_and_its_labels() -> None:
    args = app_monitoring.AppMonitoringArgs.model_construct(monitor_kind="ServiceMonitor", service=None,
                                                           selector_labels={})
    with pytest.raises(ValueError, match="needs `service`"):
        args._service_monitor_needs_a_service()
    pod_monitored = app_monitoring.AppMonitoringArgs.model_construct(monitor_kind="PodMonitor", service=None,
                                                                    selector_labels={})
    assert pod_monitored._service_monitor_needs_a_service() is pod_monitored


def test_the_pod_monitored_app_renders_to_valid_manifests(with_other_apps, tmp_path) -> None:
    """The PodMonitor path of AppMonitoring against the real CRD schema and the cross-reference
    checks (PodMonitor -> pods -> named port)."""
    tools = shared_path("EVENT_PLATFORM_TOOLS", "the validate-manifests tool")
    crds = shared_path("EVENT_PLATFORM_CRD_SCHEMAS", "the upstream CRD schemas")
    for name, text in render.render(with_other_apps).items():
        (tmp_path / name).write_text(text)
    run = subprocess.run([sys.executable, str(tools / "validate-manifests"), "--k8s-version",
                          stack_config("dev").cluster.kubernetes_version, "--crd-dir", str(crds), str(tmp_path)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.strip().endswith(" 0 failed"), run.stdout + run.stderr
