//! # shardwise-emulator — AWS on one loopback port, faithful enough to test exactly-once
//!
//! `shardwise-local` serves the AWS APIs that Shardwise uses — Kinesis (awsJson1_1),
//! DynamoDB (awsJson1_0) and S3 (REST-XML) — on a single port, so the same function
//! binaries and tests run against it, moto, LocalStack or AWS by changing
//! `AWS_ENDPOINT_URL`. It deliberately does **not** depend on the `shardwise` framework:
//! functions reach it only through real SDK calls, exactly as they reach AWS.
//!
//! ## Layout
//! - [`server`] — the HTTP front door: requests carrying `X-Amz-Target` go to the JSON
//!   services by target prefix, `/_shardwise/*` is introspection, everything else is S3.
//! - [`kinesis`], [`s3`], [`dynamodb`] — one module per service; each owns its state
//!   behind its own locks and answers with the error shapes AWS sends.
//! - [`error`] — the awsJson error type shared by the JSON services.
//! - [`metrics`] — per service/operation request, byte and error counters.
//! - [`clock`] — the emulator's notion of "now", which tests and demos can speed up or
//!   advance (iterator expiry, TTL and schedules all read it).
//!   [`clock_api`] serves `GET/POST /_shardwise/clock` to read, advance or speed it.
//! - [`lambda`] — real function binaries as processes behind the Runtime API, and the
//!   Invoke API (timeouts, crashes, reserved concurrency, logs, fault injection).
//! - [`esm`] — Kinesis event source mappings with AWS's delivery semantics.
//! - [`schedule`] — `rate()`/`cron()` schedules fired by the controllable clock.
//! - [`template`] — the SAM template model `up` starts from; [`up`] brings a template
//!   up (resources, function builds, schedules, mappings).
//!
//! ## Why these dependencies
//! `axum`/`tokio` serve HTTP (a router is a value we can test without sockets);
//! `quick-xml` writes and reads S3's XML; `md-5` routes Kinesis records and makes S3
//! ETags; `crc32fast`/`crc32c`/`crc64fast-nvme`/`sha1`/`sha2` verify the checksums current
//! SDKs attach to uploads; `time`/`httpdate` format the timestamps AWS uses;
//! `serde_norway` reads SAM templates with their CloudFormation YAML tags (see
//! [`template`] for why this YAML crate).

pub mod clock;
pub mod clock_api;
pub mod dynamodb;
pub mod error;
pub mod esm;
pub mod kinesis;
pub mod lambda;
pub mod metrics;
pub mod s3;
pub mod schedule;
pub mod server;
pub mod template;
pub mod up;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use clock::Clock;
pub use server::Emulator;

/// Everything that can be tuned when the emulator starts.
#[derive(Debug, Clone)]
pub struct Config {
    /// Region reported in ARNs and responses.
    pub region: String,
    /// Account id used in ARNs.
    pub account_id: String,
    /// Enforce Kinesis per-shard throughput limits (write 1 MiB/s and 1,000 records/s,
    /// read 2 MiB/s and 5 calls/s), answering ProvisionedThroughputExceededException.
    pub kinesis_enforce_limits: bool,
    /// Fraction of DynamoDB requests answered with a throttling error (0.0 – 1.0).
    pub ddb_throttle_rate: f64,
    /// Delay added to every DynamoDB request.
    pub ddb_latency: Duration,
    /// How long after expiry the TTL sweeper deletes an item.
    pub ddb_ttl_sweep_delay: Duration,
    /// Seed for every random decision (throttling, fault injection), so runs reproduce.
    pub seed: u64,
    /// The Lambda layer's settings (logs, fault injection). No functions are registered
    /// by default; `shardwise-local up` registers a template's functions.
    pub lambda: lambda::LambdaSettings,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            account_id: "000000000000".to_owned(),
            kinesis_enforce_limits: false,
            ddb_throttle_rate: 0.0,
            ddb_latency: Duration::ZERO,
            ddb_ttl_sweep_delay: Duration::from_secs(0),
            seed: 0,
            lambda: lambda::LambdaSettings::default(),
        }
    }
}

/// Serves the emulator on an already-bound listener until `shutdown` resolves.
///
/// Tests bind `127.0.0.1:0`, read the port, and call this in-process.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let emulator = Arc::new(Emulator::new(config));
    emulator.serve(listener, shutdown).await
}
