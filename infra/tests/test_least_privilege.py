"""Each function's role grants exactly the actions it uses on exactly its resources.

The expected grants below are the reviewed list (why each one exists is in the template's Sids
and infra/README.md). The test compares the expanded SAM template -- and the CDK template when
available, via test_parity.py -- against it exactly, so a new permission must be added here on
purpose, and it also checks the general rules: no wildcard actions, no `*` resources, wildcard
resources only where AWS offers nothing narrower, no managed policies, one role per function.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import contract
import normalize

LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
KINESIS_CONSUME = {  # what the Lambda Kinesis poller needs (Lambda developer guide, "services-kinesis-create")
    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
    "kinesis:GetShardIterator", "kinesis:ListShards",
}
KINESIS_PRODUCE = {"kinesis:PutRecord", "kinesis:PutRecords"}
STATE_RW = {
    "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
}
# Stream records are encrypted with the AWS managed key alias/aws/kinesis, whose key id is not
# known to the template: the exception is `key/*` in this account and region, restricted by a
# kms:ViaService condition to requests Kinesis makes on the function's behalf.
KMS_KEYS = "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"
FAILURES = {  # the Kinesis OnFailure destination: Lambda needs PutObject and ListBucket on it
    "${EsmFailureBucket.Arn}/*": {"s3:PutObject"},
    "${EsmFailureBucket.Arn}": {"s3:ListBucket"},
}


def _consumer(log_group: str) -> dict[str, set[str]]:
    return {
        f"${{{log_group}.Arn}}": LOGS,
        "${TransactionsStream.Arn}": KINESIS_CONSUME,
        KMS_KEYS: {"kms:Decrypt"},
        **FAILURES,
    }


STATE_BUCKET = "${OperatorStateBucket.Arn}"


def _shard_log(function: str) -> dict[str, set[str]]:
    """The shard-log backend (StateBackend=shard_log, the default) for `function`: the objects
    of its operator (contract.STATE_BACKEND_OPERATORS) under that operator's prefix (read,
    written, deleted once retired; never listed), and ListBucket only so that a missing object
    reads as 404 NoSuchKey, not 403 (S3 GetObject "Permissions"). Checkpoint and registry
    items are in the state table, inside STATE_RW (shard_log/backend.rs: GetItem, PutItem,
    UpdateItem)."""
    prefix = contract.state_object_prefix(contract.STATE_BACKEND_OPERATORS[function])
    return {
        f"{STATE_BUCKET}/{prefix}*": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
        STATE_BUCKET: {"s3:ListBucket"},
    }


# session-tracker registers its processing-time timers in the timers table only on the
# dynamodb backend: on the shard log a shard's timers live in its checkpoint and objects.
SESSION_TIMERS = {"${TimersTable.Arn}": {"dynamodb:PutItem", "dynamodb:DeleteItem"}}

EXPECTED: dict[str, dict[str, set[str]]] = {
    "FraudDetectorFunction": {
        **_consumer("FraudDetectorLogGroup"),
        KMS_KEYS: {"kms:Decrypt", "kms:GenerateDataKey"},
        "${AlertsStream.Arn}": KINESIS_PRODUCE,
        "${StateTable.Arn}": STATE_RW,
        "${AlertsTable.Arn}": {"dynamodb:PutItem"},
        "${DeadLetterTable.Arn}": {"dynamodb:PutItem"},
        **_shard_log("fraud-detector"),
    },
    "DailyTotalsFunction": {
        **_consumer("DailyTotalsLogGroup"),
        "${StateTable.Arn}": STATE_RW,
        "${TimersTable.Arn}": {"dynamodb:PutItem", "dynamodb:DeleteItem"},
        "${OutputsTable.Arn}": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "${LateEventsTable.Arn}": {"dynamodb:PutItem"},
        "${DeadLetterTable.Arn}": {"dynamodb:PutItem"},
        # Its first-seen gate's objects (operator daily-totals-ids); the totals stay in DynamoDB.
        **_shard_log("daily-totals"),
    },
    "SessionTrackerFunction": {
        **_consumer("SessionTrackerLogGroup"),
        "${StateTable.Arn}": STATE_RW,
        "${OutputsTable.Arn}": {"dynamodb:PutItem"},
        "${LateEventsTable.Arn}": {"dynamodb:PutItem"},
        "${DeadLetterTable.Arn}": {"dynamodb:PutItem"},
        **_shard_log("session-tracker"),
    },
    "ArchiverFunction": {
        **_consumer("ArchiverLogGroup"),
        "${ArchiveBucket.Arn}/raw/*": {"s3:PutObject"},
        "${DeadLetterTable.Arn}": {"dynamodb:PutItem"},
    },
    "TimerDispatcherFunction": {
        "${TimerDispatcherLogGroup.Arn}": LOGS,
        "${TimersTable.Arn}": {"dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"},
        "${StateTable.Arn}": STATE_RW,
        "${OutputsTable.Arn}": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "${DeadLetterTable.Arn}": {"dynamodb:PutItem"},
        # session-tracker's timers of idle shards, fired through its shard log.
        **_shard_log("timer-dispatcher"),
    },
    "ReconcilerFunction": {
        "${ReconcilerLogGroup.Arn}": LOGS,
        "${ArchiveBucket.Arn}": {"s3:ListBucket"},
        "${ArchiveBucket.Arn}/raw/*": {"s3:GetObject"},
        "${ArchiveBucket.Arn}/reports/*": {"s3:PutObject"},
        "${OutputsTable.Arn}": {"dynamodb:GetItem", "dynamodb:Query"},
        "${LateEventsTable.Arn}": {"dynamodb:Query"},
        "${AlertsTable.Arn}/index/by-day": {"dynamodb:Query"},
        "${DeadLetterTable.Arn}": {"dynamodb:Query"},
    },
    "QueryApiFunction": {
        "${QueryApiLogGroup.Arn}": LOGS,
        "${ArchiveBucket.Arn}": {"s3:ListBucket"},
        "${ArchiveBucket.Arn}/reports/*": {"s3:GetObject"},
        "${OutputsTable.Arn}": {"dynamodb:GetItem", "dynamodb:Query"},
        "${AlertsTable.Arn}/index/by-day": {"dynamodb:Query"},
    },
    "LoadGeneratorFunction": {
        "${LoadGeneratorLogGroup.Arn}": LOGS,
        "${TransactionsStream.Arn}": KINESIS_PRODUCE | {"kinesis:DescribeStreamSummary"},
        KMS_KEYS: {"kms:GenerateDataKey"},
        "${ArchiveBucket.Arn}/ground-truth/*": {"s3:PutObject"},
    },
}

# Resource wildcards allowed, each with the reason AWS leaves no narrower choice.
ALLOWED_WILDCARD_RESOURCES = {
    KMS_KEYS: "AWS managed key alias/aws/kinesis has no template-visible key id",
}
OBJECT_PREFIX = re.compile(r"^\$\{[A-Za-z0-9]+Bucket\.Arn\}/([a-z-]+/)*\*$")  # objects of our buckets


def check_rules(template: dict[str, Any]) -> list[str]:
    """The general least-privilege rules; returns every violation found."""
    problems = []
    roles = normalize.function_roles(template)
    if sorted(roles.values()) != sorted(set(roles.values())):
        problems.append(f"a role is shared between functions: {roles}")
    for fn, role in roles.items():
        role_props = template["Resources"][role]["Properties"]
        if role_props.get("ManagedPolicyArns"):
            problems.append(f"{fn}: managed policies attached: {role_props['ManagedPolicyArns']}")
        for statement in normalize.role_statements(template, role):
            for forbidden in ("NotAction", "NotResource"):
                if forbidden in statement:
                    problems.append(f"{fn}: {forbidden} used")
            for action in normalize.as_list(statement.get("Action", [])):
                if "*" in action:
                    problems.append(f"{fn}: wildcard action {action}")
            for resource in normalize.as_list(statement.get("Resource", [])):
                if resource == "*":
                    problems.append(f"{fn}: Resource '*' for {statement.get('Action')}")
                elif isinstance(resource, str) and "*" in resource:
                    if resource in ALLOWED_WILDCARD_RESOURCES:
                        condition = statement.get("Condition", {}).get("StringEquals", {})
                        if "kms:ViaService" not in condition:
                            problems.append(f"{fn}: {resource} without a kms:ViaService condition")
                    elif not OBJECT_PREFIX.match(resource):
                        problems.append(f"{fn}: wildcard resource {resource}")
    return problems


def expected_grants(parameters: dict[str, str] | None = None) -> dict[str, dict[str, set[str]]]:
    """The reviewed list for a stack deployed with `parameters` (defaults otherwise)."""
    if (parameters or {}).get("StateBackend", "shard_log") == "shard_log":
        return EXPECTED
    on_dynamodb = {
        fn: {r: a for r, a in grants.items() if r != STATE_BUCKET and not r.startswith(f"{STATE_BUCKET}/")}
        for fn, grants in EXPECTED.items()
    }
    on_dynamodb["SessionTrackerFunction"].update(SESSION_TIMERS)
    return on_dynamodb


def check_expected(template: dict[str, Any], parameters: dict[str, str] | None = None) -> list[str]:
    """Each function's grants equal the reviewed list exactly (nothing missing, nothing extra)."""
    actual = normalize.function_grants(template, parameters)
    expected = expected_grants(parameters)
    problems = []
    if set(actual) != set(expected):
        problems.append(f"functions differ: {sorted(set(actual) ^ set(expected))}")
    for fn in sorted(set(actual) & set(expected)):
        for resource in sorted(set(actual[fn]) | set(expected[fn])):
            extra = actual[fn].get(resource, set()) - expected[fn].get(resource, set())
            missing = expected[fn].get(resource, set()) - actual[fn].get(resource, set())
            if extra:
                problems.append(f"{fn}: unexpected {sorted(extra)} on {resource}")
            if missing:
                problems.append(f"{fn}: missing {sorted(missing)} on {resource}")
    return problems


def check_consistency(template: dict[str, Any]) -> list[str]:
    """Grants follow the wiring: event sources, failure destinations and log groups."""
    problems = []
    resources = template["Resources"]
    grants = normalize.function_grants(template)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            props = normalize.expr(resource["Properties"])
            fn = props["FunctionName"][2:-1]
            have = grants[fn]
            if not KINESIS_CONSUME <= have.get(props["EventSourceArn"], set()):
                problems.append(f"{logical_id}: {fn} cannot read {props['EventSourceArn']}")
            destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if destination and "s3:PutObject" not in have.get(f"{destination}/*", set()):
                problems.append(f"{logical_id}: {fn} cannot write failures to {destination}")
        if resource["Type"] == "AWS::Lambda::Function":
            log_group = normalize.expr(resource["Properties"]["LoggingConfig"]["LogGroup"])
            if grants[logical_id].get(log_group[:-1] + ".Arn}") != LOGS:
                problems.append(f"{logical_id}: cannot write to its log group {log_group}")
    return problems


@pytest.mark.parametrize("check", [check_rules, check_expected, check_consistency])
def test_sam_roles_are_least_privilege(check: Any, expanded: dict[str, Any]) -> None:
    assert check(expanded) == []


def _state_bucket_grants(grants: dict[str, set[str]]) -> dict[str, set[str]]:
    return {r: a for r, a in grants.items() if "OperatorStateBucket" in r}


def test_each_function_reaches_shard_log_objects_only_under_its_operators_prefix_and_only_on_that_backend(
    expanded: dict[str, Any],
) -> None:
    on_backend = {f"{contract.FUNCTIONS[fn]}Function": op for fn, op in contract.STATE_BACKEND_OPERATORS.items()}
    assert on_backend["TimerDispatcherFunction"] == "session-tracker"
    assert on_backend["DailyTotalsFunction"] == "daily-totals-ids"
    for fn, grants in normalize.function_grants(expanded).items():
        if fn in on_backend:
            prefix = contract.state_object_prefix(on_backend[fn])
            assert _state_bucket_grants(grants) == {
                f"{STATE_BUCKET}/{prefix}*": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
                STATE_BUCKET: {"s3:ListBucket"},
            }, fn
        else:
            assert _state_bucket_grants(grants) == {}, fn
    on_dynamodb = {"StateBackend": "dynamodb"}
    assert check_expected(expanded, on_dynamodb) == []
    for fn, grants in normalize.function_grants(expanded, on_dynamodb).items():
        assert _state_bucket_grants(grants) == {}, fn


def test_daily_totals_reaches_only_its_first_seen_gates_objects_and_only_on_the_shard_log(
    expanded: dict[str, Any],
) -> None:
    on_shard_log = normalize.function_grants(expanded, {"StateBackend": "shard_log"})["DailyTotalsFunction"]
    # The gate's operator, daily-totals-ids: not daily-totals/* (no such objects), nor the
    # other operators' prefixes, nor the whole bucket.
    assert _state_bucket_grants(on_shard_log) == {
        f"{STATE_BUCKET}/shardwise-state/daily-totals-ids/*": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
        STATE_BUCKET: {"s3:ListBucket"},
    }
    # Its checkpoint and registry items: consistent GetItem, conditional PutItem, UpdateItem ADD
    # on the state table (shard_log/backend.rs AwsShardLog), within its KeyedState grant.
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= on_shard_log["${StateTable.Arn}"]
    on_dynamodb = normalize.function_grants(expanded, {"StateBackend": "dynamodb"})["DailyTotalsFunction"]
    assert _state_bucket_grants(on_dynamodb) == {}
    # Everything else is the same on both backends.
    assert {r: a for r, a in on_shard_log.items() if "OperatorStateBucket" not in r} == on_dynamodb


def test_session_tracker_registers_timers_in_the_timers_table_only_on_the_dynamodb_backend(
    expanded: dict[str, Any],
) -> None:
    for backend, timers in (("shard_log", set()), ("dynamodb", {"dynamodb:PutItem", "dynamodb:DeleteItem"})):
        grants = normalize.function_grants(expanded, {"StateBackend": backend})
        assert grants["SessionTrackerFunction"].get("${TimersTable.Arn}", set()) == timers, backend
        # daily-totals keeps its timers in the timers table on either backend.
        assert grants["DailyTotalsFunction"]["${TimersTable.Arn}"] == {"dynamodb:PutItem", "dynamodb:DeleteItem"}


def test_the_least_privilege_checks_catch_a_widened_role(expanded: dict[str, Any]) -> None:
    import copy

    widened = copy.deepcopy(expanded)
    statements = widened["Resources"]["ArchiverRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements.append({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    rules = check_rules(widened)
    assert any("wildcard action s3:*" in p for p in rules), rules
    assert any("Resource '*'" in p for p in rules), rules
    assert any("unexpected ['s3:*'] on *" in p for p in check_expected(widened))
