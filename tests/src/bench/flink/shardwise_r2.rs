//! The Shardwise side of the Flink benchmark for R2 (daily revenue and count per
//! merchant and currency): the real `daily-totals` function on the emulator.
//!
//! `tests/fixtures/flink-bench-r2-template.yaml` configures daily-totals for exactly R2:
//! - `DAILY_TOTALS_DIMENSIONS=merchant`: only the merchant processor runs (R2 has no
//!   product totals or day sample; the application's default runs all three);
//! - `ALLOWED_LATENESS_SECONDS=0`: Flink SQL's TUMBLE has no allowed lateness, so a record
//!   whose day has fired is dropped (Shardwise: routed to the late-events table);
//! - `WATERMARK_OUT_OF_ORDERNESS_MS=9999`: Flink fires a window at `watermark ≥ end − 1`
//!   with `watermark = max − 10 s`, the framework at `watermark ≥ end` with
//!   `watermark = max − out-of-orderness`, so 10 s − 1 ms is the same condition (as R1's
//!   `r1-hop`).
//!
//! The run is R1's ([`super::emulator_stack`]), on its own emulator: put, drain, force the
//! watermark to the end of time, fire every due timer with a library [`Dispatcher`] that
//! has daily-totals registered (as `timer-dispatcher` does), then scan the outputs
//! table's `merchant` rows and the late-events table and compare them with the
//! reference's R2 rows and R2-dropped records.

use std::path::{Path, PathBuf};

use daily_totals::output::DimensionTotal;
use daily_totals::{DailyTotals, DailyTotalsConfig, Dimension, DimensionSet};
use serde_json::Value;

use super::compare::diff;
use super::emulator_stack::{
    BenchStack, Input, cpu_seconds, fixture, late_transaction_ids, scan_bodies,
};
use super::reference::{R2Total, compute};
use super::rule_run::RuleRun;
use super::shardwise_run::{FLINK_DELAY_MS, end_of_input};

/// Flink's firing condition expressed as the framework's out-of-orderness (see above).
pub const R2_WATERMARK_OUT_OF_ORDERNESS_MS: i64 = FLINK_DELAY_MS - 1;

/// The R2 bench template.
pub fn template_path() -> PathBuf {
    fixture("flink-bench-r2-template.yaml")
}

/// What one R2 run found and measured.
pub type R2Run = RuleRun<R2Total>;

/// The daily-totals settings the R2 template sets (for the in-process dispatcher).
fn r2_config() -> anyhow::Result<DailyTotalsConfig> {
    Ok(DailyTotalsConfig {
        allowed_lateness_ms: 0,
        dimensions: DimensionSet::parse(Dimension::Merchant.as_str())
            .map_err(anyhow::Error::msg)?,
        ..DailyTotalsConfig::default()
    })
}

/// Runs R2 on `input` (JSON Lines, arrival order) with the `daily-totals` binary;
/// `batch_size` is the mapping's BatchSize, `shards` the stream's shard count (the
/// template's 2 when `None`; one shard makes the late records deterministic, see the
/// template's `ShardCount`).
pub async fn run_r2(
    input: &Path,
    daily_totals_bin: &Path,
    dispatch_concurrency: usize,
    batch_size: u32,
    shards: Option<u32>,
) -> anyhow::Result<R2Run> {
    let Input { events, records } = Input::read(input)?;
    let bench = BenchStack::up(&template_path(), daily_totals_bin, batch_size, shards).await?;
    let (outputs, late) = (
        bench.table("OutputsTable")?,
        bench.table("LateEventsTable")?,
    );
    let drained = bench.put_and_drain(&records).await?;

    let ended = end_of_input(
        &bench,
        &outputs,
        DailyTotals::new(Dimension::Merchant, r2_config()?),
        R2_WATERMARK_OUT_OF_ORDERNESS_MS,
        dispatch_concurrency,
        false,
    )
    .await?;
    let cpu_s = cpu_seconds() - drained.cpu_before;
    let ddb = bench.env.dynamodb();
    bench.stop();

    let mut actual = Vec::new();
    for body in scan_bodies(&ddb, &outputs).await? {
        let v: Value = serde_json::from_str(&body)?;
        if v["dimension"] != Dimension::Merchant.as_str() {
            continue;
        }
        let t: DimensionTotal = serde_json::from_value(v)?;
        actual.push(R2Total {
            merchant_id: t.id,
            currency: t.currency,
            day: t.day,
            revenue_minor: t.revenue_minor,
            count: t.count,
        });
    }
    actual.sort();
    let late_actual = late_transaction_ids(&ddb, &late).await?;
    let reference = compute(&events, Some(FLINK_DELAY_MS));
    let late_expected = reference
        .late
        .iter()
        .filter(|l| l.r2_dropped)
        .map(|l| l.transaction_id.clone())
        .collect();

    Ok(R2Run {
        events: events.len() as u64,
        startup_s: bench.startup_s,
        drain_s: drained.drain_s,
        dispatch_s: ended.dispatch_s,
        cpu_s,
        diff: diff(&reference.r2, &actual),
        rows: actual.len(),
        late_expected,
        late_actual,
        watermarks_at_drain: ended.watermarks_at_drain,
        timers_fired: ended.timers_fired,
        failed_transactions: bench.failed_transactions(),
        usage: bench.usage(&records, &drained),
    })
}
