//! Shared helpers for the Lambda-layer tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use shardwise_emulator::esm::memory::MemoryStream;
use shardwise_emulator::esm::{EsmOptions, Mapping};
use shardwise_emulator::lambda::{FaultSettings, Function, FunctionConfig, LambdaSettings};
use shardwise_emulator::template::KinesisEventSpec;
use shardwise_emulator::{Config, Emulator};
use shardwise_tests::TestEnv;

/// Path of the fixture binary, built once per test process.
pub fn fixture_binary() -> PathBuf {
    shardwise_tests::workspace_binary("fixture-recorder")
}

/// A scratch directory unique to one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shardwise-lambda-{name}-{}",
        shardwise_tests::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An in-process emulator with the Lambda layer writing logs under `logs`.
pub async fn emulator(logs: &Path, faults: FaultSettings) -> (TestEnv, Arc<Emulator>) {
    let config = Config {
        lambda: LambdaSettings {
            logs_dir: Some(logs.to_path_buf()),
            echo_logs: false,
            faults,
        },
        seed: 42,
        ..Config::default()
    };
    let env = TestEnv::start_emulator(config).await;
    let emulator = env.emulator.clone().unwrap();
    // The serve task records its address asynchronously; tests invoke right away.
    emulator.lambda.set_endpoint(&env.endpoint);
    (env, emulator)
}

/// The recorder registered as `name` with extra environment variables.
pub fn recorder(
    emulator: &Emulator,
    name: &str,
    record_file: &Path,
    vars: &[(&str, &str)],
    timeout: Duration,
    reserved: Option<u32>,
) -> Arc<Function> {
    let mut environment: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    environment.insert("RECORD_FILE".into(), record_file.display().to_string());
    emulator.lambda.register(FunctionConfig {
        name: name.to_owned(),
        arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        binary: fixture_binary(),
        timeout,
        memory_mb: 256,
        reserved_concurrency: reserved,
        environment,
        faults: None,
    })
}

/// Every JSON line the recorder wrote.
pub fn recorded(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Polls `check` until it returns true or `within` passes.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// A Kinesis mapping spec with AWS's defaults, TRIM_HORIZON, on stream `s`.
pub fn kinesis_spec() -> shardwise_emulator::template::KinesisEventSpec {
    shardwise_emulator::template::KinesisEventSpec {
        name: "Stream".into(),
        stream_arn: "arn:aws:kinesis:us-east-1:000000000000:stream/s".into(),
        stream_name: "s".into(),
        starting_position: shardwise_emulator::template::StartingPosition::TrimHorizon,
        batch_size: 100,
        maximum_batching_window_secs: 0,
        parallelization_factor: 1,
        maximum_retry_attempts: -1,
        maximum_record_age_secs: -1,
        bisect_on_error: false,
        report_batch_item_failures: false,
        tumbling_window_secs: 0,
        on_failure: None,
        enabled: true,
    }
}

/// The function spec a mapping needs (name, ARN, role).
pub fn function_spec(name: &str) -> shardwise_emulator::template::FunctionSpec {
    shardwise_emulator::template::FunctionSpec {
        logical_id: name.into(),
        name: name.into(),
        arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        role_arn: "arn:aws:iam::000000000000:role/test".into(),
        code_uri: ".".into(),
        binary: "fixture-recorder".into(),
        timeout_secs: 5,
        memory_mb: 256,
        reserved_concurrency: None,
        environment: BTreeMap::new(),
        kinesis: Vec::new(),
    }
}

/// The data strings of each Kinesis batch the recorder saw, in delivery order.
pub fn batches(path: &Path) -> Vec<Vec<String>> {
    recorded(path)
        .into_iter()
        .filter_map(|l| {
            l.get("records").and_then(Value::as_array).map(|rs| {
                rs.iter()
                    .map(|r| r["data"].as_str().unwrap().to_owned())
                    .collect()
            })
        })
        .collect()
}

pub fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

pub fn put_all(stream: &MemoryStream, key: &str, datas: &[&str]) {
    for d in datas {
        stream.put(key, d.as_bytes(), now_secs());
    }
}

pub fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

pub fn start_mapping(
    em: &Arc<Emulator>,
    stream: &Arc<MemoryStream>,
    spec: KinesisEventSpec,
) -> Arc<Mapping> {
    Mapping::start(
        em,
        stream.clone(),
        &function_spec("f"),
        spec,
        EsmOptions::fast(),
    )
    .unwrap()
}

pub async fn wait_for_batches(path: &std::path::Path, n: usize) -> Vec<Vec<String>> {
    let ok = eventually(Duration::from_secs(30), || batches(path).len() >= n).await;
    // Settle: prove nothing *more* is delivered than expected.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = batches(path);
    assert!(ok, "expected {n} batches, got {got:?}");
    got
}
