//! `pipeline-bench`: issue 7's pipeline figures on the in-process emulator with
//! `infra/template.yaml` up and every function built in this binary's profile.
//!
//! 1. Latency, in the fast (20 ms idle poll) and AWS-faithful (1 s) polling modes:
//!    transactions at a steady rate, a known fraction of them crafted to raise an alert
//!    at once; latency = alert read from the alerts stream − PutRecords returned for its
//!    transaction. Prints count, p50, p90, p99, max and the mapping configuration.
//!    Targets: p99 ≤ 100 ms (fast), ≤ 1.5 s (faithful).
//! 2. Throughput: a generated day put as fast as PutRecords allows, timed until every
//!    mapping's lag is 0; per-function records/s, DynamoDB requests per event, CPU-s per
//!    million. Target: ≥ 20,000 tx/s on 2 cores.
//!
//! Prints figures, never asserts a timing. `scripts/bench-pipeline.sh [--release]`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shardwise_demo::Profile;
use shardwise_tests::bench::pipeline::StackSpec;
use shardwise_tests::bench::pipeline::book::ms;
use shardwise_tests::bench::pipeline::latency::{self, LatencyOptions, LatencyRun};
use shardwise_tests::bench::pipeline::throughput::{self, ThroughputOptions, ThroughputRun};

/// The emulator runs in this process; see the emulator binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "PutRecords→alert latency and pipeline throughput of the monitoring stack")]
struct Args {
    /// Latency runs: transactions per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// Latency runs: one alert-triggering pair per this many transactions.
    #[arg(long, default_value_t = 20)]
    trigger_every: u64,
    /// Latency runs: measured seconds per polling mode.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Latency runs: warm-up seconds (function cold starts), not measured.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Throughput run: transactions in the generated day (0 skips the run).
    #[arg(long, default_value_t = 20_000)]
    events: u64,
    /// Throughput run: parallel PutRecords senders.
    #[arg(long, default_value_t = 4)]
    lanes: usize,
    /// Throughput run: generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Throughput run: longest wait for the drain (s).
    #[arg(long, default_value_t = 900)]
    drain_timeout: u64,
    /// Skip the latency runs.
    #[arg(long)]
    no_latency: bool,
    /// The SAM template.
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    /// Function logs go under here.
    #[arg(long, default_value = "target/pipeline-bench")]
    out_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let profile = Profile::of_this_build();
    let spec = StackSpec {
        template: args.template.clone(),
        profile,
        out_dir: args.out_dir.clone(),
    };
    println!("pipeline-bench: functions and emulator in the {profile:?} profile");
    if !args.no_latency {
        let options = LatencyOptions {
            rate: args.rate,
            trigger_every: args.trigger_every,
            seconds: args.seconds,
            warmup_seconds: args.warmup,
            alert_timeout: Duration::from_secs(15),
        };
        let mut runs = Vec::new();
        for fast in [true, false] {
            runs.push(latency::run(&spec, fast, &options).await?);
        }
        print_latency(&runs, &options);
    }
    if args.events > 0 {
        let options = ThroughputOptions {
            transactions: args.events,
            seed: args.seed,
            lanes: args.lanes,
            drain_timeout: Duration::from_secs(args.drain_timeout),
        };
        let run = throughput::run(&spec, &options).await?;
        print_throughput(&run, &options);
    }
    Ok(())
}

fn print_latency(runs: &[LatencyRun], options: &LatencyOptions) {
    println!();
    println!(
        "PutRecords → alert latency ({} tx/s for {:.0} s, one trigger pair per {} transactions)",
        options.rate, options.seconds, options.trigger_every
    );
    println!(
        "{:<13} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10}",
        "mode",
        "tx",
        "tx/s",
        "alerts",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "missing",
        "unexpected"
    );
    for r in runs {
        let p = r.report.percentiles;
        let f = |d: Option<Duration>| d.map_or("-".to_owned(), ms);
        println!(
            "{:<13} {:>7} {:>8.0} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10}",
            r.mode,
            r.transactions,
            r.achieved_rate,
            p.map_or(0, |p| p.count),
            f(p.map(|p| p.p50)),
            f(p.map(|p| p.p90)),
            f(p.map(|p| p.p99)),
            f(p.map(|p| p.max)),
            r.report.missing,
            r.report.unexpected
        );
    }
    for r in runs {
        println!(
            "  [{}] machine load average (1/5/15 min) {} at start, {} at end",
            r.mode, r.load.0, r.load.1
        );
        println!(
            "  [{}] failed put entries {}, alerts read before their put returned {}, repeated alerts {}",
            r.mode, r.failed_entries, r.report.early, r.report.duplicate_alerts
        );
        let worst: Vec<String> = r
            .worst
            .iter()
            .map(|(at, latency)| format!("{} ms at +{:.1} s", ms(*latency), at.as_secs_f64()))
            .collect();
        println!("  [{}] largest: {}", r.mode, worst.join(", "));
        for m in &r.mappings {
            println!("  [{}] {m}", r.mode);
        }
    }
    println!("  targets: p99 ≤ 100 ms (fast), ≤ 1500 ms (aws-faithful)");
}

fn print_throughput(run: &ThroughputRun, options: &ThroughputOptions) {
    println!();
    println!(
        "Pipeline throughput: {} transactions ({} records with duplicates and malformed), {} senders",
        run.transactions, run.records, options.lanes
    );
    println!(
        "  put {:.1} s ({:.0} records/s); first put → every lag 0: {:.1} s{}",
        run.put_seconds,
        run.records as f64 / run.put_seconds.max(1e-9),
        run.pipeline_seconds,
        if run.drained {
            ""
        } else {
            " (NOT drained: timeout)"
        }
    );
    println!(
        "  pipeline: {:.0} records/s, {:.0} tx/s (target ≥ 20,000 tx/s)",
        run.records_per_second(),
        run.transactions as f64 / run.pipeline_seconds.max(1e-9)
    );
    for f in &run.functions {
        println!(
            "  {:<40} {:>8} records in {:>6.1} s = {:>7.0} records/s; {} invocations, \
             {} partial failures, {} retries, {} function errors",
            f.function,
            f.records,
            f.seconds,
            f.records as f64 / f.seconds.max(1e-9),
            f.invocations,
            f.partial_failures,
            f.retries,
            f.function_errors
        );
    }
    let ddb: u64 = run.dynamodb_ops.values().sum();
    let events = run.records.max(1) as f64;
    println!(
        "  DynamoDB requests: {ddb} = {:.3} per event",
        ddb as f64 / events
    );
    for (op, n) in &run.dynamodb_ops {
        println!("    {op:<20} {n:>9} ({:.3}/event)", *n as f64 / events);
    }
    let kinesis: u64 = run.kinesis_ops.values().sum();
    println!(
        "  Kinesis requests: {kinesis} ({})",
        run.kinesis_ops
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let s3: u64 = run.s3_ops.values().map(|(n, _)| n).sum();
    let s3_bytes: u64 = run.s3_ops.values().map(|(_, b)| b).sum();
    println!(
        "  S3 requests: {s3} ({}); {:.1} MB received",
        run.s3_ops
            .iter()
            .map(|(k, (n, _))| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        s3_bytes as f64 / 1e6
    );
    println!(
        "  CPU: {:.1} s (emulator + putter + functions) = {:.0} CPU-s per million records",
        run.cpu_seconds,
        run.cpu_seconds / events * 1e6
    );
    println!(
        "  machine load average (1/5/15 min) {} at first put, {} at drain",
        run.load.0, run.load.1
    );
    for m in &run.mappings {
        println!("  {m}");
    }
}
