"""Redis password rotation (issue 12, item 7): Redis reads its password at start, the collector its URL
at start. A rotation rolls Redis first onto a Secret accepting the old and the new password, then the
collector onto the new URL; checked on the recorded objects of a stack with the rotation count raised."""

from __future__ import annotations

import pytest
import yaml

from event_platform import config, offline
from harness import REPO_ROOT, stack_config

ROTATION = "event-platform.io/redis-password-rotation"


@pytest.fixture(scope="module")
def rotated(tmp_path_factory: pytest.TempPathFactory) -> offline.Recording:
    """The dev stack after its first rotation (`redis.passwordRotation: 1`)."""
    document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    document["config"]["event-platform:redis"]["passwordRotation"] = 1
    path = tmp_path_factory.mktemp("rotated") / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document))
    return offline.record(config.load_stack_file(path))


def _redis_secret_refs(rec: offline.Recording, env: str) -> set[str]:
    pod = rec.object("StatefulSet", "redis", env).plain["spec"]["template"]["spec"]
    refs = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    refs |= {e["valueFrom"]["secretKeyRef"]["name"] for c in pod["containers"] for e in c.get("env", [])
             if "secretKeyRef" in e.get("valueFrom", {})}
    return refs


def _collector_redis_secret(rec: offline.Recording, env: str) -> str:
    pod = rec.object("Deployment", "collector", env).plain["spec"]["template"]["spec"]
    (ref,) = [e["valueFrom"]["secretKeyRef"]["name"] for c in pod["containers"] for e in c.get("env", [])
              if e["name"] == "REDIS_URL"]
    return ref


def test_a_rotation_moves_redis_and_the_collector_onto_a_new_secret_together(recordings, rotated) -> None:
    """Both read the Secret at start only: a rotation must change both pod templates, or one of them
    keeps the old password until some unrelated restart splits them."""
    env = stack_config("dev").namespaces.app_names[0]
    before, after = recordings["dev"], rotated
    assert _redis_secret_refs(before, env) == {"redis-auth"} and _collector_redis_secret(before, env) == "redis-auth"
    assert _redis_secret_refs(after, env) == {"redis-auth-r1"}
    assert _collector_redis_secret(after, env) == "redis-auth-r1"
    assert after.object("ExternalSecret", "redis-auth-r1", env).plain["spec"]["target"]["name"] == "redis-auth-r1"
    for rec, count in ((before, "0"), (after, "1")):
        for kind, name in (("StatefulSet", "redis"), ("Deployment", "collector")):
            annotations = rec.object(kind, name, env).plain["spec"]["template"]["metadata"]["annotations"]
            assert annotations[ROTATION] == count, (kind, count)


def test_the_collector_rolls_only_after_redis_is_ready_on_the_new_password(recording) -> None:
    """Pulumi updates a resource after the ones it depends on are ready: the collector's Deployments
    depend on the Redis StatefulSet, so Redis (accepting both passwords) restarts first."""
    for env in stack_config(recording.stack).namespaces.app_names:
        redis = recording.object("StatefulSet", "redis", env)
        for deployment in recording.objects("Deployment", env):
            if deployment.k8s_name.startswith("collector"):
                assert recording.depends_on(deployment, redis), deployment.k8s_name


def test_redis_accepts_the_old_and_the_new_password_and_clients_use_the_new_one(recording) -> None:
    """During the roll the collector's old pods still hold the old password: Redis must accept it,
    or they fail until they are replaced."""
    for env in stack_config(recording.stack).namespaces.app_names:
        es = recording.object("ExternalSecret", "redis-auth", env).plain["spec"]
        properties = {d["secretKey"]: d["remoteRef"]["property"] for d in es["data"]}
        assert properties == {"password": "password", "previous": "previous-password"}
        template = es["target"]["template"]["data"]
        assert ">{{ .password }}" in template["auth.conf"] and ">{{ .previous }}" in template["auth.conf"]
        assert "resetpass" in template["auth.conf"], "only the two listed passwords may be accepted"
        assert "{{ .previous }}" not in template["url"] and "{{ .password }}" in template["url"]
