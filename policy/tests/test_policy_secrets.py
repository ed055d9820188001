"""No Secret with literal data: a declared Secret's values must come from a generator.

The rule reads `property_dependencies` because the values themselves cannot tell a generated
password from a typed one (test_policy_pack.py shows the SDK unwrapping secret marks).
"""

from __future__ import annotations

from event_platform_policies.secrets import SECRETS_NOT_LITERAL
from event_platform_policies.testing import UNKNOWN, check_stack, stack_resource

SECRET = "kubernetes:core/v1:Secret"
PASSWORD = "random:index/randomPassword:RandomPassword"


def secret(name: str = "postgres-app", **fields: object) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": "platform-secrets"}, **fields}


def test_a_secret_whose_values_are_generated_passes() -> None:
    """If this fails, the dev store's generated seed Secrets are rejected."""
    password = stack_resource(PASSWORD, {"length": 32, "result": "generated"}, name="secrets-postgres-password")
    seed = stack_resource(SECRET, secret(stringData={"password": "generated"}), name="secrets-seed-postgres",
                          property_dependencies={"stringData": [password]})
    assert check_stack(SECRETS_NOT_LITERAL, [password, seed]) == []


def test_a_secret_with_literal_values_is_rejected() -> None:
    """If this fails, a password typed into the program reaches the cluster and the state in plain text."""
    namespace = stack_resource("kubernetes:core/v1:Namespace", {"metadata": {"name": "dev"}}, name="dev-ns")
    literal = stack_resource(SECRET, secret("db-credentials", stringData={"password": "hunter2"}),
                             name="collector-db-credentials", dependencies=[namespace],
                             property_dependencies={"metadata": [namespace]})
    violations = check_stack(SECRETS_NOT_LITERAL, [namespace, literal])
    assert len(violations) == 1
    message, urn = violations[0]
    assert urn == literal.urn
    for named in ("Secret 'platform-secrets/db-credentials'", "collector-db-credentials", "rule 'secrets-not-literal'",
                  "stringData", "ExternalSecret"):
        assert named in message, named
    assert "hunter2" not in message, "a violation message must never print the value"


def test_base64_data_counts_as_data_too() -> None:
    """If this fails, a literal moved from stringData to data slips through."""
    literal = stack_resource(SECRET, secret(data={"password": "aHVudGVyMg=="}), name="literal")
    assert len(check_stack(SECRETS_NOT_LITERAL, [literal])) == 1


def test_after_deployment_the_values_appear_as_data_and_still_trace_to_the_generator() -> None:
    """If this fails, the rule rejects a generated Secret after `up`, where Kubernetes returns the
    values under `data` while the dependency was recorded on the `stringData` input."""
    password = stack_resource(PASSWORD, {"result": "generated"}, name="pw")
    deployed = stack_resource(SECRET, secret(data={"password": "Z2VuZXJhdGVk"}), name="seed",
                              property_dependencies={"stringData": [password]})
    assert check_stack(SECRETS_NOT_LITERAL, [password, deployed]) == []


def test_a_secret_without_data_passes() -> None:
    """If this fails, Secrets that Kubernetes or an operator fills (service-account tokens) are rejected."""
    token = stack_resource(SECRET, secret("reader-token", type="kubernetes.io/service-account-token"), name="token")
    assert check_stack(SECRETS_NOT_LITERAL, [token]) == []


def test_values_unknown_during_preview_are_judged_by_where_they_come_from() -> None:
    """If this fails, a first preview (passwords not generated yet) either passes literals or rejects
    generated Secrets."""
    password = stack_resource(PASSWORD, {"result": UNKNOWN}, name="pw")
    generated = stack_resource(SECRET, secret(stringData=UNKNOWN), name="generated",
                               property_dependencies={"stringData": [password]})
    computed_elsewhere = stack_resource(SECRET, secret("other", stringData=UNKNOWN), name="computed")
    violations = check_stack(SECRETS_NOT_LITERAL, [password, generated, computed_elsewhere])
    assert [urn for _, urn in violations] == [computed_elsewhere.urn]


def test_the_generator_types_are_configurable() -> None:
    """If this fails, a stack that generates keys with another provider cannot tell the pack."""
    key = stack_resource("vault:generic/secret:Secret", {}, name="key")
    seeded = stack_resource(SECRET, secret(stringData={"k": "v"}), name="seeded",
                            property_dependencies={"stringData": [key]})
    assert len(check_stack(SECRETS_NOT_LITERAL, [key, seeded])) == 1
    assert check_stack(SECRETS_NOT_LITERAL, [key, seeded], config={"generatorTypePrefixes": ["vault:"]}) == []
