//! `flink-shardwise`: the Shardwise side of the Flink benchmark (issue 9): R1 through the
//! real `fraud-detector` function (`FRAUD_RULES=r1-hop`) and R2 through the real
//! `daily-totals` function (merchant totals, no allowed lateness), each on its own
//! in-process emulator, compared with the reference; writes the
//! `flink-bench --shardwise-metrics` JSON.
//!
//! `flink-shardwise --input tx.jsonl --metrics-out shardwise.json [--rules r1,r2]
//! [--fraud-detector-bin P] [--daily-totals-bin P]` (the binaries default to the ones next
//! to this one: build them with one `cargo build --workspace --bin flink-shardwise --bin
//! fraud-detector --bin daily-totals`). Exits non-zero when any rule's rows or late
//! records differ from the reference.
//!
//! The two rules run one after the other (two emulators), so each rule's CPU-seconds,
//! wall time and DynamoDB counters are its own; the metrics JSON's `usage` is what both
//! functions attached to ONE stream would cost (DynamoDB and Lambda added, the input's
//! Kinesis puts counted once), `usage_r1`/`usage_r2` each rule's own.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use serde_json::{Map, Value};
use shardwise_tests::bench::flink::compare::describe;
use shardwise_tests::bench::flink::cost::{ISSUE_PRICES, ShardwiseUsage, US_EAST_1_2024_11};
use shardwise_tests::bench::flink::emulator_stack::combined_usage;
use shardwise_tests::bench::flink::shardwise_r2::run_r2;
use shardwise_tests::bench::flink::shardwise_run::run;

#[derive(Debug, Parser)]
#[command(
    about = "R1 (fraud-detector r1-hop) and R2 (daily-totals) on the emulator vs the reference"
)]
struct Args {
    /// The JSON Lines transactions (arrival order), as Flink read them.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the `--shardwise-metrics` JSON.
    #[arg(long)]
    metrics_out: Option<PathBuf>,
    /// Rules to run, comma-separated.
    #[arg(long, default_value = "r1,r2")]
    rules: String,
    /// The `fraud-detector` executable (default: next to this binary).
    #[arg(long)]
    fraud_detector_bin: Option<PathBuf>,
    /// The `daily-totals` executable (default: next to this binary).
    #[arg(long)]
    daily_totals_bin: Option<PathBuf>,
    /// Timer firings in flight at the end of input.
    #[arg(long, default_value_t = 4)]
    dispatch_concurrency: usize,
    /// Records per invocation (the templates' BatchSize).
    #[arg(long, default_value_t = 500)]
    batch_size: u32,
}

fn sibling(given: Option<PathBuf>, name: &str) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None => Ok(std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .join(name)),
    }
}

fn print_usage(rule: &str, usage: &Value) -> anyhow::Result<()> {
    let u: ShardwiseUsage = serde_json::from_value(usage.clone())?;
    println!(
        "{rule} DynamoDB per event: {:.2} write requests, {:.2} WCU; cost per million events: ${:.2} ({}), ${:.2} ({})",
        u.write_requests_per_event(),
        u.wru_per_event(),
        u.cost_per_million(&ISSUE_PRICES).total(),
        ISSUE_PRICES.name,
        u.cost_per_million(&US_EAST_1_2024_11).total(),
        US_EAST_1_2024_11.name
    );
    Ok(())
}

fn line(rule: &str, events: u64, startup: f64, drain: f64, dispatch: f64, cpu: f64) {
    println!(
        "Shardwise {rule}: {events} events, start-up {startup:.1} s, drain {drain:.1} s, dispatch {dispatch:.1} s → {:.0} events/s, {:.1} CPU-s/M",
        events as f64 / (drain + dispatch).max(1e-9),
        cpu / events.max(1) as f64 * 1e6
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rules: Vec<&str> = args.rules.split(',').map(str::trim).collect();
    let mut metrics = Map::new();
    let mut usages = Vec::new();
    let mut differ = Vec::new();
    if rules.contains(&"r1") {
        let bin = sibling(args.fraud_detector_bin.clone(), "fraud-detector")?;
        let r = run(
            &args.input,
            &bin,
            args.dispatch_concurrency,
            args.batch_size,
        )
        .await?;
        line(
            "R1",
            r.events,
            r.startup_s,
            r.drain_s,
            r.dispatch_s,
            r.cpu_s,
        );
        println!(
            "R1 alert rows: {} (reference differences: {}); late records: Shardwise {} / Flink model {}",
            r.r1_rows,
            r.r1.missing.len() + r.r1.unexpected.len(),
            r.late_actual.len(),
            r.late_expected.len()
        );
        println!("R1 watermarks at drain: {}", r.watermarks_at_drain);
        println!(
            "R1 timers fired: {}; failed (conflicting) TransactWriteItems: {}",
            r.timers_fired, r.failed_transactions
        );
        describe("R1", &r.r1, 10)
            .iter()
            .for_each(|l| println!("{l}"));
        print_usage("R1", &r.usage)?;
        metrics.insert("r1".into(), r.metrics_json()["r1"].clone());
        metrics.insert("usage_r1".into(), r.usage.clone());
        usages.push(r.usage.clone());
        if !r.is_identical() {
            differ.push("R1");
        }
    }
    if rules.contains(&"r2") {
        let bin = sibling(args.daily_totals_bin.clone(), "daily-totals")?;
        let r = run_r2(
            &args.input,
            &bin,
            args.dispatch_concurrency,
            args.batch_size,
            None,
        )
        .await?;
        line(
            "R2",
            r.events,
            r.startup_s,
            r.drain_s,
            r.dispatch_s,
            r.cpu_s,
        );
        println!(
            "R2 merchant rows: {} (reference differences: {}); late records: Shardwise {} / Flink model {}",
            r.r2_rows,
            r.r2.missing.len() + r.r2.unexpected.len(),
            r.late_actual.len(),
            r.late_expected.len()
        );
        println!("R2 watermarks at drain: {}", r.watermarks_at_drain);
        println!(
            "R2 timers fired: {}; failed (conflicting) TransactWriteItems: {}",
            r.timers_fired, r.failed_transactions
        );
        describe("R2", &r.r2, 10)
            .iter()
            .for_each(|l| println!("{l}"));
        print_usage("R2", &r.usage)?;
        metrics.insert("r2".into(), r.rule_metrics());
        metrics.insert("usage_r2".into(), r.usage.clone());
        usages.push(r.usage.clone());
        if !r.is_identical() {
            differ.push("R2");
        }
    }
    let usage = match usages.as_slice() {
        [a, b] => combined_usage(a, b),
        [a] => a.clone(),
        _ => anyhow::bail!("no rule selected (--rules r1,r2)"),
    };
    if usages.len() > 1 {
        print_usage("R1+R2 on one stream", &usage)?;
    }
    metrics.insert("usage".into(), usage);
    if let Some(path) = &args.metrics_out {
        write(path, &Value::Object(metrics))?;
    }
    if !differ.is_empty() {
        anyhow::bail!("Shardwise's {differ:?} results differ from the reference");
    }
    println!("identical: every rule's rows and late records");
    Ok(())
}

fn write(path: &Path, value: &Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)?)?;
    Ok(())
}
