"""The CDK app synthesizes the same stack as the SAM template.

Both sides are normalized (intrinsics rendered as `${Name.Attr}` strings, one-element lists,
key order) and compared by logical id: the CDK app pins every logical id to SAM's. Targeted
tests name the properties the design cares about (so a failure says what drifted); the last
test compares everything else, with each tolerated difference listed and explained in
`canonical`.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import normalize
import samexpand
import test_least_privilege

# Differences that are spelling, not meaning, or that are deliberately tool-specific.
IGNORED_PROPERTIES = {
    "AWS::Lambda::Function": {"Code"},  # SAM: the `sam build` artifact; CDK: its asset bucket
}


def _function_id(value: Any) -> Any:
    """`${Fn}` (Ref) and `${Fn.Arn}` both identify the function for FunctionName/TargetFunctionArn."""
    if isinstance(value, str) and value.endswith(".Arn}"):
        return value[: -len(".Arn}")] + "}"
    return value


def _statement(statement: Any) -> Any:
    if isinstance(statement, dict) and set(statement) == {"Fn::If"}:  # a conditional statement
        name, then, otherwise = statement["Fn::If"]
        return {"Fn::If": [name, _statement(then), _statement(otherwise)]}
    if not isinstance(statement, dict):  # AWS::NoValue, rendered as "${AWS::NoValue}"
        return statement
    canon = dict(statement)
    for key in ("Action", "Resource"):
        if key in canon:
            canon[key] = sorted(normalize.as_list(canon[key]), key=str)
    if canon.get("Principal") == "*":
        canon["Principal"] = {"AWS": "*"}  # the same principal, two spellings
    return canon


def canonical(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's meaning, with the tolerated spelling differences removed."""
    r = normalize.expr(copy.deepcopy(resource))
    props = r.get("Properties", {})
    kind = r["Type"]
    for ignored in IGNORED_PROPERTIES.get(kind, ()):
        props.pop(ignored, None)
    if "Tags" in props:  # SAM tags its functions lambda:createdBy=SAM
        props["Tags"] = [t for t in props["Tags"] if t.get("Key") != "lambda:createdBy"] or None
        if props["Tags"] is None:
            del props["Tags"]
    for key in ("FunctionName", "TargetFunctionArn"):
        if key in props:
            props[key] = _function_id(props[key])
    if kind == "AWS::Events::Rule":
        props.pop("State", None) if props.get("State") == "ENABLED" else None  # ENABLED is the default
        props["Targets"] = [{k: v for k, v in t.items() if k != "Id"} for t in props.get("Targets", [])]
    for document_key in ("PolicyDocument", "AssumeRolePolicyDocument"):
        if document_key in props:
            doc = props[document_key]
            doc["Statement"] = [_statement(s) for s in normalize.as_list(doc["Statement"])]
    for policy in props.get("Policies", []):
        policy["PolicyDocument"]["Statement"] = [
            _statement(s) for s in normalize.as_list(policy["PolicyDocument"]["Statement"])
        ]
    canon = {"Type": kind, "Properties": props}
    # DeletionPolicy absent means Delete; DependsOn only orders creation.
    for policy_key in ("DeletionPolicy", "UpdateReplacePolicy"):
        canon[policy_key] = r.get(policy_key, "Delete")
    return canon


def _props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    return canonical(template["Resources"][logical_id])["Properties"]


# CDK's Function adds DependsOn on its role although Role: !GetAtt already orders them.
CDK_LINT_TOLERATED = {"W3005"}


def test_the_cdk_template_lints_clean_with_cfn_lint(cdk_template: dict[str, Any], tmp_path) -> None:
    findings = samexpand.lint(cdk_template, tmp_path, "cdk.json")
    assert [f for f in findings if f.split(" ", 1)[0] not in CDK_LINT_TOLERATED] == []


def test_both_templates_declare_the_same_resource_types_and_counts(
    expanded: dict[str, Any], cdk_template: dict[str, Any],
) -> None:
    count = lambda t: Counter(r["Type"] for r in t["Resources"].values())  # noqa: E731
    assert count(cdk_template) == count(expanded)


def test_both_templates_use_the_same_logical_ids(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    assert sorted(cdk_template["Resources"]) == sorted(expanded["Resources"])


def test_event_source_mappings_match(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    mappings = samexpand.resources_of_type(expanded, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 4
    for logical_id in mappings:
        assert _props(cdk_template, logical_id) == _props(expanded, logical_id), logical_id


def test_tables_match_in_keys_indexes_ttl_billing_and_encryption(
    expanded: dict[str, Any], cdk_template: dict[str, Any],
) -> None:
    fields = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "TimeToLiveSpecification",
              "BillingMode", "PointInTimeRecoverySpecification", "SSESpecification", "TableName")
    for logical_id in samexpand.resources_of_type(expanded, "AWS::DynamoDB::Table"):
        sam, cdk = _props(expanded, logical_id), _props(cdk_template, logical_id)
        for field in fields:
            if field == "AttributeDefinitions":
                key = lambda a: a["AttributeName"]  # noqa: E731
                assert sorted(cdk.get(field, []), key=key) == sorted(sam.get(field, []), key=key), logical_id
            else:
                assert cdk.get(field) == sam.get(field), (logical_id, field)


def test_streams_match_in_encryption_and_shards(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    for logical_id in samexpand.resources_of_type(expanded, "AWS::Kinesis::Stream"):
        sam, cdk = _props(expanded, logical_id), _props(cdk_template, logical_id)
        for field in ("StreamEncryption", "ShardCount", "RetentionPeriodHours", "StreamModeDetails", "Name"):
            assert cdk.get(field) == sam.get(field), (logical_id, field)


def test_buckets_and_bucket_policies_match(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    for kind in ("AWS::S3::Bucket", "AWS::S3::BucketPolicy"):
        for logical_id in samexpand.resources_of_type(expanded, kind):
            sam, cdk = canonical(expanded["Resources"][logical_id]), canonical(cdk_template["Resources"][logical_id])
            if kind == "AWS::S3::BucketPolicy":  # Sids are labels, not meaning
                for doc in (sam, cdk):
                    for s in doc["Properties"]["PolicyDocument"]["Statement"]:
                        s.pop("Sid", None)
            assert cdk == sam, logical_id


def test_schedules_match(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    rules = samexpand.resources_of_type(expanded, "AWS::Events::Rule")
    assert len(rules) == 2
    for logical_id in rules:
        assert _props(cdk_template, logical_id) == _props(expanded, logical_id), logical_id
        permission = f"{logical_id}Permission"
        assert _props(cdk_template, permission) == _props(expanded, permission), permission


def test_iam_actions_per_function_match(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    assert normalize.function_grants(cdk_template) == normalize.function_grants(expanded)


def test_cdk_roles_pass_the_same_least_privilege_checks(cdk_template: dict[str, Any]) -> None:
    for check in (test_least_privilege.check_rules, test_least_privilege.check_expected,
                  test_least_privilege.check_consistency):
        assert check(cdk_template) == [], check.__name__


def test_iam_actions_match_on_either_state_backend(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    for backend in ("shard_log", "dynamodb"):
        parameters = {"StateBackend": backend}
        assert normalize.function_grants(cdk_template, parameters) == normalize.function_grants(
            expanded, parameters), backend
        assert test_least_privilege.check_expected(cdk_template, parameters) == [], backend


def test_parameters_conditions_and_outputs_match(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    def params(t: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, p in t["Parameters"].items():
            if name == "BootstrapVersion":  # CDK's deployment-role version check
                continue
            p = dict(p)
            if "AllowedValues" in p:
                p["AllowedValues"] = [str(v) for v in p["AllowedValues"]]
            out[name] = {k: str(v) if k in ("Default", "MinValue", "MaxValue") else v for k, v in p.items()}
        return out

    assert params(cdk_template) == params(expanded)
    assert cdk_template.get("Conditions") == expanded.get("Conditions")
    outputs = lambda t: {k: normalize.expr(v) for k, v in t["Outputs"].items()}  # noqa: E731
    assert outputs(cdk_template) == outputs(expanded)


def differences(sam_template: dict[str, Any], cdk_template: dict[str, Any]) -> list[str]:
    """Every property (and deletion policy) that differs between same-id resources."""
    found = []
    for logical_id, resource in sam_template["Resources"].items():
        other = cdk_template["Resources"].get(logical_id)
        if other is None:
            continue  # reported by test_both_templates_use_the_same_logical_ids
        sam, cdk = canonical(resource), canonical(other)
        if sam["Type"] == "AWS::S3::BucketPolicy":
            continue  # compared without Sids in test_buckets_and_bucket_policies_match
        for key in sorted(set(sam["Properties"]) | set(cdk["Properties"])):
            if sam["Properties"].get(key) != cdk["Properties"].get(key):
                found.append(f"{logical_id}.{key}: SAM {sam['Properties'].get(key)!r} CDK {cdk['Properties'].get(key)!r}")
        for key in ("DeletionPolicy", "UpdateReplacePolicy"):
            if sam[key] != cdk[key]:
                found.append(f"{logical_id} {key}: SAM {sam[key]} CDK {cdk[key]}")
    return found


def test_every_other_property_matches(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    assert differences(expanded, cdk_template) == []


def test_the_comparison_notices_drift(expanded: dict[str, Any], cdk_template: dict[str, Any]) -> None:
    drifted = copy.deepcopy(cdk_template)
    drifted["Resources"]["ArchiverFunctionTransactions"]["Properties"]["BatchSize"] = 100
    drifted["Resources"]["StateTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] = "expires"
    drifted["Resources"]["ReconcilerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][1][
        "Action"] = "s3:ListBucketVersions"
    found = differences(expanded, drifted)
    assert any(d.startswith("ArchiverFunctionTransactions.BatchSize") for d in found), found
    assert any(d.startswith("StateTable.TimeToLiveSpecification") for d in found), found
    assert any(d.startswith("ReconcilerRole.Policies") for d in found), found
    assert normalize.function_grants(drifted) != normalize.function_grants(expanded)
