"""The front door: Gateway API CRDs, NGINX Gateway Fabric, the platform Gateway, TLS, and the route
helper apps use to attach to it.

The stacks themselves get their routes from the app components; to prove the helper on its own,
`demo` builds each real stack plus a small app with a weighted (canary) route in an app namespace
and a UI route in the monitoring namespace, under the same mocks, and renders and validates that too.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pydantic import ValidationError

import flow_matrix
import gateway_ownership as ownership
from event_platform import labels, offline, render, stack, versions
from event_platform.components import gateway_controller
from event_platform.components.gateway import GATEWAY_NAME_LABEL, Gateway, GatewayArgs
from event_platform.components.http_route import HttpRoute, HttpRouteArgs, RouteBackend, covered
from event_platform.config import GatewayConfig, TlsConfig
from gateway_ownership import selector_matches
from harness import STACKS, shared_path, stack_config

GATEWAY_GROUP = "gateway.networking.k8s.io"
NGF_RELEASE = versions.NGINX_GATEWAY_FABRIC.name
CERT_MANAGER_RELEASE = versions.CERT_MANAGER.name
DEMO_PORT = 8080
DEMO_WEIGHTS = {"demo": 90, "demo-canary": 10}


# ------------------------------------------------------------------------------------ the demo app
def _demo_workload(name: str, namespace: k8s.core.v1.Namespace, pod_labels: dict[str, str],
                   parent: pulumi.Resource) -> k8s.core.v1.Service:
    ns = namespace.metadata.name
    opts = pulumi.ResourceOptions(parent=parent, depends_on=[namespace])
    k8s.apps.v1.Deployment(
        f"demo-{name}-deployment",
        metadata={"name": name, "namespace": ns, "labels": labels.common(name, "demo")},
        spec={"selector": {"matchLabels": pod_labels},
              "template": {"metadata": {"labels": pod_labels}, "spec": {
                  "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                  "containers": [{
                      "name": "web", "image": "registry.example.com/demo:1.0.0",
                      "ports": [{"name": "http", "containerPort": DEMO_PORT}],
                      "securityContext": {"allowPrivilegeEscalation": False,
                                          "capabilities": {"drop": ["ALL"]}}}]}}},
        opts=opts)
    return k8s.core.v1.Service(
        f"demo-{name}-service",
        metadata={"name": name, "namespace": ns, "labels": labels.common(name, "demo")},
        spec={"selector": pod_labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        opts=opts)


class _Demo(pulumi.ComponentResource):
    """A canary-routed app in the first app namespace and a UI in the monitoring namespace."""

    def __init__(self, platform: stack.Platform) -> None:
        super().__init__("event-platform:test:Demo", "demo")
        cfg, gw = platform.config, platform.gateway
        app_ns = next(iter(platform.tenancy.apps.values()))
        host = cfg.collector.environments[app_ns.name].hostname
        backends = []
        for name, weight in DEMO_WEIGHTS.items():
            pods = {labels.NAME: "demo", "track": name}
            service = _demo_workload(name, app_ns.namespace, pods, self)
            backends.append(RouteBackend(service=service, port=80, weight=weight, pod_labels=pods,
                                         target_port=DEMO_PORT))
        # A distinct path on an existing hostname: the demo must not collide with the app's own route.
        self.route = HttpRoute("demo-route", HttpRouteArgs(
            gateway=gw, namespace=app_ns.namespace, route_name="demo", hostnames=(host,),
            backends=tuple(backends), path_prefix="/demo"), pulumi.ResourceOptions(parent=self))
        monitoring = platform.tenancy.platform[cfg.namespaces.platform.monitoring]
        ui = _demo_workload("demo-ui", monitoring, {labels.NAME: "demo-ui"}, self)
        ui_host = cfg.observability.grafana_hostname or f"grafana.{cfg.gateway.domain}"
        self.ui_route = HttpRoute("demo-ui-route", HttpRouteArgs(
            gateway=gw, namespace=monitoring, route_name="demo-ui", hostnames=(ui_host,),
            backends=(RouteBackend(service=ui, port=80, pod_labels=None, target_port=None),),
            path_prefix="/demo-ui"), pulumi.ResourceOptions(parent=self))
        self.service = backends[0].service
        self.register_outputs({"route": "demo"})


@pytest.fixture(scope="session")
def demo() -> dict[str, tuple[offline.Recording, stack.Platform, _Demo]]:
    """Each real stack plus the demo app, recorded; with the Platform and the demo for argument tests."""
    out = {}
    original = stack.build
    for name in STACKS:
        built: list[tuple[stack.Platform, _Demo]] = []

        def build_with_demo(cfg, built=built):
            platform = original(cfg)
            built.append((platform, _Demo(platform)))
            return platform

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(stack, "build", build_with_demo)
            rec = offline.record(stack_config(name))
        out[name] = (rec, *built[0])
    return out


@pytest.fixture(params=STACKS)
def demo_recording(request, demo) -> offline.Recording:
    return demo[request.param][0]


# --------------------------------------------------------------------------------------- lookups
def gateway_object(rec: offline.Recording) -> offline.Resource:
    cfg = stack_config(rec.stack)
    return rec.object("Gateway", "platform", cfg.namespaces.platform.gateway)


def crds(rec: offline.Recording) -> offline.Resource:
    (found,) = rec.of_type("kubernetes:yaml/v2:ConfigFile")
    return found


def listeners(rec: offline.Recording) -> dict[str, dict]:
    return {x["name"]: x for x in gateway_object(rec).plain["spec"]["listeners"]}


def config_group_objects(rec: offline.Recording, kind: str) -> list[tuple[offline.Resource, dict]]:
    return [(group, obj) for group in rec.of_type("kubernetes:yaml/v2:ConfigGroup")
            for obj in group.plain.get("objs", []) if obj.get("kind") == kind]


def admits(listener: dict, gateway_ns: str, route: offline.Resource, rec: offline.Recording) -> bool:
    """Does `listener` accept `route` (its kind, and its namespace by the listener's allowedRoutes)?"""
    allowed = listener.get("allowedRoutes") or {}
    kinds = {k["kind"] for k in allowed.get("kinds") or [{"kind": "HTTPRoute"}]}
    namespaces = allowed.get("namespaces") or {"from": "Same"}
    if route.kind not in kinds:
        return False
    if namespaces["from"] == "All":
        return True
    if namespaces["from"] == "Same":
        return route.namespace == gateway_ns
    ns_labels = {**(rec.object("Namespace", route.namespace).metadata.get("labels") or {}),
                 labels.NAMESPACE_NAME: route.namespace}
    return selector_matches(namespaces["selector"], ns_labels)


def routes(rec: offline.Recording) -> Iterator[offline.Resource]:
    return iter(rec.objects("HTTPRoute"))


def _demo_service(demo, name: str) -> k8s.core.v1.Service:
    return demo[name][2].service


# --------------------------------------------------------------------------------- CRDs and class
def test_the_gateway_api_crds_are_the_standard_channel_release_ngf_supports(recording) -> None:
    """NGF 2.6 supports Gateway API 1.5.1; the CRDs' own admission policy blocks a later downgrade,
    so a wrong pin here is expensive to undo."""
    assert crds(recording).plain["file"] == versions.GATEWAY_API_CRDS_URL
    assert versions.GATEWAY_API_VERSION == "v1.5.1"
    assert versions.GATEWAY_API_CRDS_URL.endswith(f"/download/{versions.GATEWAY_API_VERSION}/standard-install.yaml")


def test_the_crds_are_a_dependency_of_every_gateway_api_object(demo_recording) -> None:
    """Without it, `pulumi up` may create a Gateway or an HTTPRoute (or the chart's GatewayClass, or
    cert-manager's solver routes) before the API exists, and fail."""
    rec = demo_recording
    target = crds(rec)
    users = [r for r in rec.objects() if r.inputs["apiVersion"].startswith(f"{GATEWAY_GROUP}/")]
    users += [rec.helm_release(NGF_RELEASE)]  # its templates hold the GatewayClass
    if stack_config(rec.stack).gateway.tls:
        users += [rec.helm_release(CERT_MANAGER_RELEASE)]  # its Gateway API support needs the CRDs at start
    assert {r.kind for r in users} >= {"Gateway", "HTTPRoute"}
    missing = [f"{r.kind or r.type} {r.k8s_name or r.name}" for r in users if not rec.depends_on(r, target)]
    assert not missing, missing


def test_the_ngf_chart_does_not_install_the_gateway_api_crds_a_second_time(recording) -> None:
    """Since pulumi-kubernetes 4.29, creating an object that exists fails. NGF's chart ships only its
    own gateway.nginx.org CRDs; nothing else of ours may bundle the Gateway API ones."""
    assert len(recording.of_type("kubernetes:yaml/v2:ConfigFile")) == 1
    assert not recording.objects("CustomResourceDefinition")
    values = recording.helm_release(NGF_RELEASE).plain["values"]
    assert not values["nginxGateway"].get("gwAPIExperimentalFeatures", {}).get("enable")


def test_the_gateway_belongs_to_the_class_the_controller_chart_creates(recording) -> None:
    """A Gateway naming any other class is never programmed: no data plane, no address."""
    release = recording.helm_release(NGF_RELEASE)
    gateway = gateway_object(recording)
    assert gateway.plain["spec"]["gatewayClassName"] == release.plain["values"]["nginxGateway"]["gatewayClassName"]
    assert release.plain["version"] == versions.NGINX_GATEWAY_FABRIC.version
    assert recording.depends_on(gateway, release), "the class and its NginxProxy come from the release"


def test_the_controller_runs_in_the_gateway_namespace_next_to_the_gateway(recording) -> None:
    """NGF provisions the nginx data plane in the Gateway's namespace; the NetworkPolicy peer and the
    `gatewayService` output assume that namespace."""
    cfg = stack_config(recording.stack)
    assert recording.helm_release(NGF_RELEASE).plain["namespace"] == cfg.namespaces.platform.gateway
    assert gateway_object(recording).namespace == cfg.namespaces.platform.gateway


# ------------------------------------------------------------------------------------ exposure
def test_dev_exposes_the_data_plane_on_the_node_ports_the_kind_config_maps(recording) -> None:
    """kind maps host ports 80/443 to these node ports; any other port and http://events.localtest.me
    answers nothing. Managed clusters get a LoadBalancer (and no fixed node ports)."""
    cfg = stack_config(recording.stack).gateway
    service = recording.helm_release(NGF_RELEASE).plain["values"]["nginx"]["service"]
    assert service["type"] == cfg.service_type
    if cfg.service_type == "NodePort":
        expected = [{"port": cfg.http_node_port, "listenerPort": 80}]
        if cfg.tls:
            expected.append({"port": cfg.https_node_port, "listenerPort": 443})
        assert service["nodePorts"] == expected
        assert {p["listenerPort"] for p in service["nodePorts"]} <= {x["port"] for x in listeners(recording).values()}
    else:
        assert "nodePorts" not in service


def test_the_data_plane_runs_the_configured_replicas_spread_over_nodes_when_more_than_one(recording) -> None:
    """prod runs two nginx replicas so the front door survives a node; on one node they would not."""
    cfg = stack_config(recording.stack).gateway
    nginx = recording.helm_release(NGF_RELEASE).plain["values"]["nginx"]
    assert nginx["replicas"] == cfg.replicas
    if cfg.replicas > 1:
        (spread,) = nginx["pod"]["topologySpreadConstraints"]
        assert spread["topologyKey"] == "kubernetes.io/hostname"
        assert spread["labelSelector"] == {"matchLabels": {GATEWAY_NAME_LABEL: "platform"}}
    assert stack_config("prod").gateway.replicas >= 2


def test_the_stacks_are_exposed_as_the_issue_asks() -> None:
    """dev: a kind cluster reached through NodePorts 30080/30443; prod: a LoadBalancer."""
    dev, prod = stack_config("dev").gateway, stack_config("prod").gateway
    assert (dev.service_type, dev.http_node_port, dev.https_node_port) == ("NodePort", 30080, 30443)
    assert prod.service_type == "LoadBalancer"
    assert dev.domain == "localtest.me"  # every *.localtest.me name resolves to 127.0.0.1


# ------------------------------------------------------------------------------------- listeners
def test_every_served_hostname_has_its_own_listeners_and_https_exactly_when_the_stack_asks_for_tls(recording) -> None:
    """Without TLS there is no certificate to serve; with it, plain HTTP stays for redirects and ACME
    HTTP-01 challenges. A listener without a hostname would let any admitted route claim any name."""
    cfg = stack_config(recording.stack)
    found = listeners(recording)
    owners = stack.served_hostnames(cfg)
    assert all(x.get("hostname") for x in found.values()), "a listener without hostname serves every name"
    expected = {(f"http-{h.replace('.', '-')}", "HTTP", 80, h) for h in owners}
    if cfg.gateway.tls is not None:
        expected |= {(f"https-{h.replace('.', '-')}", "HTTPS", 443, h) for h in owners}
    assert {(n, x["protocol"], x["port"], x["hostname"]) for n, x in found.items()} == expected
    for x in found.values():
        if x["protocol"] == "HTTPS":
            assert x["tls"]["mode"] == "Terminate"


def test_every_listener_admits_routes_from_exactly_one_namespace_by_its_name(every_recording) -> None:
    """The selector is on `kubernetes.io/metadata.name`, which only the API server sets: a label a
    namespace admin can copy would let a second namespace claim the hostname."""
    recording = every_recording
    gateway_ns = stack_config(recording.stack).namespaces.platform.gateway
    for listener in listeners(recording).values():
        allowed = listener["allowedRoutes"]
        assert allowed["kinds"] == [{"group": GATEWAY_GROUP, "kind": "HTTPRoute"}]
        assert allowed["namespaces"]["from"] == "Selector"
        assert list(allowed["namespaces"]["selector"]) == ["matchLabels"]
        assert list(allowed["namespaces"]["selector"]["matchLabels"]) == [labels.NAMESPACE_NAME]
        assert len(ownership.admitted_namespaces(listener, gateway_ns, ownership.namespace_labels(recording))) == 1


def test_for_every_served_hostname_exactly_one_namespace_can_attach_the_routes_that_serve_it(every_recording) -> None:
    """Issue 12, item 1: a route in `staging` for `events.example.com` with a more specific match took
    production's requests. The Gateway itself must refuse it: on the listeners that serve content
    (HTTPS with TLS, else HTTP) only the owning namespace attaches; with TLS, plain HTTP belongs to the
    Gateway's namespace (the platform's redirects and cert-manager's solver routes), never to a tenant."""
    recording = every_recording
    cfg = stack_config(recording.stack)
    gateway_ns = cfg.namespaces.platform.gateway
    for hostname, owner in stack.served_hostnames(cfg).items():
        if cfg.gateway.tls is None:
            assert ownership.attachable(recording, hostname) == {owner}, hostname
        else:
            assert ownership.attachable(recording, hostname, "HTTPS") == {owner}, hostname
            assert ownership.attachable(recording, hostname, "HTTP") == {gateway_ns}, hostname
    assert not ownership.attachable(recording, f"stray.{cfg.gateway.domain}"), \
        "a hostname the stack does not serve must be attachable by nobody"


def test_the_ownership_check_sees_a_listener_that_admits_a_second_namespace(recordings) -> None:
    """The check above must be able to fail: a listener like the pre-issue-12 one (no hostname, admits
    by a label the namespaces carry) lets every app namespace and a label-copying stranger attach
    production's hostname."""
    rec = recordings["prod"]
    gateway = gateway_object(rec)
    old = {**gateway.inputs, "spec": {**gateway.plain["spec"], "listeners": [{
        "name": "https", "protocol": "HTTPS", "port": 443, "allowedRoutes": {"namespaces": {
            "from": "Selector", "selector": {"matchLabels": {labels.COMPONENT: "app-namespace"}}}}}]}}
    patched = offline.Recording(stack="prod", resources=[
        offline.Resource(type=r.type, name=r.name, urn=r.urn, parent=r.parent, dependencies=r.dependencies,
                         custom=r.custom, inputs=old if r is gateway else r.inputs) for r in rec])
    assert {"staging", "production", ownership.ATTACKER_NAMESPACE} <= ownership.attachable(patched, "events.example.com")


def test_the_gateway_serves_at_most_the_listeners_the_gateway_api_allows() -> None:
    """The CRD caps `spec.listeners` at 64: more hostnames than that must fail in the program, not at
    apply time."""
    gw = GatewayConfig(domain="example.com", tls=TlsConfig(issuer="self-signed"))
    hosts = {f"h{i}.example.com": "apps" for i in range(33)}
    with pytest.raises(ValidationError, match="33 hostnames need 66 listeners; the Gateway API allows at most 64"):
        GatewayArgs(config=gw, namespace=k8s.core.v1.Namespace.__new__(k8s.core.v1.Namespace),
                    namespace_name="gateway", cert_manager_namespace=k8s.core.v1.Namespace.__new__(
                        k8s.core.v1.Namespace), hostnames=hosts)


# ---------------------------------------------------------------------------------------- routes
def test_every_route_names_the_platform_gateway_and_a_listener_that_admits_it(demo_recording) -> None:
    """A parentRef to another Gateway or listener, or from a namespace the listener does not admit,
    leaves the route unattached: the app is unreachable although everything deployed."""
    rec = demo_recording
    gateway = gateway_object(rec)
    found = listeners(rec)
    all_routes = list(routes(rec))
    assert {r.k8s_name for r in all_routes} >= {"demo", "demo-ui"}
    for route in all_routes:
        for ref in route.plain["spec"]["parentRefs"]:
            assert (ref["group"], ref["kind"]) == (GATEWAY_GROUP, "Gateway")
            assert (ref["namespace"], ref["name"]) == (gateway.namespace, gateway.k8s_name), route.k8s_name
            assert ref["sectionName"] in found, f"{route.k8s_name}: no listener {ref['sectionName']!r}"
            assert admits(found[ref["sectionName"]], gateway.namespace, route, rec), \
                f"{route.namespace}/{route.k8s_name} is not admitted by listener {ref['sectionName']}"
            assert found[ref["sectionName"]]["hostname"] in route.plain["spec"]["hostnames"]


def test_the_admission_check_rejects_a_route_from_a_namespace_that_does_not_own_the_hostname(demo) -> None:
    """The check above must be able to fail: the demo route moved to another app namespace (staging
    taking production's hostname) is not admitted."""
    rec = demo["prod"][0]
    route = next(r for r in routes(rec) if r.k8s_name == "demo")
    stray = offline.Resource(type=route.type, name="stray", urn="stray", parent=None, dependencies=(),
                             custom=True, inputs={**route.inputs, "metadata": {"name": "stray", "namespace": "production"}})
    (ref,) = route.plain["spec"]["parentRefs"]
    assert route.namespace == "staging"
    assert not admits(listeners(rec)[ref["sectionName"]], gateway_object(rec).namespace, stray, rec)


def test_a_weighted_route_sends_each_backend_its_share(demo_recording) -> None:
    """The canary gets its 10% and the stable version the rest; both Services are named explicitly."""
    route = demo_recording.object("HTTPRoute", "demo")
    (rule,) = route.plain["spec"]["rules"]
    assert {b["name"]: b["weight"] for b in rule["backendRefs"]} == DEMO_WEIGHTS
    assert all((b["group"], b["kind"], b["port"]) == ("", "Service", 80) for b in rule["backendRefs"])
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/demo"}}]


@pytest.mark.parametrize("stack_name", ["dev"])
def test_without_tls_routes_serve_plain_http_and_nothing_redirects(stack_name: str, demo) -> None:
    """Without TLS the app's route is on its hostname's HTTP listener, and no redirect exists."""
    rec = demo[stack_name][0]
    route = rec.object("HTTPRoute", "demo")
    host = route.plain["spec"]["hostnames"][0]
    assert [p["sectionName"] for p in route.plain["spec"]["parentRefs"]] == [f"http-{host.replace('.', '-')}"]
    assert not [r for r in routes(rec) if "redirect" in r.k8s_name]


@pytest.mark.parametrize("stack_name", ["prod"])
def test_with_tls_routes_serve_https_and_the_gateway_redirects_plain_http(stack_name: str, demo) -> None:
    """With TLS, an app must not also be served in clear text: its route is on the HTTPS listener, and
    the Gateway's own redirect route (in the Gateway's namespace) answers every hostname on HTTP."""
    rec = demo[stack_name][0]
    cfg = stack_config(stack_name)
    route = rec.object("HTTPRoute", "demo")
    host = route.plain["spec"]["hostnames"][0]
    assert [p["sectionName"] for p in route.plain["spec"]["parentRefs"]] == [f"https-{host.replace('.', '-')}"]
    redirects = [r for r in routes(rec) if r.namespace == cfg.namespaces.platform.gateway]
    assert sorted(r.plain["spec"]["hostnames"][0] for r in redirects) == sorted(stack.served_hostnames(cfg))
    for redirect in redirects:
        spec = redirect.plain["spec"]
        assert [p["sectionName"] for p in spec["parentRefs"]] == [f"http-{spec['hostnames'][0].replace('.', '-')}"]
        (rule,) = spec["rules"]
        assert "backendRefs" not in rule
        assert rule["filters"] == [{"type": "RequestRedirect",
                                    "requestRedirect": {"scheme": "https", "statusCode": 301}}]


def _service_target_ports(rec: offline.Recording, service: offline.Resource) -> set[int]:
    """The container port numbers a Service forwards to (named target ports resolved in the pods)."""
    spec = service.plain["spec"]
    pods = [d.plain["spec"]["template"] for d in rec.objects("Deployment", service.namespace)
            if selector_matches({"matchLabels": spec["selector"]}, d.plain["spec"]["template"]["metadata"]["labels"])]
    ports = set()
    for port in spec["ports"]:
        target = port.get("targetPort", port["port"])
        if isinstance(target, int):
            ports.add(target)
        else:
            ports |= {p["containerPort"] for pod in pods for c in pod["spec"]["containers"]
                      for p in c.get("ports", []) if p.get("name") == target}
    return ports


def test_the_gateway_pods_may_reach_every_app_backend_through_a_network_policy(demo_recording) -> None:
    """App namespaces are default-deny: without this flow the route attaches and every request
    fails with a 502 from the gateway."""
    rec = demo_recording
    cfg = stack_config(rec.stack)
    gateway_ns = cfg.namespaces.platform.gateway
    for route in routes(rec):
        if route.namespace not in cfg.namespaces.app_names:
            continue
        for rule in route.plain["spec"]["rules"]:
            for ref in rule.get("backendRefs", []):
                service = rec.object("Service", ref["name"], route.namespace)
                selector = service.plain["spec"]["selector"]
                for port in _service_target_ports(rec, service):
                    assert any(
                        selector_matches(p.plain["spec"]["podSelector"], selector)
                        and "Ingress" in p.plain["spec"]["policyTypes"]
                        and any(port in [x["port"] for x in ingress["ports"]] and any(
                            peer.get("namespaceSelector") == {"matchLabels": {labels.NAMESPACE_NAME: gateway_ns}}
                            and selector_matches(peer.get("podSelector", {}), {GATEWAY_NAME_LABEL: "platform"})
                            for peer in ingress["from"]) for ingress in p.plain["spec"].get("ingress", []))
                        for p in rec.objects("NetworkPolicy", route.namespace)), \
                        f"{route.namespace}: no policy lets the gateway reach {service.k8s_name} on {port}"


def test_the_flow_is_declared_from_the_nginx_pods_ngf_provisions_for_the_gateway(demo) -> None:
    """NGF 2.6 labels the nginx pods of Gateway `platform` with gateway-name=platform (and names
    them `platform-nginx`); the policy selects exactly those, not the whole gateway namespace."""
    rec, platform, _ = demo["dev"]
    gw = platform.gateway
    assert gw.data_plane_peer.namespace == gw.gateway_namespace
    assert gw.data_plane_peer.pod_labels == {GATEWAY_NAME_LABEL: gw.gateway_name}
    assert gw.data_plane_service == "platform-nginx"
    policy = rec.object("NetworkPolicy", "demo-from-gateway", stack_config("dev").namespaces.app_names[0])
    assert policy.plain["spec"]["ingress"][0]["from"] == [gw.data_plane_peer.as_kubernetes()]
    assert policy.plain["spec"]["ingress"][0]["ports"] == [{"port": DEMO_PORT, "protocol": "TCP"}]


def test_no_network_policy_is_declared_for_a_backend_that_names_no_pods(demo) -> None:
    """A backend without pod labels (the demo UI in monitoring) gets no `-from-gateway` policy: the
    namespace's own policies decide (platform_network opens exactly Grafana to the Gateway)."""
    rec = demo["prod"][0]
    names = {p.k8s_name for p in rec.objects("NetworkPolicy", stack_config("prod").namespaces.platform.monitoring)}
    assert not {n for n in names if n.startswith("demo-ui")}
    assert "allow-data-plane-to-grafana" in names


# ------------------------------------------------------------------------------------------- TLS
def test_dev_has_no_tls_so_no_cert_manager_and_no_issuer(recordings) -> None:
    """Dev (kind) serves plain HTTP: installing cert-manager there would be an unused controller."""
    rec = recordings["dev"]
    assert stack_config("dev").gateway.tls is None
    assert not [r for r in rec.helm_releases() if r.plain["name"] == CERT_MANAGER_RELEASE]
    assert not config_group_objects(rec, "ClusterIssuer") and not config_group_objects(rec, "Certificate")


def test_cert_manager_is_installed_with_tls_with_its_crds_and_gateway_api_support(recordings) -> None:
    """Without `gatewayAPI.enabled`, cert-manager ignores the issuer's gatewayHTTPRoute solver and
    the certificate is never issued."""
    rec, cfg = recordings["prod"], stack_config("prod")
    (release,) = [r for r in rec.helm_releases() if r.plain["name"] == CERT_MANAGER_RELEASE]
    values = release.plain["values"]
    assert values["crds"]["enabled"] is True
    assert values["config"]["kind"] == "ControllerConfiguration"
    assert values["config"]["gatewayAPI"] == {"enabled": True}
    assert release.plain["namespace"] == cfg.namespaces.platform.cert_manager


def test_tls_issues_one_certificate_per_served_hostname_each_in_its_listeners_secret(recordings) -> None:
    """Issue 12, item 5: an ACME order succeeds only if every name validates, so one certificate for
    all names let one missing DNS record take TLS from every hostname. One Certificate per hostname,
    each listener referencing its own Secret, keeps one broken name one broken name."""
    rec, cfg = recordings["prod"], stack_config("prod")
    tls = cfg.gateway.tls
    ((issuer_group, issuer),) = config_group_objects(rec, "ClusterIssuer")
    certs = config_group_objects(rec, "Certificate")
    owners = stack.served_hostnames(cfg)
    assert sorted(c["spec"]["dnsNames"][0] for _, c in certs) == sorted(owners)
    found = listeners(rec)
    for group, cert in certs:
        (host,) = cert["spec"]["dnsNames"]
        assert cert["spec"]["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": tls.issuer}
        (ref,) = found[f"https-{host.replace('.', '-')}"]["tls"]["certificateRefs"]
        assert (cert["metadata"]["namespace"], cert["spec"]["secretName"]) == (cfg.namespaces.platform.gateway,
                                                                               ref["name"])
        assert rec.depends_on(group, issuer_group) and rec.depends_on(group, gateway_object(rec))
    assert len({c["spec"]["secretName"] for _, c in certs}) == len(owners), "every hostname its own Secret"
    assert issuer["metadata"]["name"] == tls.issuer
    acme = issuer["spec"]["acme"]
    assert acme["email"] == tls.acme_email
    assert acme["server"] == gateway_controller.ACME_SERVERS[tls.issuer]
    (solver,) = acme["solvers"]
    # no sectionName: the solver route attaches to whichever listener admits it for its hostname, which
    # is exactly that hostname's HTTP listener (the Certificate's, hence the route's, namespace is gateway)
    assert solver["http01"]["gatewayHTTPRoute"]["parentRefs"] == [{
        "group": GATEWAY_GROUP, "kind": "Gateway", "name": "platform", "namespace": cfg.namespaces.platform.gateway}]
    for host in owners:
        assert cfg.namespaces.platform.gateway in ownership.attachable(rec, host, "HTTP")
    assert rec.depends_on(issuer_group, rec.helm_release(CERT_MANAGER_RELEASE))


def test_the_gateway_pods_may_reach_the_acme_solver_pods_in_the_gateway_namespace(recordings) -> None:
    """cert-manager creates the solver pod (label acme.cert-manager.io/http01-solver, port 8089:
    pkg/issuer/acme/http/pod.go) in the Certificate's namespace; with that namespace default-deny, the
    HTTP-01 challenge needs the nginx pods -> solver flow."""
    rec, cfg = recordings["prod"], stack_config("prod")
    gw = cfg.namespaces.platform.gateway
    nginx = {GATEWAY_NAME_LABEL: "platform"}
    solver = {gateway_controller.ACME_SOLVER_LABEL: "true"}
    assert flow_matrix.allowed(rec, (gw, nginx), (gw, solver), gateway_controller.ACME_SOLVER_PORT)


def test_prod_gets_lets_encrypt_and_dev_no_tls() -> None:
    """The issue: prod serves HTTPS with a publicly trusted certificate; dev (kind) has none."""
    assert stack_config("dev").gateway.tls is None
    assert stack_config("prod").gateway.tls.issuer == "letsencrypt"


# ------------------------------------------------------------------------------ render + outputs
@pytest.mark.parametrize("name", STACKS)
def test_the_stack_with_the_demo_routes_passes_validate_manifests(name: str, demo, tmp_path) -> None:
    """Routes, redirects and policies the helper writes validate against the Gateway API schemas, and
    their parentRefs, listeners and backend Services resolve (the validator's own cross-checks)."""
    tools = shared_path("EVENT_PLATFORM_TOOLS", "the validate-manifests tool")
    schemas = shared_path("EVENT_PLATFORM_CRD_SCHEMAS", "the upstream CRD schemas")
    for file, text in render.render(demo[name][0]).items():
        (tmp_path / file).write_text(text)
    assert "kind: HTTPRoute" in (tmp_path / "demo.yaml").read_text()
    run = subprocess.run([sys.executable, str(tools / "validate-manifests"), "--k8s-version",
                          stack_config(name).cluster.kubernetes_version, "--crd-dir", str(schemas), str(tmp_path)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.strip().endswith(" 0 failed"), run.stdout + run.stderr


def test_the_stack_outputs_say_where_the_gateway_is_and_what_it_serves(recording) -> None:
    """After `pulumi up` an operator needs the Gateway, the Service holding its address and the URLs."""
    cfg = stack_config(recording.stack)
    scheme = "https" if cfg.gateway.tls else "http"
    out = recording.outputs
    assert out["gatewayName"] == f"{cfg.namespaces.platform.gateway}/platform"
    assert out["gatewayClass"] == "nginx"
    assert out["gatewayService"] == f"{cfg.namespaces.platform.gateway}/platform-nginx"
    assert out["gatewayUrls"] == [f"{scheme}://{h}" for h in stack.served_hostnames(cfg)]


# ---------------------------------------------------------------------------- refused arguments
def test_a_route_for_a_hostname_the_gateway_does_not_serve_is_refused(demo) -> None:
    """Caught when the program runs, not as a route that never attaches (no listener has the name)."""
    platform = demo["prod"][1]
    namespace = next(iter(platform.tenancy.apps.values())).namespace
    backend = RouteBackend(service=_demo_service(demo, "prod"), port=80, pod_labels={"a": "b"}, target_port=1)
    with pytest.raises(ValidationError, match="other.example.com: not served by the Gateway"):
        HttpRouteArgs(gateway=platform.gateway, namespace=namespace, route_name="x",
                      hostnames=("other.example.com",), backends=(backend,))


def test_a_route_for_an_unserved_hostname_is_refused_without_tls_too(demo) -> None:
    """Without TLS there is no certificate, but still no listener for an unserved name."""
    platform = demo["dev"][1]
    namespace = next(iter(platform.tenancy.apps.values())).namespace
    backend = RouteBackend(service=_demo_service(demo, "dev"), port=80, pod_labels={"a": "b"}, target_port=1)
    with pytest.raises(ValidationError, match="anything.localtest.me: not served by the Gateway"):
        HttpRouteArgs(gateway=platform.gateway, namespace=namespace, route_name="x",
                      hostnames=("anything.localtest.me",), backends=(backend,))


def test_a_route_whose_backends_all_weigh_zero_is_refused(demo) -> None:
    """Such a route answers every request with a 500: refuse it before deploying."""
    platform = demo["dev"][1]
    namespace = next(iter(platform.tenancy.apps.values())).namespace
    backend = RouteBackend(service=_demo_service(demo, "dev"), port=80, weight=0, pod_labels={"a": "b"},
                           target_port=1)
    with pytest.raises(ValidationError, match="every backend has weight 0"):
        HttpRouteArgs(gateway=platform.gateway, namespace=namespace, route_name="x",
                      hostnames=("events.localtest.me",), backends=(backend,))


def test_a_backend_must_name_its_pods_and_port_together_and_never_select_every_pod(demo) -> None:
    """Half a flow is no flow; an empty pod selector would open the whole namespace to the gateway."""
    service = _demo_service(demo, "dev")
    with pytest.raises(ValueError, match="go together"):
        RouteBackend(service=service, port=80, pod_labels={"a": "b"}, target_port=None)
    with pytest.raises(ValueError, match="open every pod"):
        RouteBackend(service=service, port=80, pod_labels={}, target_port=8080)
    with pytest.raises(ValueError, match="expected 0..1000000"):
        RouteBackend(service=service, port=80, weight=-1, pod_labels=None, target_port=None)
    with pytest.raises(TypeError):
        RouteBackend(service=service, port=80)  # pod_labels/target_port are required keywords


def test_tls_without_a_cert_manager_namespace_or_with_a_wildcard_for_acme_is_refused(demo) -> None:
    """Both would deploy and then never serve HTTPS: no cert-manager, or an order HTTP-01 cannot fill."""
    platform = demo["prod"][1]
    namespace = platform.tenancy.platform["gateway"]
    tls_cfg = GatewayConfig(domain="example.com", tls=TlsConfig(issuer="letsencrypt", acme_email="a@example.com"))
    with pytest.raises(ValidationError, match="cert_manager_namespace"):
        GatewayArgs(config=tls_cfg, namespace=namespace, namespace_name="gateway", hostnames={"a.example.com": "apps"})
    with pytest.raises(ValidationError, match="wildcard certificate cannot be issued"):
        GatewayArgs(config=tls_cfg, namespace=namespace, namespace_name="gateway",
                    cert_manager_namespace=namespace, hostnames={"*.example.com": "apps"})
    self_signed = GatewayConfig(domain="example.com", tls=TlsConfig())
    GatewayArgs(config=self_signed, namespace=namespace, namespace_name="gateway",
                cert_manager_namespace=namespace, hostnames={"*.example.com": "apps"})


def test_two_node_ports_that_collide_are_refused() -> None:
    """The API server would reject the data-plane Service, and NGF would keep retrying silently."""
    with pytest.raises(ValidationError, match="expected two different ports"):
        GatewayConfig(domain="localtest.me", service_type="NodePort", http_node_port=30080, https_node_port=30080)


def test_the_gateway_component_exposes_the_interface_apps_code_against(demo) -> None:
    """The collector and observability components read these attributes; renaming one breaks them."""
    for name in STACKS:
        gw: Gateway = demo[name][1].gateway
        cfg = stack_config(name)
        assert (gw.gateway_name, gw.gateway_namespace, gw.http_listener) == ("platform", "gateway", "http")
        assert gw.https_listener == ("https" if cfg.gateway.tls else None)
        assert gw.domain == cfg.gateway.domain
        assert gw.hostnames == tuple(stack.served_hostnames(cfg))
        assert gw.owners == stack.served_hostnames(cfg)
        assert gw.listener_for(gw.hostnames[0]).startswith(gw.https_listener or gw.http_listener)
        for resource in (gw.gateway, gw.crds, gw.controller):
            assert isinstance(resource, pulumi.Resource)


def test_a_wildcard_certificate_name_covers_exactly_one_label() -> None:
    """A self-signed *.domain certificate serves events.domain, not a.events.domain."""
    assert covered("events.localtest.me", ("*.localtest.me",))
    assert not covered("a.events.localtest.me", ("*.localtest.me",))
    assert not covered("localtest.me", ("*.localtest.me",))
    assert covered("events.example.com", ("grafana.example.com", "events.example.com"))
    assert not covered("events.example.com", ("grafana.example.com",))
