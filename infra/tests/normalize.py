"""Turns CloudFormation values into comparable plain data.

SAM and CDK spell the same thing differently: `!Sub ${ArchiveBucket.Arn}/raw/*` versus
`Fn::Join ["", [Fn::GetAtt [ArchiveBucket, Arn], "/raw/*"]]`, a single action as a string
versus a one-element list. Both become the string `${ArchiveBucket.Arn}/raw/*` here, so the
least-privilege and parity tests compare meaning, not spelling.
"""

from __future__ import annotations

from typing import Any


def expr(value: Any) -> Any:
    """Renders intrinsics as `${Name}` / `${Name.Attr}` strings; recurses into containers."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return "${%s}" % arg
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            return "${%s.%s}" % (parts[0], parts[1])
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return arg
            text, variables = arg
            for name, sub in variables.items():
                text = text.replace("${%s}" % name, str(expr(sub)))
            return text
        if key == "Fn::Join":
            separator, parts = arg
            rendered = [expr(p) for p in parts]
            if all(isinstance(p, str) for p in rendered):
                return separator.join(rendered)
            return {key: [separator, rendered]}
    if isinstance(value, dict):
        return {k: expr(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expr(v) for v in value]
    return value


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_roles(template: dict[str, Any]) -> dict[str, str]:
    """Lambda function logical id -> the logical id of its execution role."""
    roles = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            role = expr(resource["Properties"]["Role"])
            assert role.startswith("${") and role.endswith(".Arn}"), (logical_id, role)
            roles[logical_id] = role[2:-len(".Arn}")]
    return roles


def role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement granted to a role: its inline policies plus attached AWS::IAM::Policy."""
    resources = template["Resources"]
    statements = []
    for policy in resources[role_id]["Properties"].get("Policies", []):
        statements.extend(as_list(policy["PolicyDocument"]["Statement"]))
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            attached = [expr(r) for r in as_list(resource["Properties"].get("Roles", []))]
            if "${%s}" % role_id in attached:
                statements.extend(as_list(resource["Properties"]["PolicyDocument"]["Statement"]))
    return [expr(s) for s in statements]


def grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Allow statements as resource -> set of actions (the shape least privilege is about)."""
    table: dict[str, set[str]] = {}
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for resource in as_list(statement.get("Resource", [])):
            key = resource if isinstance(resource, str) else repr(resource)
            table.setdefault(key, set()).update(as_list(statement.get("Action", [])))
    return table


def function_grants(template: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """Function logical id -> its role's grants."""
    return {
        fn: grants(role_statements(template, role)) for fn, role in function_roles(template).items()
    }
