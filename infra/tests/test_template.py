"""The SAM template expands offline, lints clean, and declares what the design requires.

Run by scripts/test-infra.sh (pytest from the infra venv).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import contract
import normalize
import samexpand


def _logical_ids(functions: Any) -> set[str]:
    """`AWS::Lambda::Function` logical ids of the named functions."""
    return {f"{contract.FUNCTIONS[name]}Function" for name in functions}


def test_expanded_template_lints_clean_with_cfn_lint(expanded: dict[str, Any], tmp_path: Path) -> None:
    assert samexpand.lint(expanded, tmp_path) == []


def test_sam_validate_lint_accepts_the_template() -> None:
    sam = Path(sys.executable).with_name("sam")
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION=samexpand.REGION)
    # cwd=infra/: sam reads samconfig.toml there, so a broken samconfig fails this test too.
    proc = subprocess.run(
        [str(sam), "validate", "--lint", "--template", str(samexpand.TEMPLATE_PATH)],
        capture_output=True, text=True, env=env, check=False, cwd=samexpand.INFRA_DIR,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "is a valid SAM Template" in proc.stdout + proc.stderr


def test_samconfig_builds_with_the_rust_beta_and_deploys_with_iam_capability() -> None:
    import tomllib

    config = tomllib.loads((samexpand.INFRA_DIR / "samconfig.toml").read_text())
    for env in ("default", "prod"):
        assert config[env]["build"]["parameters"]["beta_features"] is True, env
        deploy = config[env]["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM", env
        overrides = dict(pair.split("=", 1) for pair in deploy["parameter_overrides"].split())
        assert set(overrides) <= set(samexpand.load_template()["Parameters"]), env


def test_every_function_is_a_rust_arm64_build_of_its_own_binary(sam_template: dict[str, Any]) -> None:
    functions = samexpand.resources_of_type(sam_template, "AWS::Serverless::Function")
    globals_fn = sam_template["Globals"]["Function"]
    assert globals_fn["Runtime"] == "provided.al2023"
    assert globals_fn["Architectures"] == ["arm64"]
    assert globals_fn["Handler"] == "bootstrap"
    expected = {f"{prefix}Function": name for name, prefix in contract.FUNCTIONS.items()}
    assert set(functions) == set(expected)
    for logical_id, resource in functions.items():
        assert resource["Metadata"]["BuildMethod"] == "rust-cargolambda", logical_id
        assert resource["Metadata"]["BuildProperties"]["Binary"] == expected[logical_id]
        # cargo-lambda builds the workspace: CodeUri is the workspace root (where Cargo.toml is).
        code_uri = resource["Properties"]["CodeUri"]
        assert (samexpand.TEMPLATE_PATH.parent / code_uri / "Cargo.toml").is_file(), logical_id


def test_expanded_functions_carry_runtime_architecture_and_the_environment_contract(
    expanded: dict[str, Any],
) -> None:
    functions = samexpand.resources_of_type(expanded, "AWS::Lambda::Function")
    assert len(functions) == len(contract.FUNCTIONS)
    for logical_id, resource in functions.items():
        props = resource["Properties"]
        assert props["Runtime"] == "provided.al2023", logical_id
        assert props["Architectures"] == ["arm64"], logical_id
        variables = dict(props["Environment"]["Variables"])
        expected = dict(contract.ENVIRONMENT)
        if logical_id in _logical_ids(contract.STATE_BACKEND_OPERATORS):
            expected.update(contract.STATE_BACKEND_ENVIRONMENT)
        if logical_id in _logical_ids(["daily-totals"]):
            # Literals by condition, not Refs: checked by backend in their own test below.
            for name in contract.BUCKETS:
                assert name in variables, logical_id
                del variables[name]
        assert {name: value.get("Ref") for name, value in variables.items()} == expected, logical_id


def test_stream_functions_consume_transactions_with_failure_handling(expanded: dict[str, Any]) -> None:
    mappings = samexpand.resources_of_type(expanded, "AWS::Lambda::EventSourceMapping")
    consumers = {m["Properties"]["FunctionName"]["Ref"]: m["Properties"] for m in mappings.values()}
    assert set(consumers) == {f"{contract.FUNCTIONS[n]}Function" for n in contract.STREAM_FUNCTIONS}
    for function, props in consumers.items():
        assert props["EventSourceArn"] == {"Fn::GetAtt": ["TransactionsStream", "Arn"]}, function
        assert props["StartingPosition"] == "TRIM_HORIZON", function
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], function
        assert props["BisectBatchOnFunctionError"] is True, function
        assert 1 <= props["BatchSize"] <= 10000, function
        assert 0 <= props["MaximumBatchingWindowInSeconds"] <= 300, function
        assert props["MaximumRetryAttempts"] >= 0, function  # -1 (infinite) would stall a shard
        assert 60 <= props["MaximumRecordAgeInSeconds"] <= 604800, function
        parallelization = {"Ref": "ParallelizationFactor"}
        if function in _logical_ids(contract.ONE_BATCH_PER_SHARD_ALWAYS):
            parallelization = 1
        elif function in _logical_ids(contract.SHARD_LOG_STREAM_FUNCTIONS):
            parallelization = {"Fn::If": ["UsesShardLog", 1, parallelization]}
        assert props["ParallelizationFactor"] == parallelization, function
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["EsmFailureBucket", "Arn"]
        }, function


def test_schedules_trigger_the_dispatcher_every_minute_and_the_reconciler_nightly(
    sam_template: dict[str, Any], expanded: dict[str, Any],
) -> None:
    rules = samexpand.resources_of_type(expanded, "AWS::Events::Rule")
    by_target = {r["Properties"]["Targets"][0]["Arn"]["Fn::GetAtt"][0]: r["Properties"] for r in rules.values()}
    assert by_target["TimerDispatcherFunction"]["ScheduleExpression"] == contract.SCHEDULES["timer-dispatcher"]
    assert by_target["ReconcilerFunction"]["ScheduleExpression"] == {"Ref": "ReconcileSchedule"}
    assert sam_template["Parameters"]["ReconcileSchedule"]["Default"] == contract.SCHEDULES["reconciler"]
    assert len(samexpand.resources_of_type(expanded, "AWS::Lambda::Permission")) == len(rules)


def test_streams_are_kms_encrypted(expanded: dict[str, Any]) -> None:
    streams = samexpand.resources_of_type(expanded, "AWS::Kinesis::Stream")
    assert set(streams) == {"TransactionsStream", "AlertsStream"}
    for logical_id, stream in streams.items():
        assert stream["Properties"]["StreamEncryption"] == {
            "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"
        }, logical_id
    assert streams["TransactionsStream"]["Properties"]["ShardCount"] == {"Ref": "ShardCount"}


def test_tables_are_on_demand_encrypted_recoverable_and_expire_by_ttl(expanded: dict[str, Any]) -> None:
    tables = samexpand.resources_of_type(expanded, "AWS::DynamoDB::Table")
    assert set(tables) == set(contract.TABLE_KEYS)
    for logical_id, table in tables.items():
        props = table["Properties"]
        hash_key, range_key = contract.TABLE_KEYS[logical_id]
        expected_schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        if range_key:
            expected_schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        assert props["KeySchema"] == expected_schema, logical_id
        types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        assert all(types[k["AttributeName"]] == "S" for k in expected_schema), logical_id
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"]["SSEEnabled"] is True, logical_id
        assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
        assert table["DeletionPolicy"] == "Retain", logical_id


def test_buckets_block_public_access_encrypt_and_deny_plain_http(expanded: dict[str, Any]) -> None:
    buckets = samexpand.resources_of_type(expanded, "AWS::S3::Bucket")
    policies = samexpand.resources_of_type(expanded, "AWS::S3::BucketPolicy")
    assert set(buckets) == {"ArchiveBucket", "EsmFailureBucket", "OperatorStateBucket"}
    protected = {p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"] for p in policies.values()}
    for logical_id, bucket in buckets.items():
        props = bucket["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values()), logical_id
        assert len(props["PublicAccessBlockConfiguration"]) == 4, logical_id
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), logical_id
        deny = [s for s in protected[logical_id]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny), logical_id


def test_raw_archive_is_tiered_and_expired_by_lifecycle(expanded: dict[str, Any]) -> None:
    rules = expanded["Resources"]["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    raw = [r for r in rules if r.get("Prefix") == "raw/"]
    assert len(raw) == 1
    assert raw[0]["Status"] == "Enabled"
    assert raw[0]["ExpirationInDays"] == {"Ref": "RawArchiveRetentionDays"}
    assert [t["StorageClass"] for t in raw[0]["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]


def test_fraud_detector_daily_totals_session_tracker_and_timer_dispatcher_alone_see_the_state_backend_parameter(
    sam_template: dict[str, Any], expanded: dict[str, Any],
) -> None:
    parameter = sam_template["Parameters"]["StateBackend"]
    assert parameter["Default"] == "shard_log"
    assert sorted(parameter["AllowedValues"]) == ["dynamodb", "shard_log"]
    assert expanded["Conditions"]["UsesShardLog"] == {"Fn::Equals": [{"Ref": "StateBackend"}, "shard_log"]}
    # Not in Globals: only these four have an operator that can use the shard log (daily-totals
    # for its per-account first-seen gate), and the other functions keep no keyed state.
    assert not set(contract.STATE_BACKEND_ENVIRONMENT) & set(sam_template["Globals"]["Function"]["Environment"]["Variables"])
    with_backend = {
        logical_id
        for logical_id, resource in samexpand.resources_of_type(expanded, "AWS::Lambda::Function").items()
        if set(contract.STATE_BACKEND_ENVIRONMENT) & set(resource["Properties"]["Environment"]["Variables"])
    }
    assert with_backend == _logical_ids(["fraud-detector", "daily-totals", "session-tracker", "timer-dispatcher"])
    assert with_backend == _logical_ids(contract.STATE_BACKEND_OPERATORS)


def test_stream_functions_on_the_shard_log_take_one_batch_per_shard_under_the_condition(
    expanded: dict[str, Any],
) -> None:
    mappings = samexpand.resources_of_type(expanded, "AWS::Lambda::EventSourceMapping")
    on_shard_log = _logical_ids(contract.SHARD_LOG_STREAM_FUNCTIONS)
    assert on_shard_log == {"FraudDetectorFunction", "DailyTotalsFunction", "SessionTrackerFunction"}
    for backend in ("shard_log", "dynamodb"):
        conditions = normalize.condition_values(expanded, {"StateBackend": backend})
        factors = {
            m["Properties"]["FunctionName"]["Ref"]: normalize.resolve_conditions(m["Properties"], conditions)[
                "ParallelizationFactor"]
            for m in mappings.values()
        }
        for function, factor in factors.items():
            # ParallelizationFactor 1 on the shard log (and for daily-totals always), the
            # parameter otherwise.
            one = (backend == "shard_log" and function in on_shard_log) or function in _logical_ids(
                contract.ONE_BATCH_PER_SHARD_ALWAYS)
            assert factor == (1 if one else {"Ref": "ParallelizationFactor"}), (backend, function)


@pytest.mark.parametrize("name", sorted(contract.BUCKETS))
def test_daily_totals_hashes_products_and_merchants_into_buckets_only_with_its_first_seen_gate(
    sam_template: dict[str, Any], expanded: dict[str, Any], name: str,
) -> None:
    # Not in Globals, and on no other function: only daily-totals reads it.
    assert name not in sam_template["Globals"]["Function"]["Environment"]["Variables"]
    functions = samexpand.resources_of_type(expanded, "AWS::Lambda::Function")
    with_buckets = {fn for fn, r in functions.items() if name in r["Properties"]["Environment"]["Variables"]}
    assert with_buckets == _logical_ids(["daily-totals"])
    variables = functions["DailyTotalsFunction"]["Properties"]["Environment"]["Variables"]
    for backend, buckets in contract.BUCKETS[name].items():
        conditions = normalize.condition_values(expanded, {"StateBackend": backend})
        resolved = normalize.resolve_conditions(variables, conditions)
        # Lambda environment values are strings: a number here would fail the deployment.
        assert resolved[name] == buckets, backend
        # The gate (the backend variable) and the buckets go together.
        assert resolved["SHARDWISE_STATE_BACKEND"] == {"Ref": "StateBackend"}, backend
    assert set(contract.BUCKETS[name]) == set(sam_template["Parameters"]["StateBackend"]["AllowedValues"])


def test_operator_state_objects_never_expire(expanded: dict[str, Any]) -> None:
    props = expanded["Resources"]["OperatorStateBucket"]["Properties"]
    for rule in props.get("LifecycleConfiguration", {}).get("Rules", []):
        assert not {"ExpirationInDays", "ExpirationDate", "Transitions"} & set(rule), rule
    assert "VersioningConfiguration" not in props  # retired objects are deleted, not kept
    assert expanded["Resources"]["OperatorStateBucket"]["DeletionPolicy"] == "Retain"


def test_query_api_has_an_iam_authenticated_function_url(expanded: dict[str, Any]) -> None:
    urls = samexpand.resources_of_type(expanded, "AWS::Lambda::Url")
    assert [u["Properties"]["AuthType"] for u in urls.values()] == ["AWS_IAM"]
    assert expanded["Outputs"]["QueryApiUrl"]["Value"] == {"Fn::GetAtt": ["QueryApiFunctionUrl", "FunctionUrl"]}


def test_readme_documents_the_whole_environment_contract() -> None:
    readme = (samexpand.INFRA_DIR / "README.md").read_text()
    names = [*contract.ENVIRONMENT, *contract.STATE_BACKEND_ENVIRONMENT, *contract.BUCKETS, "StateBackend"]
    missing = [name for name in names if f"`{name}`" not in readme]
    assert missing == []
