"""The pod a service runs as: container, probes, drain timing, security context and spread; the same
for the stable version and the canary."""

from __future__ import annotations

from typing import Any

import pulumi

from event_platform.components.web_service_args import (
    WebServiceArgs,
)

GRACE_MARGIN_SECONDS = 10


def pod_spec(args: WebServiceArgs, image: pulumi.Input[str], track: str) -> dict:
    http_probe = {"port": "http", "scheme": "HTTP"}
    spread = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
              "whenUnsatisfiable": "DoNotSchedule" if args.spread_strictly else "ScheduleAnyway",
              "labelSelector": {"matchLabels": args.pod_selector(track)}}
    env = [{"name": s.env, "valueFrom": {"secretKeyRef": {"name": s.secret_name, "key": s.key}}}
           for s in args.secret_env]
    env += [{"name": var, "valueFrom": {"secretKeyRef": {"name": f"{args.name}-secrets", "key": var}}}
            for var in args.secrets]
    container: dict[str, Any] = {
        "name": args.name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": args.port, "protocol": "TCP"}],
        **({"envFrom": [{"configMapRef": {"name": f"{args.name}-config"}}]} if args.config else {}),
        **({"env": env} if env else {}),
        "resources": args.resources.as_kubernetes(),
        "startupProbe": {"httpGet": {**http_probe, "path": args.probes.liveness_path},
                         "periodSeconds": 2, "failureThreshold": args.probes.startup_seconds // 2},
        "livenessProbe": {"httpGet": {**http_probe, "path": args.probes.liveness_path},
                          "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3},
        "readinessProbe": {"httpGet": {**http_probe, "path": args.probes.readiness_path},
                           "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 2},
        "lifecycle": {"preStop": {"sleep": {"seconds": args.pre_stop_seconds}}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        **({"imagePullSecrets": [{"name": args.image_pull_secret}]} if args.image_pull_secret else {}),
        "serviceAccountName": args.name,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": termination_grace_seconds(args),
        "securityContext": {"runAsNonRoot": True, "runAsUser": args.run_as_user, "runAsGroup": args.run_as_user,
                            "fsGroup": args.run_as_user, "seccompProfile": {"type": "RuntimeDefault"}},
        "topologySpreadConstraints": [spread],
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": args.tmp_size}}],
    }


def termination_grace_seconds(args: WebServiceArgs) -> int:
    """Longer than everything a stopping pod does, so Kubernetes never SIGKILLs a drain."""
    return args.pre_stop_seconds + args.drain_seconds + GRACE_MARGIN_SECONDS
