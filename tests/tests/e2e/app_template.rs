//! `infra/template.yaml` as the emulator loads it (no function runs): fraud-detector,
//! session-tracker and daily-totals (its per-account first-seen gate, operator
//! `daily-totals-ids`) are on the state backend the `StateBackend` parameter names, with the
//! operator-state bucket the template creates, and their event source mappings take one
//! batch per shard on the shard log whatever `ParallelizationFactor` says; the
//! timer-dispatcher sees the same backend (it fires session-tracker's timers of idle shards
//! through its shard log); the rest stay on DynamoDB. daily-totals hashes products into 16
//! state keys only on the shard log (with the gate). The framework's own parser reads the
//! environment the emulator hands each function, so the object prefix each role's IAM grant
//! names is checked against what the backend will write. Wiring only: whether daily-totals
//! honours the variables is its own crate's tests' business.

use std::collections::BTreeMap;

use shardwise::ProcessingConfig;
use shardwise::config::{ENV_STATE_BACKEND, ENV_STATE_BUCKET, StateBackend};
use shardwise_demo::stack::binaries;
use shardwise_emulator::template::{Deployment, FunctionSpec, Template};

use crate::chaos::root;

/// The bucket the template creates for operator state.
const STATE_BUCKET_ID: &str = "OperatorStateBucket";
/// session-tracker's operator name (`session_tracker::OPERATOR`; that crate is not a
/// dependency of the tests crate, and the name is part of the IAM contract anyway).
const SESSION_TRACKER_OPERATOR: &str = "session-tracker";
/// The operator name of daily-totals' first-seen gate (its shard-log store; part of the IAM
/// contract: the role is granted `shardwise-state/daily-totals-ids/*`).
const DAILY_TOTALS_GATE_OPERATOR: &str = daily_totals::GATE_OPERATOR;
/// daily-totals' bucket variables.
const ENV_PRODUCT_BUCKETS: &str = daily_totals::config::ENV_PRODUCT_BUCKETS;
const ENV_MERCHANT_BUCKETS: &str = daily_totals::config::ENV_MERCHANT_BUCKETS;
/// A parallelization factor other than the shard log's 1, to see which one a mapping got.
const OTHER_FACTOR: u32 = 4;

/// The functions that see the state backend: binary -> (operator whose shard-log objects
/// it reads and writes, the object prefix its role is granted in infra/template.yaml).
fn on_the_backend() -> BTreeMap<&'static str, (&'static str, &'static str)> {
    BTreeMap::from([
        (
            binaries::FRAUD_DETECTOR,
            (
                fraud_detector::OPERATOR_NAME,
                "shardwise-state/fraud-detector/",
            ),
        ),
        (
            binaries::DAILY_TOTALS,
            (
                DAILY_TOTALS_GATE_OPERATOR,
                "shardwise-state/daily-totals-ids/",
            ),
        ),
        (
            binaries::SESSION_TRACKER,
            (SESSION_TRACKER_OPERATOR, "shardwise-state/session-tracker/"),
        ),
        (
            binaries::TIMER_DISPATCHER,
            (SESSION_TRACKER_OPERATOR, "shardwise-state/session-tracker/"),
        ),
    ])
}

/// The stream functions whose mapping takes one batch per shard on the shard log.
const ONE_BATCH_PER_SHARD: [&str; 3] = [
    binaries::FRAUD_DETECTOR,
    binaries::DAILY_TOTALS,
    binaries::SESSION_TRACKER,
];

/// daily-totals' product and merchant buckets for a backend: 16 and 32 only with the
/// first-seen gate (without it a bucket key's recent-ids list would overflow its cap);
/// other functions have none.
fn buckets(variable: &str, binary: &str, shard_log: bool) -> Option<&'static str> {
    let on_shard_log = if variable == ENV_MERCHANT_BUCKETS {
        "32"
    } else {
        "16"
    };
    match (binary == binaries::DAILY_TOTALS, shard_log) {
        (false, _) => None,
        (true, true) => Some(on_shard_log),
        (true, false) => Some("0"),
    }
}

fn load(overrides: &[(&str, String)]) -> Template {
    let overrides: BTreeMap<String, String> = overrides
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Template::load(
        &root().join("infra/template.yaml"),
        &overrides,
        &Deployment::default(),
    )
    .unwrap()
}

fn state_bucket(template: &Template) -> String {
    template
        .buckets
        .iter()
        .find(|b| b.logical_id == STATE_BUCKET_ID)
        .map(|b| b.name.clone())
        .expect("the template creates the operator-state bucket")
}

fn backend_of(function: &FunctionSpec) -> StateBackend {
    let env = &function.environment;
    ProcessingConfig::from_lookup(|name| env.get(name).cloned())
        .unwrap()
        .state_backend
}

fn factors(function: &FunctionSpec) -> Vec<u32> {
    function
        .kinesis
        .iter()
        .map(|k| k.parallelization_factor)
        .collect()
}

/// Checks every function's backend and stream mappings for one `StateBackend` value.
fn check_wiring(template: &Template, shard_log: bool) {
    let bucket = state_bucket(template);
    let expected = on_the_backend();
    let mut seen = Vec::new();
    for function in &template.functions {
        let binary = function.binary.as_str();
        for variable in [ENV_PRODUCT_BUCKETS, ENV_MERCHANT_BUCKETS] {
            assert_eq!(
                function.environment.get(variable).map(String::as_str),
                buckets(variable, binary, shard_log),
                "{binary}: {variable}"
            );
        }
        match expected.get(binary) {
            Some(&(operator, granted)) => {
                seen.push(binary);
                let backend = backend_of(function);
                if shard_log {
                    let StateBackend::ShardLog { bucket: b, prefix } = backend else {
                        panic!(
                            "{binary} is not on the shard log: {:?}",
                            function.environment
                        );
                    };
                    assert_eq!(b, bucket, "{binary}");
                    assert_eq!(
                        format!("{prefix}{operator}/"),
                        granted,
                        "{binary}: the backend reaches {operator}'s objects where the role may"
                    );
                } else {
                    assert_eq!(backend, StateBackend::DynamoDb, "{binary}");
                    // The bucket is still named: switching back needs no other change.
                    assert_eq!(function.environment.get(ENV_STATE_BUCKET), Some(&bucket));
                }
            }
            None => {
                assert_eq!(backend_of(function), StateBackend::DynamoDb, "{binary}");
                assert!(
                    !function.environment.contains_key(ENV_STATE_BACKEND)
                        && !function.environment.contains_key(ENV_STATE_BUCKET),
                    "{binary} must not see the state backend's variables"
                );
            }
        }
        if function.kinesis.is_empty() {
            continue;
        }
        // daily-totals' keys are not partition keys: one batch per shard on either backend.
        if (shard_log && ONE_BATCH_PER_SHARD.contains(&binary)) || binary == binaries::DAILY_TOTALS
        {
            assert_eq!(factors(function), [1], "{binary}: one batch per shard");
        } else {
            assert_eq!(
                factors(function),
                [OTHER_FACTOR],
                "{binary} keeps the parameter"
            );
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, expected.keys().copied().collect::<Vec<_>>());
}

#[test]
fn by_default_the_shard_log_holds_fraud_session_and_daily_totals_gate_state_one_batch_per_shard() {
    let template = load(&[("ParallelizationFactor", OTHER_FACTOR.to_string())]);
    check_wiring(&template, true);
}

#[test]
fn state_backend_dynamodb_puts_them_back_on_per_key_items_without_buckets_and_the_factor() {
    let template = load(&[
        ("StateBackend", "dynamodb".to_owned()),
        ("ParallelizationFactor", OTHER_FACTOR.to_string()),
    ]);
    check_wiring(&template, false);
}
