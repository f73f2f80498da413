//! The framework end to end through the emulator's Lambda layer (issue 5, item 9, last
//! part): `tests/fixtures/framework-template.yaml` is brought up with `up` (the
//! `fixture-operator` binary built by cargo and run as real processes behind a Kinesis
//! event source mapping with ParallelizationFactor 2 and partial-batch responses), a
//! seeded stream of transactions is put with PutRecords, and — while the emulator kills
//! function processes mid-invocation, delivers batches twice and throttles DynamoDB — the
//! final state items, alerts and dead letters must equal the same from-scratch fold the
//! in-process oracle test uses ([`super::fixture::oracle`]). With `at_least_once` the
//! same faults must show up as double counting, so the comparison is known to catch it.
//!
//! Completion is judged by the mapping's own checkpoints (every lane of every shard past
//! the last record put into it), never by the state itself, so a run that counts twice
//! cannot wait its way into a pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shardwise::{DynamoStateStore, StateStore};
use shardwise_emulator::esm::EsmOptions;
use shardwise_emulator::esm::mapping::slot_of;
use shardwise_emulator::esm::records::compare_sequence;
use shardwise_emulator::lambda::{FaultSettings, LambdaSettings};
use shardwise_emulator::template::{Deployment, Template};
use shardwise_emulator::up::{Stack, UpOptions, up};
use shardwise_emulator::{Config, Emulator};
use shardwise_tests::TestEnv;

use super::fixture::{self, AccountState, OPERATOR, Produced, Txn};
use super::scan_ids;

/// Accounts (keys = partition keys) the events are spread over.
const ACCOUNTS: u64 = 100;
/// Events put into the stream.
const EVENTS: u64 = 2_000;
/// The template's `ParallelizationFactor` (lanes per shard).
const LANES: usize = 2;
/// Bound on the wait for the mapping to process everything: generous for a loaded
/// 2-core CI machine; the run normally takes a few seconds.
const DRAIN_BOUND: Duration = Duration::from_secs(90);
/// Share of DynamoDB requests the emulator throttles.
const THROTTLE_RATE: f64 = 0.03;
/// Added to every DynamoDB request so an invocation lasts long enough for a kill
/// (scheduled at a random point of the first 2 s) to land while it runs.
const DYNAMODB_LATENCY: Duration = Duration::from_millis(60);
/// The template's function binary.
const OPERATOR_BINARY: &str = "fixture-operator";

fn template_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/framework-template.yaml")
}

/// An in-process emulator with the Lambda layer's fault injection and DynamoDB
/// throttling and latency switched on.
async fn faulty_emulator(logs: &Path, seed: u64) -> (TestEnv, Arc<Emulator>) {
    let config = Config {
        lambda: LambdaSettings {
            logs_dir: Some(logs.to_path_buf()),
            echo_logs: false,
            faults: FaultSettings {
                kill_probability: 0.4,
                duplicate_probability: 0.2,
                delay_probability: 0.0,
                delay: Duration::ZERO,
            },
        },
        ddb_throttle_rate: THROTTLE_RATE,
        ddb_latency: DYNAMODB_LATENCY,
        seed,
        ..Config::default()
    };
    let env = TestEnv::start_emulator(config).await;
    let emulator = env.emulator.clone().unwrap();
    emulator.lambda.set_endpoint(&env.endpoint);
    (env, emulator)
}

/// The `fixture-operator` binary, built once per test process.
fn operator_binary() -> PathBuf {
    shardwise_tests::workspace_binary(OPERATOR_BINARY)
}

/// Brings the framework template up with `consistency`, fast polling.
async fn bring_up(emulator: &Arc<Emulator>, consistency: &str) -> Stack {
    let overrides: BTreeMap<String, String> =
        [("Consistency".to_owned(), consistency.to_owned())].into();
    let template = Template::load(&template_path(), &overrides, &Deployment::default()).unwrap();
    let binary = tokio::task::spawn_blocking(operator_binary).await.unwrap();
    let options = UpOptions {
        esm: EsmOptions::fast(),
        prebuilt: template
            .functions
            .iter()
            .map(|f| (f.name.clone(), binary.clone()))
            .collect(),
        ..UpOptions::default()
    };
    let stack = up(emulator, template, &options).await.unwrap();
    assert_eq!(stack.mappings.mappings().len(), 1, "{:?}", stack.warnings);
    stack
}

/// A seeded transaction stream over [`ACCOUNTS`] accounts: about 2% invalid (negative
/// amounts) and 1% undecodable, both to be dead-lettered exactly once.
fn transactions(seed: u64) -> Vec<(String, Vec<u8>, Option<Txn>)> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..EVENTS)
        .map(|id| {
            let account = format!("acct-{}", rng.random_range(0..ACCOUNTS));
            let roll = rng.random_range(0..100);
            let txn = Txn {
                id,
                account: account.clone(),
                merchant: format!("m{}", rng.random_range(0..5)),
                amount: if roll < 2 {
                    -5
                } else {
                    rng.random_range(0..100)
                },
            };
            if roll == 2 {
                (account, format!("{{not json {id}").into_bytes(), None)
            } else {
                (account, serde_json::to_vec(&txn).unwrap(), Some(txn))
            }
        })
        .collect()
}

/// Puts the transactions with PutRecords (retrying only failed entries) and returns
/// where each landed, sorted by shard and sequence number (per-key order).
async fn put_all(
    env: &TestEnv,
    stream: &str,
    events: Vec<(String, Vec<u8>, Option<Txn>)>,
) -> Vec<Produced> {
    let kinesis = env.kinesis();
    let mut produced = Vec::new();
    for chunk in events.chunks(250) {
        let mut pending: Vec<&(String, Vec<u8>, Option<Txn>)> = chunk.iter().collect();
        for attempt in 0.. {
            assert!(attempt < 50, "PutRecords keeps failing entries");
            let entries: Vec<PutRecordsRequestEntry> = pending
                .iter()
                .map(|(pk, data, _)| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(pk)
                        .data(Blob::new(data.clone()))
                        .build()
                        .unwrap()
                })
                .collect();
            let out = kinesis
                .put_records()
                .stream_name(stream)
                .set_records(Some(entries))
                .send()
                .await
                .unwrap();
            let mut failed = Vec::new();
            for (event, result) in pending.iter().zip(out.records()) {
                match (result.shard_id(), result.sequence_number()) {
                    (Some(shard), Some(seq)) if result.error_code().is_none() => {
                        produced.push(Produced {
                            shard: shard.to_owned(),
                            sequence: seq.to_owned(),
                            partition_key: event.0.clone(),
                            data: event.1.clone(),
                            txn: event.2.clone(),
                        });
                    }
                    _ => failed.push(*event),
                }
            }
            if failed.is_empty() {
                break;
            }
            pending = failed;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    produced.sort_by(|a, b| {
        a.shard
            .cmp(&b.shard)
            .then_with(|| compare_sequence(&a.sequence, &b.sequence))
    });
    produced
}

/// The last sequence number put into each (shard, lane): where the mapping's
/// checkpoints must reach before everything is processed.
fn targets(produced: &[Produced]) -> BTreeMap<(String, usize), String> {
    let mut last = BTreeMap::new();
    for r in produced {
        last.insert(
            (r.shard.clone(), slot_of(&r.partition_key, LANES)),
            r.sequence.clone(),
        );
    }
    last
}

/// True once every lane's checkpoint is at or past its target.
fn drained(mapping: &Value, targets: &BTreeMap<(String, usize), String>) -> bool {
    targets.iter().all(|((shard, lane), want)| {
        mapping["shards"][shard]["slot_checkpoints"][lane.to_string()]
            .as_str()
            .is_some_and(|got| compare_sequence(got, want).is_ge())
    })
}

/// What the run found, compared with the oracle.
#[derive(Debug)]
struct Outcome {
    wrong_keys: usize,
    wrong_alerts: bool,
    wrong_dead_letters: bool,
    kills: u64,
    duplicates: u64,
    throttles: u64,
}

/// Runs the whole scenario with `consistency` (`exactly_once` / `at_least_once`).
async fn run(consistency: &str, seed: u64) -> Outcome {
    let dir = std::env::temp_dir().join(format!(
        "shardwise-fw-lambda-{consistency}-{}",
        shardwise_tests::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (env, emulator) = faulty_emulator(&dir, seed).await;
    let stack = bring_up(&emulator, consistency).await;
    let stream = stack.template.streams[0].name.clone();
    let table = |logical: &str| {
        stack
            .template
            .tables
            .iter()
            .find(|t| t.logical_id == logical)
            .map(|t| t.name.clone())
            .unwrap()
    };
    let (state_table, output_table, dead_table) = (
        table("StateTable"),
        table("OutputTable"),
        table("DeadLetterTable"),
    );
    let function = stack.template.functions[0].name.clone();

    let produced = put_all(&env, &stream, transactions(seed)).await;
    assert_eq!(produced.len() as u64, EVENTS);
    let expected = fixture::oracle(&produced);
    let targets = targets(&produced);

    let mapping = &stack.mappings.mappings()[0];
    let start = Instant::now();
    while !drained(&mapping.metrics_json(), &targets) {
        assert!(
            start.elapsed() < DRAIN_BOUND,
            "the mapping did not process every record within {DRAIN_BOUND:?}: {}\nlambda: {}",
            mapping.metrics_json(),
            emulator.lambda.metrics()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let esm = mapping.metrics_json();
    let lambda = emulator.lambda.metrics();
    let dynamodb = emulator.dynamodb.metrics();
    eprintln!(
        "{consistency} seed {seed}: drained in {:?}; esm invocations {} errors {} partial {} duplicates {}; \
         lambda {}; dynamodb throttled {}",
        start.elapsed(),
        esm["invocations"],
        esm["function_errors"],
        esm["partial_failures"],
        esm["duplicates_injected"],
        lambda[&function],
        dynamodb["throttled_requests"],
    );
    // Stop the pollers and processes before reading, so nothing commits behind us.
    stack.stop(&emulator);

    let store = DynamoStateStore::new(
        env.dynamodb(),
        &state_table,
        Some(&output_table),
        &dead_table,
    );
    let item_keys: Vec<String> = (0..ACCOUNTS)
        .map(|k| format!("{OPERATOR}#acct-{k}"))
        .collect();
    let stored = loop {
        match store.get_many(&item_keys, true).await {
            Err(e) if e.is_throttle() => tokio::time::sleep(Duration::from_millis(20)).await,
            other => break other.unwrap(),
        }
    };
    let mut wrong_keys = 0;
    for k in 0..ACCOUNTS {
        let account = format!("acct-{k}");
        let actual: AccountState = stored
            .get(&format!("{OPERATOR}#{account}"))
            .map(|s| serde_json::from_str(&s.body).unwrap())
            .unwrap_or_default();
        let want = expected.states.get(&account).cloned().unwrap_or_default();
        if actual != want {
            wrong_keys += 1;
            if wrong_keys <= 3 {
                eprintln!(
                    "{account}: stored count {:?} sum {:?}, oracle count {:?} sum {:?}",
                    actual.count.get(),
                    actual.sum.get(),
                    want.count.get(),
                    want.sum.get()
                );
            }
        }
    }
    let alerts = scan_ids(&env, &output_table).await;
    let dead = scan_ids(&env, &dead_table).await;
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    Outcome {
        wrong_keys,
        wrong_alerts: alerts != expected.alerts,
        wrong_dead_letters: dead != expected.dead_letters,
        kills: count(&lambda[&function]["faults"]["kills"]),
        duplicates: count(&esm["duplicates_injected"]),
        throttles: count(&dynamodb["throttled_requests"]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_operator_commits_exactly_once_despite_process_kills_duplicate_batches_and_throttling()
 {
    let outcome = run("exactly_once", 5).await;
    assert!(outcome.kills > 0, "no process was killed: {outcome:?}");
    assert!(
        outcome.duplicates > 0,
        "no batch was delivered twice: {outcome:?}"
    );
    assert!(
        outcome.throttles > 0,
        "DynamoDB never throttled: {outcome:?}"
    );
    assert_eq!(outcome.wrong_keys, 0, "{outcome:?}");
    assert!(
        !outcome.wrong_alerts,
        "alerts differ from the oracle: {outcome:?}"
    );
    assert!(
        !outcome.wrong_dead_letters,
        "dead letters differ from the oracle: {outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployed_at_least_once_operator_double_counts_under_the_same_faults() {
    let outcome = run("at_least_once", 5).await;
    assert!(
        outcome.duplicates > 0,
        "no batch was delivered twice: {outcome:?}"
    );
    assert!(
        outcome.wrong_keys > 0,
        "at_least_once under re-deliveries must double count: {outcome:?}"
    );
}
