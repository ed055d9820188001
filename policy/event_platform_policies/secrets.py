"""No Secret with literal data: Secret values come from an ExternalSecret or are generated.

Why a stack policy: the engine sends secret-marked values to a policy pack, but pulumi-policy's
Python SDK unwraps the mark before calling a validation (`deserialize_properties(..., proxy_secrets=
False)` in `Analyze` and `AnalyzeStack`), so `args.props` hold a generated password and a password
typed into the program alike. What tells them apart is where the value comes from, and only the
stack view carries that: `PolicyResource.property_dependencies` lists, per input property, the
resources its value was computed from. A Secret whose `data`/`stringData` depends on a generator
(`random:` RandomPassword and friends, `tls:` keys) is generated; one with values and no such
dependency carries literals. Secrets the External Secrets Operator writes are not declared by
Pulumi at all, so they never reach this rule.

Limit: the dependency is known per property, not per key, so a Secret mixing one generated value
with one literal in the same `stringData` passes. The dev seed Secrets (secrets component) keep one
generated value per key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource
from pulumi_policy.proxy import UnknownValueError

from event_platform_policies.kubernetes import SECRET, describe, get
from event_platform_policies.rules import config_list, stack_policy, string_list, violation

RULE = "secrets-not-literal"
DATA_PROPERTIES = ("data", "stringData")
DEFAULT_GENERATORS = ("random:", "tls:")
"""Type-token prefixes of providers whose outputs are generated values (pulumi-random, pulumi-tls)."""


def _carries_values(props: Mapping[str, Any], key: str) -> bool:
    try:
        value = get(props, key)
    except UnknownValueError:
        return True  # computed during preview: it carries something, the dependencies say what
    return (isinstance(value, Mapping) and len(value) > 0) or (isinstance(value, str) and value != "")


def literal_secrets(resources: Sequence[PolicyResource], config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    generators = tuple(config_list(config, "generatorTypePrefixes", DEFAULT_GENERATORS))
    for resource in resources:
        if resource.resource_type != SECRET:
            continue
        carried = [key for key in DATA_PROPERTIES if _carries_values(resource.props, key)]
        if not carried:
            continue
        sources = [dep for key in DATA_PROPERTIES for dep in (resource.property_dependencies or {}).get(key, [])]
        if any(dep.resource_type.startswith(generators) for dep in sources):
            continue
        where = describe(resource.resource_type, resource.props, resource.name)
        yield violation(where, RULE, (
            f"its {' and '.join(carried)} hold values that no generator produced (no dependency on a "
            f"{' or '.join(generators)} resource), so they are literals in the program and its state; let an "
            "ExternalSecret fill this Secret from the store, or generate the value (random.RandomPassword)")), \
            resource.urn


SECRETS_NOT_LITERAL = stack_policy(
    RULE,
    "No Kubernetes Secret declared with literal data: Secrets come from ExternalSecrets or carry generated values.",
    literal_secrets,
    remediation="Use SecretStore.external_secret(...) for the Secret, or build its values from a generator resource.",
    config={"generatorTypePrefixes": string_list(
        DEFAULT_GENERATORS, "Type-token prefixes of resources whose outputs count as generated secret values.")})
