"""Reading IAM statements out of synthesized templates (resolved ARNs: every name comes from settings)."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Synth


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(synth: Synth, stack: str, role_id: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to ``role_id`` (inline and AWS::IAM::Policy)."""
    statements: list[dict[str, Any]] = []
    role = synth.templates[stack]["Resources"][role_id]
    for policy in role["Properties"].get("Policies", []):
        statements += as_list(policy["PolicyDocument"]["Statement"])
    for policy in synth.resources(stack, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    assert statements, f"{role_id} has no statements"
    return statements


def s3_object_resources(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Object ARN -> allowed object-level S3 actions (string ARNs only; ListBucket is bucket-level)."""
    result: dict[str, set[str]] = {}
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = {a for a in as_list(statement["Action"]) if a.startswith("s3:") and a != "s3:ListBucket"}
        if not actions:
            continue
        for resource in as_list(statement["Resource"]):
            if isinstance(resource, str) and resource.startswith("arn:aws:s3:::") and "/" in resource:
                result.setdefault(resource, set()).update(actions)
    return result


def all_statements(synth: Synth) -> list[tuple[str, str, dict[str, Any]]]:
    """(stack, logical id, statement) of every identity policy in every template."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for stack in synth.templates:
        for rid, role in synth.resources(stack, "AWS::IAM::Role").items():
            for policy in role["Properties"].get("Policies", []):
                found += [(stack, rid, st) for st in as_list(policy["PolicyDocument"]["Statement"])]
        for pid, policy in synth.resources(stack, "AWS::IAM::Policy").items():
            found += [(stack, pid, st) for st in as_list(policy["Properties"]["PolicyDocument"]["Statement"])]
    return found


def glue_resources(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Glue ARN -> allowed ``glue:`` actions (string ARNs; ``*`` included, so a wildcard grant shows)."""
    result: dict[str, set[str]] = {}
    for statement in statements:
        if statement["Effect"] != "Allow":
            continue
        actions = {a for a in as_list(statement["Action"]) if a.startswith("glue:")}
        for resource in as_list(statement["Resource"]) if actions else []:
            if isinstance(resource, str) and (resource == "*" or resource.startswith("arn:aws:glue:")):
                result.setdefault(resource, set()).update(actions)
    return result
