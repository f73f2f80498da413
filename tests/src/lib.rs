//! # shardwise-tests — the conformance suite's harness, end-to-end tests and benchmarks
//!
//! Every test talks to AWS APIs through the official Rust SDK clients. By default a
//! test starts its own in-process emulator on a random loopback port (cheap: it binds
//! and serves in under a millisecond), so tests are isolated and parallel. Setting
//! `SHARDWISE_TEST_ENDPOINT` points the same tests at another endpoint — moto server,
//! LocalStack, a deployed stack — and `SHARDWISE_TEST_TARGET` (`moto`, `localstack`,
//! `aws`) names it so that cases where that target knowingly departs from AWS are
//! skipped there, and only there, with the deviation printed.

pub mod bench;
pub mod raw_http;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use shardwise_emulator::{Config, Emulator};
use tokio::sync::oneshot;

/// Environment variable naming an external endpoint to test against.
pub const ENDPOINT_ENV: &str = "SHARDWISE_TEST_ENDPOINT";
/// Environment variable naming what the external endpoint is (`moto`, `localstack`, `aws`).
pub const TARGET_ENV: &str = "SHARDWISE_TEST_TARGET";

/// What the suite is talking to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Our in-process emulator.
    Emulator,
    /// moto server.
    Moto,
    /// LocalStack.
    LocalStack,
    /// A real AWS account (or anything else).
    Other,
}

impl Target {
    fn from_env() -> Self {
        match std::env::var(TARGET_ENV).unwrap_or_default().as_str() {
            "moto" => Self::Moto,
            "localstack" => Self::LocalStack,
            "emulator" => Self::Emulator,
            _ => Self::Other,
        }
    }
}

/// One test's view of the AWS endpoint under test.
#[derive(Debug)]
pub struct TestEnv {
    /// Base URL, e.g. `http://127.0.0.1:43121`.
    pub endpoint: String,
    /// What is behind the endpoint.
    pub target: Target,
    /// SDK configuration pointing at the endpoint with test credentials.
    pub sdk_config: SdkConfig,
    /// The in-process emulator, when the test started one.
    pub emulator: Option<Arc<Emulator>>,
    _shutdown: Option<oneshot::Sender<()>>,
}

impl TestEnv {
    /// The endpoint named by the environment, or a fresh in-process emulator.
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    /// Like [`TestEnv::start`], with a specific emulator configuration (ignored for an
    /// external endpoint: tests that need a knob check [`TestEnv::emulator`]).
    pub async fn start_with(config: Config) -> Self {
        match std::env::var(ENDPOINT_ENV) {
            Ok(endpoint) if !endpoint.is_empty() => {
                Self::external(&endpoint, Target::from_env()).await
            }
            _ => Self::start_emulator(config).await,
        }
    }

    /// An external endpoint of a known kind.
    pub async fn external(endpoint: &str, target: Target) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        Self {
            sdk_config: sdk_config(&endpoint).await,
            endpoint,
            target,
            emulator: None,
            _shutdown: None,
        }
    }

    /// Always a fresh in-process emulator, whatever the environment says.
    pub async fn start_emulator(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
        let emulator = Arc::new(Emulator::new(config));
        let (tx, rx) = oneshot::channel::<()>();
        let serving = Arc::clone(&emulator);
        tokio::spawn(async move {
            let _ = serving
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            sdk_config: sdk_config(&endpoint).await,
            endpoint,
            target: Target::Emulator,
            emulator: Some(emulator),
            _shutdown: Some(tx),
        }
    }

    /// A Kinesis client for the endpoint.
    pub fn kinesis(&self) -> aws_sdk_kinesis::Client {
        aws_sdk_kinesis::Client::new(&self.sdk_config)
    }

    /// An S3 client for the endpoint (path-style, as emulators need).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk_config)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// A DynamoDB client for the endpoint.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config)
    }

    /// Creates an on-demand table keyed like every Shardwise table: `pk` (S, hash) + `sk`
    /// (S, range). Retries throttled attempts (the emulator's fault knob throttles setup
    /// calls too).
    pub async fn create_keyed_table(
        &self,
        name: &str,
    ) -> Result<
        (),
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::create_table::CreateTableError,
        >,
    > {
        use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute name and type are set")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("attribute name and key type are set")
        };
        let mut attempt = 0;
        loop {
            let result = self
                .dynamodb()
                .create_table()
                .table_name(name)
                .attribute_definitions(attr("pk"))
                .attribute_definitions(attr("sk"))
                .key_schema(key("pk", KeyType::Hash))
                .key_schema(key("sk", KeyType::Range))
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await;
            match result {
                Err(e)
                    if attempt < 20
                        && e.code()
                            .is_some_and(|c| c.contains("Throttl") || c.contains("Throughput")) =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                other => return other.map(|_| ()),
            }
        }
    }

    /// Creates a provisioned stream `name` with `shards` shards and waits until it is
    /// ACTIVE. Panics on failure: a test helper.
    pub async fn create_active_stream(&self, name: &str, shards: i32) {
        if let Err(e) = self
            .kinesis()
            .create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await
        {
            panic!("CreateStream {name} failed: {e:?}");
        }
        self.wait_stream_active(name).await;
    }

    /// Polls DescribeStreamSummary until the stream is ACTIVE (moto and AWS pass through
    /// CREATING/UPDATING). Panics after ~10 s: a test helper.
    pub async fn wait_stream_active(&self, name: &str) {
        use aws_sdk_kinesis::types::StreamStatus;
        let client = self.kinesis();
        for _ in 0..200 {
            let active = client
                .describe_stream_summary()
                .stream_name(name)
                .send()
                .await
                .ok()
                .and_then(|d| {
                    d.stream_description_summary()
                        .map(|s| s.stream_status().clone())
                })
                == Some(StreamStatus::Active);
            if active {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("stream {name} never became ACTIVE");
    }

    /// A resource name unique to this test run (streams, buckets and tables share one
    /// external endpoint when the suite runs against moto).
    pub fn unique_name(&self, prefix: &str) -> String {
        format!("{prefix}-{}", unique_suffix())
    }

    /// True when the suite talks to `target`.
    pub fn is(&self, target: Target) -> bool {
        self.target == target
    }

    /// The address (`host:port`) of the endpoint, for raw HTTP requests.
    pub fn authority(&self) -> String {
        self.endpoint
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .to_owned()
    }
}

/// SDK configuration for an endpoint with static test credentials.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let creds =
        aws_sdk_kinesis::config::Credentials::new("test", "test", None, None, "shardwise-tests");
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

/// Builds a binary of this workspace once per test process and returns its path.
///
/// `--workspace` keeps feature unification identical to the test build, so no dependency is
/// compiled twice; the crate-scoped variables `cargo test` sets are dropped, or the nested
/// build would rebuild ring, rustls and the AWS SDKs (and the next test build back again).
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    // Held while building, so concurrent tests wait for one build instead of racing.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get_or_insert_with(HashMap::new).get(name) {
        return path.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = shardwise_emulator::up::cargo_command()
        .args(["build", "--workspace", "--bin", name])
        .current_dir(&root)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building {name} failed");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>
    let exe = std::env::current_exe().expect("test exe path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join(name);
    assert!(bin.exists(), "{} missing", bin.display());
    built
        .get_or_insert_with(HashMap::new)
        .insert(name.to_owned(), bin.clone());
    bin
}

/// Lower-case alphanumeric suffix unique within and across test processes.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{}{:x}{:x}", std::process::id() % 100_000, nanos, n)
}

/// Skips the rest of a test when the suite runs against a target that knowingly departs
/// from AWS in the behaviour under test, printing the deviation.
///
/// `skip_on!(env, Moto, "moto's sequence numbers are small per-shard counters");`
#[macro_export]
macro_rules! skip_on {
    ($env:expr, $target:ident, $why:expr) => {
        if $env.is($crate::Target::$target) {
            eprintln!(
                "SKIPPED on {:?} (known deviation from AWS): {}",
                $crate::Target::$target,
                $why
            );
            return;
        }
    };
}

/// Skips the rest of a test unless it runs against the in-process emulator (for cases
/// that need an emulator knob such as limit enforcement or the controllable clock).
#[macro_export]
macro_rules! emulator_only {
    ($env:expr, $why:expr) => {
        if !$env.is($crate::Target::Emulator) {
            eprintln!("SKIPPED: needs the in-process emulator: {}", $why);
            return;
        }
    };
}
