"""The flow matrix: every NetworkPolicy of every namespace (platform ones included), evaluated the way
a CNI does (tests/flow_matrix.py), over the pods the platform runs. Every flow the platform needs is
allowed, and every flow that crosses a namespace boundary or leaves the pod network is one the
matrix in docs/tenancy.md lists.

Pods the charts create, and where their labels come from (only the labels of the pods that a policy
selects or names matter; the others are identified by namespace and port):
  nginx data plane      gateway.networking.k8s.io/gateway-name: platform   NGF internal/controller/provisioner/objects.go
  ACME solver           acme.cert-manager.io/http01-solver: "true"          cert-manager pkg/issuer/acme/http/pod.go
  Prometheus            app.kubernetes.io/name: prometheus, operator.prometheus.io/name   prometheus-operator statefulset labels
  Grafana               app.kubernetes.io/name: grafana                     grafana chart templates/_helpers.tpl
  Postgres instances    cnpg.io/cluster: <cluster>                          CloudNativePG pod labels
"""

from __future__ import annotations

import fnmatch

from event_platform.components.gateway_controller import ACME_SOLVER_LABEL, ACME_SOLVER_PORT
from event_platform.components.gateway_listeners import GATEWAY_NAME_LABEL
from event_platform.components.platform_network import GRAFANA_POD_LABELS
from event_platform.components.prometheus_stack import PROMETHEUS_POD_LABELS
from event_platform.config import team_namespace
from flow_matrix import Endpoint, flow_matrix
from harness import stack_config

OUTSIDE = "outside"


def endpoints(stack: str) -> list[Endpoint]:
    """The pods of the stack (and what is outside the pod network), named `namespace/pod`."""
    cfg = stack_config(stack)
    ns = cfg.namespaces.platform
    out = [
        Endpoint(f"{OUTSIDE}/internet", None, ports=(80, 443)),
        Endpoint(f"{OUTSIDE}/api-server", None, ports=(443, 6443)),
        # node-exporter runs on the node's network, outside NetworkPolicy: it is the node's 9100
        Endpoint(f"{OUTSIDE}/node", None, ports=(9100, 10250)),
        Endpoint("kube-system/kube-dns", "kube-system", {"k8s-app": "kube-dns"}, (53,)),
        Endpoint(f"{ns.gateway}/nginx", ns.gateway, {GATEWAY_NAME_LABEL: "platform"}, (80, 443, 9113)),
        Endpoint(f"{ns.gateway}/control-plane", ns.gateway, {"app.kubernetes.io/name": "nginx-gateway-fabric"},
                 (8443, 9113)),
        Endpoint(f"{ns.monitoring}/prometheus", ns.monitoring, dict(PROMETHEUS_POD_LABELS), (9090,)),
        Endpoint(f"{ns.monitoring}/alertmanager", ns.monitoring, {"app.kubernetes.io/name": "alertmanager"}, (9093,)),
        Endpoint(f"{ns.monitoring}/grafana", ns.monitoring, dict(GRAFANA_POD_LABELS), (3000,)),
        Endpoint(f"{ns.monitoring}/loki", ns.monitoring, {"app.kubernetes.io/name": "loki"}, (3100,)),
        Endpoint(f"{ns.monitoring}/alloy", ns.monitoring, {"app.kubernetes.io/name": "alloy"}, (12345,)),
        Endpoint(f"{ns.monitoring}/kube-state-metrics", ns.monitoring,
                 {"app.kubernetes.io/name": "kube-state-metrics"}, (8080,)),
        Endpoint(f"{ns.monitoring}/prometheus-operator-webhook", ns.monitoring,
                 {"app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator"}, (10250,)),
        Endpoint(f"{ns.databases}/operator-webhook", ns.databases, {"app.kubernetes.io/name": "cloudnative-pg"},
                 (9443, 8080)),
        Endpoint(f"{ns.secrets}/controller", ns.secrets, {"app.kubernetes.io/name": "external-secrets"}, (8080,)),
        Endpoint(f"{ns.secrets}/webhook", ns.secrets, {"app.kubernetes.io/name": "external-secrets-webhook"},
                 (10250, 8080)),
    ]
    if cfg.gateway.tls is not None:
        out += [
            Endpoint(f"{ns.gateway}/acme-solver", ns.gateway, {ACME_SOLVER_LABEL: "true"}, (ACME_SOLVER_PORT,)),
            Endpoint(f"{ns.cert_manager}/controller", ns.cert_manager, {"app.kubernetes.io/name": "cert-manager"},
                     (9402,)),
            Endpoint(f"{ns.cert_manager}/webhook", ns.cert_manager, {"app.kubernetes.io/name": "webhook"}, (10250,)),
        ]
    for env in cfg.namespaces.app_names:
        out += [
            Endpoint(f"{env}/collector", env, {"app.kubernetes.io/name": "collector",
                                               "event-platform.io/track": "stable"}, (8080,)),
            Endpoint(f"{env}/events-db", env, {"cnpg.io/cluster": "events-db"}, (5432, 8000, 9187)),
            Endpoint(f"{env}/redis", env, {"app.kubernetes.io/name": "redis", "app.kubernetes.io/component": "cache"},
                     (6379,)),
        ]
    for ns, svc in team_services(stack):
        out.append(Endpoint(f"{ns}/{svc.name}", ns, {"app.kubernetes.io/name": svc.name,
                                                     "event-platform.io/track": "stable"}, (svc.port,)))
        if svc.database:
            out.append(Endpoint(f"{ns}/{svc.name}-db", ns, {"cnpg.io/cluster": f"{svc.name}-db"}, (5432, 8000, 9187)))
        if svc.cache:
            out.append(Endpoint(f"{ns}/{svc.name}-cache", ns, {"app.kubernetes.io/name": f"{svc.name}-cache",
                                                               "app.kubernetes.io/component": "cache"}, (6379,)))
    return out


def team_services(stack: str) -> list:
    """(namespace, service) of every team's service in every environment it runs in."""
    cfg = stack_config(stack)
    return [(team_namespace(team.name, env), svc) for team in cfg.teams for svc in team.services
            for env in svc.environments]


def declared_calls(stack: str) -> set[tuple[str, str, int]]:
    """(caller, callee, port) of every call a service declares: to services (resolved to their team's
    namespace in the same environment) and to external hosts (the internet endpoint)."""
    cfg = stack_config(stack)
    ports = {(t.name, s.name): s.port for t in cfg.teams for s in t.services}
    out = set()
    for team in cfg.teams:
        for svc in team.services:
            for env in svc.environments:
                caller = f"{team_namespace(team.name, env)}/{svc.name}"
                for callee in svc.calls.services:
                    other, _, name = callee.rpartition("/")
                    out.add((caller, f"{team_namespace(other or team.name, env)}/{name}", ports[(other or team.name, name)]))
                out |= {(caller, f"{OUTSIDE}/internet", ext.port) for ext in svc.calls.external}
    return out


def platform_namespaces(stack: str) -> list[str]:
    cfg = stack_config(stack)
    ns = cfg.namespaces.platform
    return [ns.gateway, ns.monitoring, ns.databases, ns.secrets] + ([ns.cert_manager] if cfg.gateway.tls else [])


def allowed_crossings(stack: str) -> list[tuple[str, str, tuple[int, ...] | None]]:
    """(source pattern, target pattern, ports or None for any): what may cross a namespace boundary or
    the pod network's edge. The same list is the flow matrix in docs/tenancy.md."""
    cfg = stack_config(stack)
    ns = cfg.namespaces.platform
    apps = cfg.namespaces.app_names
    webhook_targets = [f"{ns.monitoring}/prometheus-operator-webhook", f"{ns.databases}/operator-webhook",
                       f"{ns.secrets}/webhook", f"{ns.cert_manager}/webhook"]
    rules: list[tuple[str, str, tuple[int, ...] | None]] = [
        ("*", "kube-system/kube-dns", (53,)),                                   # DNS
        ("*", f"{ns.gateway}/nginx", (80, 443)),                                # the public front door
        *(("*", t, (10250, 9443)) for t in webhook_targets),                    # API server -> webhooks
        (f"{ns.monitoring}/prometheus", "*", None),                             # scraping every namespace
        (f"{ns.gateway}/nginx", f"{ns.monitoring}/grafana", (3000,)),           # Grafana's route
        *((f"{ns.gateway}/nginx", f"{env}/collector", (8080,)) for env in apps),  # app routes
        (f"{ns.databases}/*", "*/events-db", (5432, 8000)),                     # the operator manages instances
        *((f"{p}/*", f"{OUTSIDE}/api-server", (443, 6443)) for p in platform_namespaces(stack)),
        *((f"{p}/*", f"{OUTSIDE}/internet", (443,)) for p in platform_namespaces(stack)),  # ACME, AWS, S3, Slack
        ("*/events-db", f"{OUTSIDE}/api-server", (443, 6443)),
        ("*/events-db", f"{OUTSIDE}/internet", (443,)),                         # backups to object storage
        (f"{ns.cert_manager}/*", f"{OUTSIDE}/internet", (80,)),                 # HTTP-01 self-check
    ]
    for team_ns, svc in team_services(stack):
        rules.append((f"{ns.gateway}/nginx", f"{team_ns}/{svc.name}", (svc.port,)))          # the service's route
        if svc.database:
            db = f"{team_ns}/{svc.name}-db"
            rules += [(f"{ns.databases}/*", db, (5432, 8000)), (db, f"{OUTSIDE}/api-server", (443, 6443)),
                      (db, f"{OUTSIDE}/internet", (443,))]
    # declared calls; an external call's ipBlock matches whatever address is in its CIDR, and the API
    # server's address is not known here, so the evaluator counts every outside endpoint as in it
    rules += [(caller, f"{OUTSIDE}/*" if callee.startswith(f"{OUTSIDE}/") else callee, (port,))
              for caller, callee, port in declared_calls(stack)]
    return rules


def required_flows(stack: str) -> set[tuple[str, str, int]]:
    """Flows the platform cannot work without (inside namespaces too)."""
    cfg = stack_config(stack)
    ns = cfg.namespaces.platform
    need = {
        (f"{OUTSIDE}/internet", f"{ns.gateway}/nginx", 80), (f"{OUTSIDE}/internet", f"{ns.gateway}/nginx", 443),
        (f"{ns.gateway}/nginx", f"{ns.gateway}/control-plane", 8443),
        (f"{ns.gateway}/nginx", f"{ns.monitoring}/grafana", 3000),
        (f"{OUTSIDE}/api-server", f"{ns.monitoring}/prometheus-operator-webhook", 10250),
        (f"{OUTSIDE}/api-server", f"{ns.databases}/operator-webhook", 9443),
        (f"{OUTSIDE}/api-server", f"{ns.secrets}/webhook", 10250),
        (f"{ns.monitoring}/grafana", f"{ns.monitoring}/prometheus", 9090),
        (f"{ns.monitoring}/grafana", f"{ns.monitoring}/loki", 3100),
        (f"{ns.monitoring}/alloy", f"{ns.monitoring}/loki", 3100),
        (f"{ns.monitoring}/prometheus", f"{ns.monitoring}/alertmanager", 9093),
        (f"{ns.monitoring}/prometheus", f"{OUTSIDE}/node", 9100),
        (f"{ns.monitoring}/prometheus", f"{OUTSIDE}/node", 10250),
        (f"{ns.monitoring}/prometheus", f"{ns.gateway}/nginx", 9113),
        (f"{ns.monitoring}/prometheus", f"{ns.gateway}/control-plane", 9113),
        (f"{ns.monitoring}/prometheus", f"{ns.databases}/operator-webhook", 8080),
        (f"{ns.monitoring}/prometheus", f"{ns.secrets}/controller", 8080),
        (f"{ns.monitoring}/loki", f"{OUTSIDE}/internet", 443),
        (f"{ns.monitoring}/alertmanager", f"{OUTSIDE}/internet", 443),
        (f"{ns.secrets}/controller", f"{OUTSIDE}/internet", 443),
    }
    controllers = [f"{ns.gateway}/control-plane", f"{ns.monitoring}/prometheus-operator-webhook",
                   f"{ns.monitoring}/kube-state-metrics", f"{ns.monitoring}/alloy", f"{ns.monitoring}/grafana",
                   f"{ns.monitoring}/prometheus", f"{ns.databases}/operator-webhook", f"{ns.secrets}/controller"]
    if cfg.gateway.tls is not None:
        controllers.append(f"{ns.cert_manager}/controller")
        need |= {
            (f"{OUTSIDE}/api-server", f"{ns.cert_manager}/webhook", 10250),
            (f"{ns.gateway}/nginx", f"{ns.gateway}/acme-solver", ACME_SOLVER_PORT),
            (f"{ns.cert_manager}/controller", f"{OUTSIDE}/internet", 443),
            (f"{ns.cert_manager}/controller", f"{OUTSIDE}/internet", 80),
            (f"{ns.cert_manager}/controller", f"{ns.gateway}/nginx", 80),
            (f"{ns.monitoring}/prometheus", f"{ns.cert_manager}/controller", 9402),
        }
    need |= {(c, f"{OUTSIDE}/api-server", port) for c in controllers for port in (443, 6443)}
    for env in cfg.namespaces.app_names:
        need |= {
            (f"{ns.gateway}/nginx", f"{env}/collector", 8080),
            (f"{ns.monitoring}/prometheus", f"{env}/collector", 8080),
            (f"{ns.monitoring}/prometheus", f"{env}/events-db", 9187),
            (f"{ns.databases}/operator-webhook", f"{env}/events-db", 5432),
            (f"{ns.databases}/operator-webhook", f"{env}/events-db", 8000),
            (f"{env}/collector", f"{env}/events-db", 5432),
            (f"{env}/collector", f"{env}/redis", 6379),
            (f"{env}/events-db", f"{OUTSIDE}/api-server", 6443),
        }
    for team_ns, svc in team_services(stack):
        pods = f"{team_ns}/{svc.name}"
        need.add((f"{ns.gateway}/nginx", pods, svc.port))
        if svc.metrics_path:
            need.add((f"{ns.monitoring}/prometheus", pods, svc.port))
        if svc.database:
            db = f"{team_ns}/{svc.name}-db"
            need |= {(pods, db, 5432), (f"{ns.databases}/operator-webhook", db, 5432),
                     (f"{ns.databases}/operator-webhook", db, 8000), (f"{ns.monitoring}/prometheus", db, 9187),
                     (db, f"{OUTSIDE}/api-server", 6443)}
        if svc.cache:
            need.add((pods, f"{team_ns}/{svc.name}-cache", 6379))
    need |= declared_calls(stack)
    for e in endpoints(stack):
        if e.namespace not in (None, "kube-system") and not e.host_network:
            need.add((e.name, "kube-system/kube-dns", 53))
    return need


def _namespace(name: str) -> str:
    return name.split("/", 1)[0]


def crossings(stack: str, matrix: set[tuple[str, str, int]]) -> set[tuple[str, str, int]]:
    """Allowed flows across a namespace boundary (or the pod network's edge) that touch a namespace
    of the platform; flows between two outside parties are not the platform's to decide."""
    ours = {e.namespace for e in endpoints(stack)} - {None, "kube-system"}
    return {(s, t, p) for s, t, p in matrix if _namespace(s) != _namespace(t)
            and (_namespace(s) in ours or _namespace(t) in ours)}


def unlisted(stack: str, flows: set[tuple[str, str, int]]) -> set[tuple[str, str, int]]:
    rules = allowed_crossings(stack)
    return {(s, t, p) for s, t, p in flows
            if not any(fnmatch.fnmatch(s, rs) and fnmatch.fnmatch(t, rt) and (ports is None or p in ports)
                       for rs, rt, ports in rules)}


def test_every_flow_the_platform_needs_is_allowed(every_recording) -> None:
    """Default deny everywhere means a missing allow is an outage: a webhook the API server cannot
    reach blocks every create of its kind; Grafana without Prometheus shows nothing."""
    recording = every_recording
    matrix = flow_matrix(recording, endpoints(recording.stack))
    missing = required_flows(recording.stack) - matrix
    assert not missing, sorted(missing)


def test_nothing_crosses_a_namespace_boundary_unless_the_flow_matrix_lists_it(every_recording) -> None:
    """Issue 12, item 3: platform namespaces had no NetworkPolicy, so anything reached Prometheus,
    Alertmanager, Loki and the operators. Every crossing flow must be one of the listed ones."""
    recording = every_recording
    matrix = flow_matrix(recording, endpoints(recording.stack))
    extra = unlisted(recording.stack, crossings(recording.stack, matrix))
    assert not extra, sorted(extra)


def test_every_platform_namespace_denies_by_default_in_both_directions(every_recording) -> None:
    recording = every_recording
    cfg = stack_config(recording.stack)
    for ns in recording.objects("Namespace"):
        if ns.k8s_name in cfg.namespaces.app_names:
            continue
        spec = recording.object("NetworkPolicy", "default-deny", ns.k8s_name).plain["spec"]
        assert spec == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}, ns.k8s_name


def test_an_app_pod_cannot_reach_prometheus_alertmanager_loki_or_the_operators(every_recording) -> None:
    """The concrete attack: a compromised collector reading Prometheus or pushing to Loki."""
    recording = every_recording
    matrix = flow_matrix(recording, endpoints(recording.stack))
    env = stack_config(recording.stack).namespaces.app_names[0]
    from_app = {(t, p) for s, t, p in matrix if s == f"{env}/collector"}
    assert {t for t, _ in from_app} <= {f"{env}/events-db", f"{env}/redis", "kube-system/kube-dns"}, from_app


def test_the_flow_check_would_see_a_platform_namespace_without_policies(recordings) -> None:
    """The check must be able to fail: drop every policy of the monitoring namespace (as before
    issue 12) and the collector reaches Prometheus, which no rule lists."""
    from event_platform import offline

    rec = recordings["dev"]
    monitoring = stack_config("dev").namespaces.platform.monitoring
    stripped = offline.Recording(stack="dev", resources=[
        r for r in rec if not (r.kind == "NetworkPolicy" and r.namespace == monitoring)])
    extra = unlisted("dev", crossings("dev", flow_matrix(stripped, endpoints("dev"))))
    assert ("dev/collector", f"{monitoring}/prometheus", 9090) not in extra  # collector egress is still denied
    assert (f"{'outside'}/internet", f"{monitoring}/prometheus", 9090) in extra
