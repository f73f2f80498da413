//! `infra/template.yaml` as the emulator loads it (no function runs): fraud-detector alone is
//! on the state backend the `StateBackend` parameter names, with the operator-state bucket
//! the template creates, and its event source mapping takes one batch per shard on the
//! shard log whatever `ParallelizationFactor` says. The framework's own parser reads the
//! environment the emulator hands the function, so the object prefix the IAM grant names
//! (`shardwise-state/fraud-detector/*`) is checked against what the backend will write.

use std::collections::BTreeMap;

use shardwise::ProcessingConfig;
use shardwise::config::{ENV_STATE_BACKEND, ENV_STATE_BUCKET, StateBackend};
use shardwise_demo::stack::binaries;
use shardwise_emulator::template::{Deployment, FunctionSpec, Template};

use crate::chaos::root;

/// The bucket the template creates for operator state.
const STATE_BUCKET_ID: &str = "OperatorStateBucket";
/// The object prefix fraud-detector's role may read and write (infra/template.yaml).
const GRANTED_PREFIX: &str = "shardwise-state/fraud-detector/";
/// A parallelization factor other than the shard log's 1, to see which one the mapping got.
const OTHER_FACTOR: u32 = 4;

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

fn stream_functions(template: &Template) -> impl Iterator<Item = &FunctionSpec> {
    template.functions.iter().filter(|f| !f.kinesis.is_empty())
}

#[test]
fn by_default_fraud_detector_alone_keeps_its_state_in_the_shard_log_one_batch_per_shard() {
    let template = load(&[("ParallelizationFactor", OTHER_FACTOR.to_string())]);
    let bucket = state_bucket(&template);
    let mut saw_fraud_detector = false;
    for function in stream_functions(&template) {
        let factors: Vec<u32> = function
            .kinesis
            .iter()
            .map(|k| k.parallelization_factor)
            .collect();
        if function.binary == binaries::FRAUD_DETECTOR {
            saw_fraud_detector = true;
            let StateBackend::ShardLog { bucket: b, prefix } = backend_of(function) else {
                panic!(
                    "fraud-detector is not on the shard log: {:?}",
                    function.environment
                );
            };
            assert_eq!(b, bucket);
            assert_eq!(
                format!("{prefix}{}/", fraud_detector::OPERATOR_NAME),
                GRANTED_PREFIX,
                "the backend writes where the role may"
            );
            assert_eq!(factors, [1], "one batch per shard on the shard log");
        } else {
            assert_eq!(
                backend_of(function),
                StateBackend::DynamoDb,
                "{}",
                function.binary
            );
            assert!(
                !function.environment.contains_key(ENV_STATE_BACKEND)
                    && !function.environment.contains_key(ENV_STATE_BUCKET),
                "{} must not see the state backend's variables",
                function.binary
            );
            assert_eq!(
                factors,
                [OTHER_FACTOR],
                "{} keeps the parameter",
                function.binary
            );
        }
    }
    assert!(saw_fraud_detector);
}

#[test]
fn state_backend_dynamodb_puts_fraud_detector_back_on_per_key_items_and_the_parameters_factor() {
    let template = load(&[
        ("StateBackend", "dynamodb".to_owned()),
        ("ParallelizationFactor", OTHER_FACTOR.to_string()),
    ]);
    // The bucket stays: switching the parameter must never replace it.
    state_bucket(&template);
    let fraud = stream_functions(&template)
        .find(|f| f.binary == binaries::FRAUD_DETECTOR)
        .unwrap();
    assert_eq!(backend_of(fraud), StateBackend::DynamoDb);
    assert_eq!(fraud.kinesis[0].parallelization_factor, OTHER_FACTOR);
}
