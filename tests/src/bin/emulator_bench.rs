//! `emulator-bench`: drives our emulator and moto server with the same Rust SDK
//! workloads at the same concurrency and prints ops/s, the ratio, and our emulator's
//! time from process start to first successful request.
//!
//! Usage: `scripts/bench-emulator.sh` (builds in release, installs and starts moto).
//! Directly: `emulator-bench --emulator-bin target/release/shardwise-local [--moto URL]`.

use std::process::Stdio;

/// The client should cost as little as possible so the table measures the servers.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use shardwise_tests::TestEnv;
use shardwise_tests::bench::{Measurement, all_workloads, drive};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, Parser)]
#[command(about = "Emulator vs moto: ops/s per operation at fixed concurrency")]
struct Args {
    /// Path of the `shardwise-local` binary to benchmark (started as a process).
    #[arg(long)]
    emulator_bin: std::path::PathBuf,
    /// moto server endpoint; omit to measure the emulator alone.
    #[arg(long)]
    moto: Option<String>,
    /// Concurrent clients per workload.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds each workload runs against each endpoint.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Only run workloads whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (mut child, endpoint, ready) = start_emulator(&args.emulator_bin).await?;
    println!(
        "emulator: time from process start to first successful request: {:.1} ms",
        ready.as_secs_f64() * 1e3
    );
    let ours = TestEnv::external(&endpoint, shardwise_tests::Target::Emulator).await;
    let moto = match &args.moto {
        Some(url) => Some(TestEnv::external(url, shardwise_tests::Target::Moto).await),
        None => None,
    };
    let duration = Duration::from_secs_f64(args.seconds);
    println!(
        "concurrency {} · {:.1} s per workload and endpoint\n",
        args.concurrency, args.seconds
    );
    println!(
        "{:<44} {:>14} {:>14} {:>9}",
        "operation", "emulator ops/s", "moto ops/s", "ratio"
    );
    for workload in all_workloads() {
        if let Some(f) = &args.filter
            && !workload.name.contains(f.as_str())
        {
            continue;
        }
        let e = run_one(&ours, workload.setup, args.concurrency, duration).await;
        let m = match &moto {
            Some(moto) => Some(run_one(moto, workload.setup, args.concurrency, duration).await),
            None => None,
        };
        print_row(workload.name, e, m);
    }
    let _ = child.kill().await;
    Ok(())
}

async fn run_one(
    env: &TestEnv,
    setup: shardwise_tests::bench::Setup,
    concurrency: usize,
    duration: Duration,
) -> Result<Measurement, String> {
    match setup(env).await {
        Ok(op) => Ok(drive(op, concurrency, duration).await),
        Err(e) => Err(format!("{e:#}")),
    }
}

fn print_row(name: &str, e: Result<Measurement, String>, m: Option<Result<Measurement, String>>) {
    let cell = |r: &Result<Measurement, String>| match r {
        Ok(x) if x.errors == 0 => format!("{:.0}", x.ops_per_sec),
        Ok(x) => format!("{:.0} ({} err)", x.ops_per_sec, x.errors),
        Err(_) => "setup failed".to_owned(),
    };
    let ratio = match (&e, &m) {
        (Ok(a), Some(Ok(b))) if b.ops_per_sec > 0.0 => {
            format!("{:.1}x", a.ops_per_sec / b.ops_per_sec)
        }
        _ => "-".to_owned(),
    };
    let moto_cell = m.as_ref().map_or_else(|| "-".to_owned(), cell);
    println!("{name:<44} {:>14} {moto_cell:>14} {ratio:>9}", cell(&e));
    for r in std::iter::once(&e).chain(m.as_ref()) {
        if let Err(why) = r {
            println!("    setup error: {why}");
        }
    }
}

/// Starts `shardwise-local serve --port 0`, reads the bound address from its first
/// stdout line, and polls until a real API call succeeds.
async fn start_emulator(
    bin: &std::path::Path,
) -> anyhow::Result<(tokio::process::Child, String, Duration)> {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bin)
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let endpoint = lines
        .next_line()
        .await?
        .context("emulator printed nothing")?;
    let env = TestEnv::external(&endpoint, shardwise_tests::Target::Emulator).await;
    let kinesis = env.kinesis();
    loop {
        if kinesis.list_streams().send().await.is_ok() {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "emulator never answered"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok((child, endpoint, started.elapsed()))
}
