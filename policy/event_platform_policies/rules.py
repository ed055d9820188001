"""Turns pure check functions into pulumi-policy policies.

A check is a plain function: a resource check takes `(resource_type, props, config)` and yields one
sentence per problem; a stack check takes `(resources, config)` and yields `(sentence, urn)`. They
know nothing of the engine, so tests call them through real `ResourceValidationArgs` built by
`event_platform_policies.testing` without a Pulumi CLI. Every policy here is MANDATORY: a violation
fails `pulumi preview` and stops `pulumi up`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from event_platform_policies.kubernetes import describe

ResourceCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any]], Iterator[str]]
StackCheck = Callable[[Sequence[PolicyResource], Mapping[str, Any]], Iterator[tuple[str, str]]]


def violation(where: str, rule: str, problem: str) -> str:
    """The one message format: which object, which rule, what is wrong and what to do."""
    return f"{where} breaks rule '{rule}': {problem}"


def string_list(default: Sequence[str], description: str) -> dict[str, Any]:
    """A config property holding a list of strings (JSON schema, with its default)."""
    return {"type": "array", "items": {"type": "string"}, "default": list(default), "description": description}


def config_list(config: Mapping[str, Any], key: str, default: Iterable[str]) -> list[str]:
    """A list-valued config property; the default when the pack runs without configuration."""
    value = config.get(key) if config else None
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else list(default)


def resource_policy(name: str, description: str, check: ResourceCheck, *, remediation: str,
                    config: dict[str, dict[str, Any]] | None = None) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        where = None
        for problem in check(args.resource_type, args.props, args.get_config()):
            where = where or describe(args.resource_type, args.props, args.name)
            report_violation(violation(where, name, problem), None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties=config) if config else None, remediation_steps=remediation)


def stack_policy(name: str, description: str, check: StackCheck, *, remediation: str,
                 config: dict[str, dict[str, Any]] | None = None) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for problem, urn in check(args.resources, args.get_config()):
            report_violation(problem, urn)

    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(properties=config) if config else None, remediation_steps=remediation)
