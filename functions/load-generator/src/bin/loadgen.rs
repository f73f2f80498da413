//! `loadgen` — generate a seeded day of transactions and put it on a Kinesis stream (or
//! write JSON Lines), with the ground truth in a local file.
//!
//! ```text
//! loadgen --endpoint http://127.0.0.1:4566 --stream transactions --seed 7 --transactions 100000 \
//!         [--rate 5000] [--ground-truth truth.jsonl] [--jsonl records.jsonl] [--create-shards 4]
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use load_generator::{SendOptions, send_records};
use monitoring::generator::{GeneratorConfig, generate};

/// Generate seeded card traffic with injected fraud and send it to Kinesis.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Args {
    /// AWS endpoint (emulator, LocalStack); default: AWS_ENDPOINT_URL or real AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: Option<String>,
    /// Kinesis stream name (required unless --jsonl).
    #[arg(long)]
    stream: Option<String>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Distinct valid transactions.
    #[arg(long, default_value_t = 100_000)]
    transactions: u64,
    /// UTC day, YYYY-MM-DD.
    #[arg(long, default_value = "2026-11-21")]
    day: String,
    /// Accounts (default transactions/10).
    #[arg(long)]
    accounts: Option<u64>,
    /// Domestic merchants (default accounts/40).
    #[arg(long)]
    merchants: Option<u64>,
    /// Largest arrival delay of on-time records, ms (bounded disorder, < 10000).
    #[arg(long, default_value_t = 3_000)]
    max_disorder_ms: i64,
    /// Fraction of accounts with a fraud case.
    #[arg(long, default_value_t = 0.02)]
    fraud_ratio: f64,
    /// Fraction of transactions re-sent byte-identically.
    #[arg(long, default_value_t = 0.005)]
    duplicate_rate: f64,
    /// Malformed records as a fraction of transactions.
    #[arg(long, default_value_t = 0.001)]
    malformed_rate: f64,
    /// Fraction of transactions delivered hours late.
    #[arg(long, default_value_t = 0.002)]
    late_rate: f64,
    /// Switch late events off.
    #[arg(long)]
    no_late: bool,
    /// Records per second (default: as fast as the stream takes them).
    #[arg(long)]
    rate: Option<f64>,
    /// Create the stream with this many shards if it does not exist yet.
    #[arg(long)]
    create_shards: Option<i32>,
    /// Parallel senders.
    #[arg(long, default_value_t = 2)]
    lanes: usize,
    /// Region for signing.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Write the ground truth (JSON Lines) here.
    #[arg(long)]
    ground_truth: Option<PathBuf>,
    /// Write the records as JSON Lines here instead of sending them to Kinesis.
    #[arg(long)]
    jsonl: Option<PathBuf>,
}

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = GeneratorConfig {
        seed: args.seed,
        day: args.day.clone(),
        transactions: args.transactions,
        accounts: args.accounts,
        merchants: args.merchants,
        max_disorder_ms: args.max_disorder_ms,
        fraud_account_ratio: args.fraud_ratio,
        duplicate_rate: args.duplicate_rate,
        malformed_rate: args.malformed_rate,
        late_rate: args.late_rate,
        late_events: !args.no_late,
    };
    let generated = generate(&config)?;
    let counts = &generated.ground_truth().counts;
    eprintln!(
        "generated {} records: {} transactions, {} duplicates, {} late, {} malformed, {} fraud cases",
        counts.records,
        counts.transactions,
        counts.duplicates,
        counts.late,
        counts.malformed,
        counts.fraud_cases
    );
    if let Some(path) = &args.ground_truth {
        let mut out = BufWriter::new(File::create(path).with_context(|| format!("{path:?}"))?);
        generated.ground_truth().write_jsonl(&mut out)?;
        out.flush()?;
        eprintln!("ground truth written to {}", path.display());
    }
    if let Some(path) = &args.jsonl {
        let mut out = BufWriter::new(File::create(path).with_context(|| format!("{path:?}"))?);
        let lines = generated.write_records_jsonl(&mut out)?;
        out.flush()?;
        eprintln!("{lines} records written to {}", path.display());
        return Ok(());
    }
    let stream = args
        .stream
        .clone()
        .context("--stream is required unless --jsonl is given")?;
    let kinesis = Arc::new(kinesis_client(&args).await);
    if let Some(shards) = args.create_shards {
        ensure_stream(&kinesis, &stream, shards).await?;
    }
    let options = SendOptions {
        lanes: args.lanes,
        rate: args.rate,
        ..SendOptions::default()
    };
    let report = send_records(kinesis, &stream, generated.records(), options).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn kinesis_client(args: &Args) -> aws_sdk_kinesis::Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(args.region.clone()));
    if let Some(endpoint) = &args.endpoint {
        loader = loader.endpoint_url(endpoint);
        // Local emulators accept any signature: use test credentials if none are set.
        if std::env::var("AWS_ACCESS_KEY_ID").is_err() && std::env::var("AWS_PROFILE").is_err() {
            loader = loader.credentials_provider(aws_sdk_kinesis::config::Credentials::new(
                "test", "test", None, None, "loadgen",
            ));
        }
    }
    aws_sdk_kinesis::Client::new(&loader.load().await)
}

/// Creates `stream` with `shards` shards unless it exists, and waits until it is ACTIVE.
async fn ensure_stream(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    shards: i32,
) -> anyhow::Result<()> {
    use aws_sdk_kinesis::error::ProvideErrorMetadata;
    use aws_sdk_kinesis::types::StreamStatus;
    let created = kinesis
        .create_stream()
        .stream_name(stream)
        .shard_count(shards)
        .send()
        .await;
    if let Err(e) = created
        && e.code() != Some("ResourceInUseException")
    {
        anyhow::bail!("creating stream {stream}: {e:?}");
    }
    for _ in 0..600 {
        let summary = kinesis
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await?;
        let status = summary
            .stream_description_summary()
            .map(|s| s.stream_status().clone());
        if status == Some(StreamStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!("stream {stream} did not become ACTIVE within a minute")
}
