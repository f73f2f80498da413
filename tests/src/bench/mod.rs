//! The emulator-vs-moto benchmark: the same Rust SDK workload, at the same concurrency,
//! against our emulator and against moto server, reported as ops/s and their ratio.
//!
//! Each service contributes its workloads in its own module; a workload is a setup
//! that creates its resources on one endpoint and returns the operation to repeat.
//! Nothing here asserts a speed: the binary prints figures (non-negotiable 5).

pub mod cpu;
pub mod dynamodb;
pub mod flink;
pub mod kinesis;
pub mod pipeline;
pub mod s3;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::TestEnv;

/// A future returned by a benchmark operation.
pub type OpFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
/// One repeatable operation; its argument is the global operation counter, for
/// workloads that vary keys.
pub type Op = Arc<dyn Fn(u64) -> OpFuture + Send + Sync>;
/// Creates a workload's resources on an endpoint and returns its operation.
pub type Setup =
    for<'a> fn(&'a TestEnv) -> Pin<Box<dyn Future<Output = anyhow::Result<Op>> + Send + 'a>>;

/// A named workload.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// What the table calls it, e.g. `Kinesis PutRecords (500 x 200 B)`.
    pub name: &'static str,
    /// Resource setup.
    pub setup: Setup,
}

/// Every workload of every service, in table order.
pub fn all_workloads() -> Vec<Workload> {
    let mut all = kinesis::workloads();
    all.extend(s3::workloads());
    all.extend(dynamodb::workloads());
    all
}

/// Result of driving one workload against one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Measurement {
    /// Successful operations per second.
    pub ops_per_sec: f64,
    /// Operations that failed.
    pub errors: u64,
}

/// Runs `op` from `concurrency` tasks for `duration` and counts successes.
pub async fn drive(op: Op, concurrency: usize, duration: Duration) -> Measurement {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (op, ok, failed, counter) = (op.clone(), ok.clone(), failed.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                match op(n).await {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("  first error: {e:#}");
                        }
                        0
                    }
                };
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Measurement {
        ops_per_sec: ok.load(Ordering::Relaxed) as f64 / elapsed,
        errors: failed.load(Ordering::Relaxed),
    }
}

/// A payload of `len` pseudo-random printable bytes (deterministic per `seed`).
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect()
}
