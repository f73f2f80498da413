//! `shardwise-demo`: command-line wiring only; the demo lives in the library.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use shardwise_demo::{DemoOptions, Faults, Profile, run};

/// mimalloc, as in the emulator's own binary: the emulator runs in this process.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Run the transaction monitoring system end to end on the in-process emulator.
#[derive(Debug, Parser)]
#[command(name = "shardwise-demo", version)]
struct Args {
    /// Distinct valid transactions to generate.
    #[arg(long, default_value_t = 20_000)]
    transactions: u64,
    /// UTC day to generate, YYYY-MM-DD (default: yesterday; it must have ended).
    #[arg(long)]
    day: Option<String>,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Poll idle shards about once a second as AWS does (default: every 20 ms).
    #[arg(long)]
    aws_faithful_polling: bool,
    /// The SAM template.
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    /// Output directory (summary.json, ground truth, reports, function logs).
    #[arg(long, default_value = "target/demo")]
    out_dir: PathBuf,
    /// Build the functions in the dev profile even from a release demo.
    #[arg(long)]
    dev_functions: bool,
    /// Longest wait, after the drain, for outputs to settle and windows to close (s).
    #[arg(long, default_value_t = 180)]
    settle_timeout: u64,
    /// Longest wait for the functions to drain the stream (s).
    #[arg(long, default_value_t = 900)]
    drain_timeout: u64,
    /// Longest wait for the reconciler's report (s).
    #[arg(long, default_value_t = 300)]
    reconcile_timeout: u64,
    /// Extra environment for every function, `K=V` (repeatable), e.g.
    /// `WATERMARK_IDLE_TIMEOUT_MS=10000` to close a small day's windows sooner.
    #[arg(long = "function-env", value_parser = parse_env)]
    function_env: Vec<(String, String)>,
    /// Chaos: probability that a function process is killed during an invocation.
    #[arg(long, default_value_t = 0.0)]
    fault_kill_probability: f64,
    /// Chaos: probability that an event source mapping delivers a batch twice.
    #[arg(long, default_value_t = 0.0)]
    fault_duplicate_probability: f64,
    /// Chaos: share of DynamoDB requests throttled (0.0 – 1.0).
    #[arg(long, default_value_t = 0.0)]
    ddb_throttle_rate: f64,
    /// Chaos: milliseconds added to every DynamoDB request.
    #[arg(long, default_value_t = 0)]
    ddb_latency_ms: u64,
    /// Seed of the emulator's fault decisions.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Cap on the template's Kinesis batch sizes (more, smaller invocations).
    #[arg(long)]
    max_batch_size: Option<u32>,
    /// Do not end the input like a bounded job: after the drain, wait for idle-shard
    /// advancement (`WATERMARK_IDLE_TIMEOUT_MS`) and the dispatcher's schedule to close the
    /// day's windows and sessions, as a live stream would, instead of forcing the
    /// watermarks to the end of time and invoking the dispatcher directly (the default).
    #[arg(long)]
    live_watermarks: bool,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not K=V"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let options = DemoOptions {
        template: args.template,
        day: args.day,
        transactions: args.transactions,
        seed: args.seed,
        profile: if args.dev_functions {
            Profile::Dev
        } else {
            Profile::of_this_build()
        },
        fast_polling: !args.aws_faithful_polling,
        out_dir: args.out_dir,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        settle_timeout: Duration::from_secs(args.settle_timeout),
        reconcile_timeout: Duration::from_secs(args.reconcile_timeout),
        function_env: args.function_env.into_iter().collect(),
        faults: Faults {
            kill_probability: args.fault_kill_probability,
            duplicate_probability: args.fault_duplicate_probability,
            ddb_throttle_rate: args.ddb_throttle_rate,
            ddb_latency: Duration::from_millis(args.ddb_latency_ms),
            seed: args.fault_seed,
        },
        max_batch_size: args.max_batch_size,
        force_watermarks: !args.live_watermarks,
        ..DemoOptions::default()
    };
    match run(&options).await {
        Ok(summary) => {
            print!("{}", summary.render());
            if summary.failures.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("demo failed: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
