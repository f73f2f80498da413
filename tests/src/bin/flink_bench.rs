//! `flink-bench`: checks Flink's R1/R2 results against the Rust reference computed from
//! the same JSON Lines input and prints the comparison table (issue 9).
//!
//! Usage: `scripts/bench-flink.sh` (installs PyFlink, generates the input, runs Flink,
//! then this). Directly:
//! `flink-bench --input tx.jsonl --flink-out out/ --flink-metrics metrics.json`
//! where `out/r1` and `out/r2` are the Flink sink directories. Exits non-zero when
//! Flink's rows differ from the reference's.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use shardwise_tests::bench::flink::compare::{Diff, describe, diff};
use shardwise_tests::bench::flink::input::read_events;
use shardwise_tests::bench::flink::late;
use shardwise_tests::bench::flink::reference::{LateEvent, Reference, compute};
use shardwise_tests::bench::flink::results::{parse_probe, parse_r1, parse_r2, read_dir};
use shardwise_tests::bench::flink::table::{EngineRow, FlinkMetrics, ShardwiseMetrics, render};

#[derive(Debug, Parser)]
#[command(about = "Flink vs the Rust reference on R1/R2, and the benchmark table")]
struct Args {
    /// The JSON Lines transactions Flink read (arrival order).
    #[arg(long)]
    input: PathBuf,
    /// Directory holding Flink's `r1/` and `r2/` sink directories.
    #[arg(long)]
    flink_out: PathBuf,
    /// Flink's metrics JSON (`bench/flink/run_rules.py --metrics`).
    #[arg(long)]
    flink_metrics: PathBuf,
    /// Write the records the watermark drops (JSON Lines) here, for the late-events run.
    #[arg(long)]
    late_out: Option<PathBuf>,
    /// Shardwise's figures (JSON: `{"r1":…, "r2":…, "usage":…}`), once its side runs.
    #[arg(long)]
    shardwise_metrics: Option<PathBuf>,
    /// Differences printed per kind.
    #[arg(long, default_value_t = 5)]
    show: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let metrics: FlinkMetrics = serde_json::from_reader(BufReader::new(
        File::open(&args.flink_metrics).with_context(|| format!("{:?}", args.flink_metrics))?,
    ))
    .context("Flink metrics")?;

    let shardwise: ShardwiseMetrics = match &args.shardwise_metrics {
        Some(path) => serde_json::from_reader(BufReader::new(
            File::open(path).with_context(|| format!("{path:?}"))?,
        ))
        .context("Shardwise metrics")?,
        None => ShardwiseMetrics::default(),
    };

    let started = Instant::now();
    let events = read_events(BufReader::new(
        File::open(&args.input).with_context(|| format!("{:?}", args.input))?,
    ))?;
    anyhow::ensure!(
        events.len() as u64 == metrics.events,
        "Flink read {} records, the input has {}",
        metrics.events,
        events.len()
    );
    let delay_ms = metrics.watermark_delay_s * 1000;
    let streaming = compute(&events, Some(delay_ms));
    // The batch answer only differs when something was late.
    let batch = if streaming.late.is_empty() {
        streaming.clone()
    } else {
        compute(&events, None)
    };
    eprintln!(
        "reference: {} events, {} R1 alert rows, {} R2 rows, {} late records ({:.1} s)",
        events.len(),
        streaming.r1.len(),
        streaming.r2.len(),
        streaming.late.len(),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.late_out {
        write_late(path, &streaming.late)?;
    }

    let flink_r1 = read_dir(&args.flink_out.join("r1"), parse_r1)?;
    let flink_r2 = read_dir(&args.flink_out.join("r2"), parse_r2)?;
    let d1 = diff(&streaming.r1, &flink_r1);
    let d2 = diff(&streaming.r2, &flink_r2);
    println!(
        "Flink {} (parallelism {}, watermark delay {} s) vs reference on {} events:",
        metrics.flink_version,
        metrics.parallelism,
        metrics.watermark_delay_s,
        events.len()
    );
    for line in describe("  R1 alerts", &d1, args.show)
        .into_iter()
        .chain(describe("  R2 daily totals", &d2, args.show))
    {
        println!("{line}");
    }
    explain_late(&streaming, &batch);
    let late_ok = check_late_probe(&args, &events, &streaming, &metrics)?;

    let rows = [
        EngineRow {
            engine: format!(
                "Flink {} (p={})",
                metrics.flink_version, metrics.parallelism
            ),
            r1: metrics.rules.get("r1").copied(),
            r2: metrics.rules.get("r2").copied(),
            usage: None,
        },
        EngineRow {
            engine: "Shardwise (emulator)".to_owned(),
            r1: shardwise.r1,
            r2: shardwise.r2,
            usage: shardwise.usage,
        },
    ];
    println!();
    print!("{}", render(&rows));
    println!(
        "(events/s exclude job start-up; JVM start {:.1} s not included in start-up; \
         CPU-s/M = JVM CPU seconds per million events, start-up subtracted; \
         load average at start {}; extra Flink conf {:?})",
        metrics.jvm_start_s,
        metrics
            .load_avg_1m_before
            .map_or_else(|| "unknown".to_owned(), |l| format!("{l:.1} on 2 cores")),
        metrics.conf
    );
    if !(d1.is_empty() && d2.is_empty() && late_ok) {
        anyhow::bail!("Flink's results differ from the reference");
    }
    println!(
        "RESULT: Flink's R1 and R2 rows equal the reference exactly{}",
        if args.flink_out.join("late").is_dir() {
            "; the records it dropped as late are the model's late records"
        } else {
            ""
        }
    );
    Ok(())
}

/// With late events on, Flink's answer differs from the batch answer; say by how much
/// and that the late records account for all of it (Flink equals the streaming
/// reference, whose only difference from batch is the dropped records).
fn explain_late(streaming: &Reference, batch: &Reference) {
    if streaming.late.is_empty() {
        println!("  no record was late: streaming answer = batch answer");
        return;
    }
    let r1: Diff<_> = diff(&batch.r1, &streaming.r1);
    let r2: Diff<_> = diff(&batch.r2, &streaming.r2);
    let r1_dropped: u32 = streaming.late.iter().map(|l| l.r1_windows_dropped).sum();
    let r2_dropped = streaming.late.iter().filter(|l| l.r2_dropped).count();
    println!(
        "  {} late records (R1: {} window contributions dropped; R2: {} records dropped); \
         vs the batch answer: R1 {} rows differ, R2 {} rows differ — all from the dropped records",
        streaming.late.len(),
        r1_dropped,
        r2_dropped,
        r1.missing.len() + r1.unexpected.len(),
        r2.missing.len() + r2.unexpected.len()
    );
}

/// The late probe's ids (if the run had one) against the model's late records.
fn check_late_probe(
    args: &Args,
    events: &[shardwise_tests::bench::flink::input::Event],
    streaming: &Reference,
    metrics: &FlinkMetrics,
) -> anyhow::Result<bool> {
    let dir = args.flink_out.join("late");
    if !dir.is_dir() {
        return Ok(true);
    }
    let counted: Vec<String> = read_dir(&dir, parse_probe)?.into_iter().flatten().collect();
    let c = late::check(
        events,
        &streaming.late,
        counted.iter().map(String::as_str),
        metrics.watermark_interval_ms,
    );
    println!(
        "  late probe: Flink dropped {} records, the model {}; {} counted only by Flink, \
         {} dropped only by Flink, {} within the {} ms watermark interval (either way is \
         right), {} bogus ids",
        c.flink_dropped,
        c.model_dropped,
        c.counted_by_flink_only.len(),
        c.dropped_by_flink_only.len(),
        c.within_interval.len(),
        metrics.watermark_interval_ms,
        c.bogus.len()
    );
    for (what, ids) in [
        ("counted only by Flink", &c.counted_by_flink_only),
        ("dropped only by Flink", &c.dropped_by_flink_only),
        ("bogus", &c.bogus),
    ] {
        for id in ids.iter().take(args.show) {
            println!("    {what}: {id}");
        }
    }
    Ok(c.is_explained())
}

fn write_late(path: &PathBuf, late: &[LateEvent]) -> anyhow::Result<()> {
    let mut out = BufWriter::new(File::create(path).with_context(|| format!("{path:?}"))?);
    for l in late {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({
                "transaction_id": l.transaction_id,
                "event_time_ms": l.event_time_ms,
                "watermark_ms": l.watermark_ms,
                "r1_windows_dropped": l.r1_windows_dropped,
                "r2_dropped": l.r2_dropped,
                "first_window_margin_ms": l.first_window_margin_ms,
            }),
        )?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
