"""Turns CloudFormation values into comparable plain data.

SAM and CDK spell the same thing differently: `!Sub ${ArchiveBucket.Arn}/raw/*` versus
`Fn::Join ["", [Fn::GetAtt [ArchiveBucket, Arn], "/raw/*"]]`, a single action as a string
versus a one-element list. Both become the string `${ArchiveBucket.Arn}/raw/*` here, so the
least-privilege and parity tests compare meaning, not spelling.

Conditional parts (`Fn::If` on a template condition, `AWS::NoValue` dropping the part) are
resolved for one parameter set by `resolve_conditions`: the grants of a role are those of
the stack as deployed with given parameters (the defaults unless told otherwise).
"""

from __future__ import annotations

from typing import Any

NO_VALUE = {"Ref": "AWS::NoValue"}


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


def condition_values(template: dict[str, Any], parameters: dict[str, str] | None = None) -> dict[str, bool]:
    """The template's Conditions evaluated with its parameter defaults, overridden by `parameters`."""
    values = {name: str(p.get("Default")) for name, p in template.get("Parameters", {}).items()}
    values.update(parameters or {})
    unknown = set(parameters or {}) - set(template.get("Parameters", {}))
    assert not unknown, f"no such parameters: {sorted(unknown)}"
    definitions = template.get("Conditions", {})
    done: dict[str, bool] = {}

    def evaluate(value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return values[arg]
            if key == "Condition":
                return condition(arg)
            if key == "Fn::Equals":
                left, right = (evaluate(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not evaluate(arg[0])
            if key == "Fn::And":
                return all(evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(evaluate(a) for a in arg)
            raise AssertionError(f"condition function not supported here: {key}")
        return value

    def condition(name: str) -> bool:
        if name not in done:
            done[name] = bool(evaluate(definitions[name]))
        return done[name]

    return {name: condition(name) for name in definitions}


def resolve_conditions(value: Any, conditions: dict[str, bool]) -> Any:
    """Replaces every `Fn::If` by its chosen branch; an `AWS::NoValue` branch removes the
    list element or property it stands for."""
    if isinstance(value, dict) and len(value) == 1 and "Fn::If" in value:
        name, then, otherwise = value["Fn::If"]
        return resolve_conditions(then if conditions[name] else otherwise, conditions)
    if isinstance(value, dict):
        resolved = {k: resolve_conditions(v, conditions) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v != NO_VALUE}
    if isinstance(value, list):
        return [v for v in (resolve_conditions(v, conditions) for v in value) if v != NO_VALUE]
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


def role_statements(
    template: dict[str, Any], role_id: str, parameters: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every statement granted to a role: its inline policies plus attached AWS::IAM::Policy,
    for the stack deployed with `parameters` (defaults otherwise)."""
    conditions = condition_values(template, parameters)
    resources = template["Resources"]
    statements = []
    for policy in resources[role_id]["Properties"].get("Policies", []):
        statements.extend(as_list(policy["PolicyDocument"]["Statement"]))
    for resource in resources.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            if "Condition" in resource and not conditions[resource["Condition"]]:
                continue
            attached = [expr(r) for r in as_list(resource["Properties"].get("Roles", []))]
            if "${%s}" % role_id in attached:
                statements.extend(as_list(resource["Properties"]["PolicyDocument"]["Statement"]))
    return [expr(s) for s in resolve_conditions(statements, conditions)]


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


def function_grants(
    template: dict[str, Any], parameters: dict[str, str] | None = None,
) -> dict[str, dict[str, set[str]]]:
    """Function logical id -> its role's grants (with `parameters`, defaults otherwise)."""
    return {
        fn: grants(role_statements(template, role, parameters))
        for fn, role in function_roles(template).items()
    }
