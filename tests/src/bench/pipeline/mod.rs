//! The pipeline benchmark (issue 7's targets): PutRecords → alert latency percentiles in
//! the emulator's fast and AWS-faithful polling modes, and the throughput of the whole
//! stack with every stream function attached.
//!
//! The stack is the demo's (`shardwise_demo::stack`): the emulator in this process,
//! `infra/template.yaml` up with the application's functions built by cargo in the
//! requested profile. Nothing here asserts a timing: the binary prints figures.
//!
//! ## Layout
//! - [`book`] — put and alert times per transaction, percentiles (unit-tested).
//! - [`traffic`] — crafted background and alert-triggering transactions.
//! - [`alerts`] — the GetRecords loop on the alerts stream.
//! - [`latency`] — a latency run at a steady rate in one polling mode.
//! - [`throughput`] — a generated day put as fast as PutRecords allows, until drained.
//! - [`cpu`] — CPU-seconds of this process and its children (the functions) from /proc.

pub mod alerts;
pub mod book;
pub mod latency;
pub mod throughput;
pub mod traffic;

use std::path::PathBuf;

use shardwise_demo::Profile;
use shardwise_demo::stack::{self, ClockPlan, Running, StackOptions};
use time::OffsetDateTime;

/// How to bring the stack up.
#[derive(Debug, Clone)]
pub struct StackSpec {
    /// The SAM template.
    pub template: PathBuf,
    /// Cargo profile of the functions.
    pub profile: Profile,
    /// Where the functions' logs go.
    pub out_dir: PathBuf,
}

impl StackSpec {
    /// Builds the functions (a no-op when up to date) and brings the template up on a
    /// fresh in-process emulator with fast (20 ms) or AWS-faithful (1 s) idle polling.
    /// No reconcile firing is planned: the benchmark never reaches the nightly run.
    pub async fn start(&self, fast_polling: bool, label: &str) -> anyhow::Result<Running> {
        let template = stack::load_template(&self.template)?;
        let plan = ClockPlan {
            start: OffsetDateTime::now_utc(),
            reconcile_at: None,
        };
        let options = StackOptions {
            template: self.template.clone(),
            profile: self.profile,
            fast_polling,
            logs_dir: self.out_dir.join(label).join("logs"),
            function_env: Default::default(),
            // A benchmark measures the healthy path: no injected faults, the template's batches.
            faults: Default::default(),
            max_batch_size: None,
        };
        let running = stack::start(template, &options, &plan).await?;
        for w in &running.warnings {
            eprintln!("warning: {w}");
        }
        for (binary, why) in &running.missing {
            eprintln!("warning: {binary} is not running: {why}");
        }
        Ok(running)
    }
}

/// The configuration of every mapping on `stream`, one line each: what explains the
/// latency figures (a batch is invoked when it is full, or when the batching window
/// ends, or right away with a window of 0; an idle shard is polled every idle-poll).
pub fn mapping_lines(running: &Running, stream: &str, idle_poll_ms: u128) -> Vec<String> {
    running
        .stack
        .mappings
        .mappings()
        .iter()
        .filter(|m| m.spec.stream_name == stream)
        .map(|m| {
            format!(
                "{}: BatchSize {}, MaximumBatchingWindowInSeconds {}, ParallelizationFactor {}, \
                 idle poll {idle_poll_ms} ms",
                m.function,
                m.spec.batch_size,
                m.spec.maximum_batching_window_secs,
                m.spec.parallelization_factor
            )
        })
        .collect()
}
