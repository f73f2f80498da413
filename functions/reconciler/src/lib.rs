//! # reconciler — nightly batch totals from the raw archive, compared with the stream
//!
//! Triggered by the nightly schedule (or by hand with a `day`), it recomputes a day's
//! per-merchant and per-product totals from `raw/dt=<day>/` in S3, compares them with
//! daily-totals' results to the cent, explains differences the late side output
//! accounts for, and writes `reports/dt=<day>/`: `totals.parquet`, `totals.csv`,
//! `reconciliation.json` and `report.html`. Every output is a function of the inputs
//! only (no "generated at" stamps), so a re-run overwrites each object identically.
//!
//! ## Layout
//! - [`day`] — which day an invocation reconciles.
//! - [`archive`] — list and read the raw objects (S3); [`batch`] — dedupe, validate, total.
//! - [`stream`] — daily-totals items, late events and alerts from DynamoDB (query-api
//!   reads the stream totals with it too).
//! - [`totals`] — keys and amounts; [`compare`] — differences, explanations, verdict.
//! - [`report`] — `reconciliation.json`; [`tables`] — CSV and Parquet; [`html`] — the page.
//!
//! ## Dependencies and why
//! `parquet` (core only, no arrow) for `totals.parquet`; `archiver` for the archive
//! format; `monitoring` to validate exactly as the stream functions do; `futures` for
//! bounded concurrent S3 reads.

pub mod archive;
pub mod batch;
pub mod compare;
pub mod day;
pub mod html;
pub mod report;
pub mod stream;
pub mod tables;
pub mod totals;

use serde::Serialize;

use crate::compare::{Verdict, compare, verdict};
use crate::report::{Reconciliation, ReportCounts};

/// Prefix of every report object.
pub const REPORTS_PREFIX: &str = "reports/";
/// The totals as Parquet.
pub const TOTALS_PARQUET: &str = "totals.parquet";
/// The totals as CSV.
pub const TOTALS_CSV: &str = "totals.csv";
/// Verdict, counts, differences, totals.
pub const RECONCILIATION_JSON: &str = "reconciliation.json";
/// The human-readable page.
pub const REPORT_HTML: &str = "report.html";

/// `reports/dt=<day>/`.
pub fn report_prefix(day: &str) -> String {
    format!("{REPORTS_PREFIX}dt={day}/")
}

/// Why a run failed (the invocation fails and can be retried: writes are idempotent).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event names no valid day.
    #[error(transparent)]
    Day(#[from] day::DayError),
    /// An S3 call failed.
    #[error("S3: {0}")]
    S3(String),
    /// A DynamoDB call failed.
    #[error("DynamoDB: {0}")]
    Dynamo(String),
    /// A report could not be encoded.
    #[error("encoding: {0}")]
    Encode(String),
}

/// Where the reconciler reads and writes.
#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    /// ARCHIVE_BUCKET: raw/ in, reports/ out.
    pub bucket: String,
    /// OUTPUTS_TABLE: daily-totals' items.
    pub outputs_table: String,
    /// LATE_EVENTS_TABLE, if deployed.
    pub late_events_table: Option<String>,
    /// ALERTS_TABLE, if deployed (alerts per hour in the page).
    pub alerts_table: Option<String>,
}

/// What an invocation returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// The reconciled day.
    pub day: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Number of differences.
    pub differences: u64,
    /// Keys of the written report objects.
    pub reports: Vec<String>,
}

/// The reconciler with injected clients.
#[derive(Debug, Clone)]
pub struct Reconciler {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    config: ReconcilerConfig,
}

impl Reconciler {
    /// A reconciler over the given clients and resources.
    pub fn new(
        s3: aws_sdk_s3::Client,
        dynamodb: aws_sdk_dynamodb::Client,
        config: ReconcilerConfig,
    ) -> Self {
        Self {
            s3,
            dynamodb,
            config,
        }
    }

    /// Handles a scheduled (or manual) event: reconciles its day and writes the reports.
    pub async fn handle(&self, event: &serde_json::Value) -> Result<RunSummary, Error> {
        let day = day::day_to_reconcile(event)?;
        let r = self.reconcile(&day).await?;
        let reports = self.write_reports(&r).await?;
        tracing::info!(%day, verdict = ?r.verdict, differences = r.counts.differences, "reconciled");
        Ok(RunSummary {
            day,
            verdict: r.verdict,
            differences: r.counts.differences,
            reports,
        })
    }

    /// Computes the reconciliation of `day` (reads only).
    pub async fn reconcile(&self, day: &str) -> Result<Reconciliation, Error> {
        let c = &self.config;
        let read = archive::read_day(&self.s3, &c.bucket, day).await?;
        let batch = read.records.totals(day);
        let (stream, unreadable_stream_items) =
            stream::read_stream_totals(&self.dynamodb, &c.outputs_table, day).await?;
        let (late, late_events) = match &c.late_events_table {
            Some(table) => stream::read_late_totals(&self.dynamodb, table, day).await?,
            None => (totals::Totals::new(), 0),
        };
        let alerts_per_hour = match &c.alerts_table {
            Some(table) => stream::read_alert_hours(&self.dynamodb, table, day).await?,
            None => [0; batch::HOURS],
        };
        let differences = compare(&batch.totals, &stream, &late);
        let mut r = Reconciliation {
            day: day.to_owned(),
            verdict: verdict(&differences),
            counts: ReportCounts {
                raw_objects: read.objects,
                unreadable_objects: read.unreadable_objects,
                batch: batch.counts,
                batch_totals: batch.totals.len() as u64,
                stream_totals: stream.len() as u64,
                unreadable_stream_items,
                late_events,
                alerts: alerts_per_hour.iter().sum(),
                ..ReportCounts::default()
            },
            differences,
            hourly_transactions: batch.hourly,
            alerts_per_hour,
            totals: totals::rows(&batch.totals),
        };
        r.count_differences();
        if r.counts.unreadable_objects > 0 || r.counts.unreadable_stream_items > 0 {
            // Totals built from partial inputs cannot be called a match.
            r.verdict = Verdict::Mismatch;
        }
        Ok(r)
    }

    /// Writes the four report objects (plain PutObject: a re-run overwrites identically).
    pub async fn write_reports(&self, r: &Reconciliation) -> Result<Vec<String>, Error> {
        let prefix = report_prefix(&r.day);
        let files = [
            (
                TOTALS_PARQUET,
                tables::to_parquet(&r.totals)?,
                "application/vnd.apache.parquet",
            ),
            (
                TOTALS_CSV,
                tables::to_csv(&r.totals),
                "text/csv; charset=utf-8",
            ),
            (RECONCILIATION_JSON, r.to_json(), "application/json"),
            (
                REPORT_HTML,
                html::render(r).into_bytes(),
                "text/html; charset=utf-8",
            ),
        ];
        let mut keys = Vec::with_capacity(files.len());
        for (name, body, content_type) in files {
            let key = format!("{prefix}{name}");
            self.s3
                .put_object()
                .bucket(&self.config.bucket)
                .key(&key)
                .content_type(content_type)
                .body(body.into())
                .send()
                .await
                .map_err(|e| Error::S3(format!("put {key}: {e:?}")))?;
            keys.push(key);
        }
        Ok(keys)
    }
}
