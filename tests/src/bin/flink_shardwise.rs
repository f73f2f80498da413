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
use shardwise_tests::bench::flink::rule_run::RuleRun;
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
    /// Timer firings in flight at the end of input (R1 and R2 hold one timer per key, so
    /// firings do not conflict).
    #[arg(long, default_value_t = 64)]
    dispatch_concurrency: usize,
    /// Records per invocation (the templates' BatchSize).
    #[arg(long, default_value_t = 500)]
    batch_size: u32,
    /// fraud-detector's state backend for R1: `shard_log` or `dynamodb` (default: the
    /// R1 template's, `shard_log`).
    #[arg(long)]
    r1_state_backend: Option<String>,
}

/// The emulator runs in this process, as in the other benchmarks: with glibc malloc its
/// allocations (`malloc_consolidate`, `unlink_chunk`) were ~40% of its CPU on R1 (perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The function binary: as given (made absolute: the emulator runs functions from
/// another directory, where a relative path would not spawn) or next to this one.
fn sibling(given: Option<PathBuf>, name: &str) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => std::fs::canonicalize(&p).with_context(|| format!("{}", p.display())),
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

/// Prints one rule's figures and comparison, and adds them to the metrics JSON.
fn report<T: std::fmt::Debug>(
    rule: &str,
    rows_label: &str,
    r: &RuleRun<T>,
    metrics: &mut Map<String, Value>,
) -> anyhow::Result<()> {
    println!(
        "Shardwise {rule}: {} events, start-up {:.1} s, drain {:.1} s, dispatch {:.1} s → {:.0} events/s, {:.1} CPU-s/M",
        r.events,
        r.startup_s,
        r.drain_s,
        r.dispatch_s,
        r.events_per_s(),
        r.cpu_s / r.events.max(1) as f64 * 1e6
    );
    println!(
        "{rule} {rows_label}: {} (reference differences: {}); late records: Shardwise {} / Flink model {}",
        r.rows,
        r.diff.missing.len() + r.diff.unexpected.len(),
        r.late_actual.len(),
        r.late_expected.len()
    );
    println!("{rule} watermarks at drain: {}", r.watermarks_at_drain);
    println!(
        "{rule} timers fired: {}; failed (conflicting) TransactWriteItems: {}",
        r.timers_fired, r.failed_transactions
    );
    describe(rule, &r.diff, 10)
        .iter()
        .for_each(|l| println!("{l}"));
    print_usage(rule, &r.usage)?;
    let key = rule.to_lowercase();
    metrics.insert(key.clone(), r.rule_metrics());
    metrics.insert(format!("usage_{key}"), r.usage.clone());
    Ok(())
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
            args.r1_state_backend.as_deref(),
        )
        .await?;
        report("R1", "alert rows", &r, &mut metrics)?;
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
        report("R2", "merchant rows", &r, &mut metrics)?;
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
