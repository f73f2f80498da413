//! `flink-shardwise`: the Shardwise side of the Flink benchmark (issue 9): R1 through
//! the real `fraud-detector` function (`FRAUD_RULES=r1-hop`) on an in-process emulator,
//! compared with the reference; writes the `flink-bench --shardwise-metrics` JSON.
//!
//! `flink-shardwise --input tx.jsonl --metrics-out shardwise.json [--fraud-detector-bin P]`
//! (the binary defaults to `fraud-detector` next to this one: build both with one
//! `cargo build --workspace --bin flink-shardwise --bin fraud-detector`). Exits non-zero
//! when the alerts or late records differ from the reference.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use shardwise_tests::bench::flink::compare::describe;
use shardwise_tests::bench::flink::cost::{ISSUE_PRICES, ShardwiseUsage, US_EAST_1_2024_11};
use shardwise_tests::bench::flink::shardwise_run::run;

#[derive(Debug, Parser)]
#[command(about = "R1 through fraud-detector (r1-hop) on the emulator vs the reference")]
struct Args {
    /// The JSON Lines transactions (arrival order), as Flink read them.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the `--shardwise-metrics` JSON.
    #[arg(long)]
    metrics_out: Option<PathBuf>,
    /// The `fraud-detector` executable (default: next to this binary).
    #[arg(long)]
    fraud_detector_bin: Option<PathBuf>,
    /// Timer firings in flight at the end of input.
    #[arg(long, default_value_t = 4)]
    dispatch_concurrency: usize,
    /// Records per invocation (the template's BatchSize).
    #[arg(long, default_value_t = 500)]
    batch_size: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = match args.fraud_detector_bin {
        Some(p) => p,
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .join("fraud-detector"),
    };
    let r = run(
        &args.input,
        &bin,
        args.dispatch_concurrency,
        args.batch_size,
    )
    .await?;
    println!(
        "Shardwise R1: {} events, start-up {:.1} s, drain {:.1} s, dispatch {:.1} s → {:.0} events/s, {:.1} CPU-s/M",
        r.events,
        r.startup_s,
        r.drain_s,
        r.dispatch_s,
        r.events_per_s(),
        r.cpu_s / r.events as f64 * 1e6
    );
    println!(
        "R1 alert rows: {} (reference differences: {}); late records: Shardwise {} / Flink model {}",
        r.r1_rows,
        r.r1.missing.len() + r.r1.unexpected.len(),
        r.late_actual.len(),
        r.late_expected.len()
    );
    println!("watermarks at drain: {}", r.watermarks_at_drain);
    println!(
        "timers fired: {}; failed (conflicting) TransactWriteItems: {}",
        r.timers_fired, r.failed_transactions
    );
    for line in describe("R1", &r.r1, 10) {
        println!("{line}");
    }
    println!("usage: {}", r.usage);
    let usage: ShardwiseUsage = serde_json::from_value(r.usage.clone())?;
    println!(
        "DynamoDB per event: {:.2} write requests, {:.2} WCU; cost per million events: ${:.2} ({}), ${:.2} ({})",
        usage.write_requests_per_event(),
        usage.wru_per_event(),
        usage.cost_per_million(&ISSUE_PRICES).total(),
        ISSUE_PRICES.name,
        usage.cost_per_million(&US_EAST_1_2024_11).total(),
        US_EAST_1_2024_11.name
    );
    if let Some(path) = &args.metrics_out {
        std::fs::write(path, serde_json::to_string_pretty(&r.metrics_json())?)?;
    }
    if !r.is_identical() {
        anyhow::bail!("Shardwise's R1 results differ from the reference");
    }
    println!("identical: alerts and late records");
    Ok(())
}
