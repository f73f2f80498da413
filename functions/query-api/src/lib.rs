//! # query-api — the unified view of a day's totals (Lambda function URL)
//!
//! `GET /totals?day=YYYY-MM-DD[&dimension=merchant|product]` answers from the reconciled
//! batch report when the reconciler has written one, else from the stream layer, and
//! says which (`"source": "batch" | "stream"`); `GET /health` answers `{"status":"ok"}`.
//! Bad requests get a 400 with `{"error": code, "message": text}`.
//!
//! ## Layout
//! - [`route`] — request → route or error (pure).
//! - [`api`] — the handler with injected S3 and DynamoDB clients.
//!
//! ## Dependencies and why
//! `reconciler` owns the report format and the stream-totals reader, so both sides of the
//! batch/stream choice read through the same code as the reconciliation itself;
//! `aws_lambda_events` (feature `lambda_function_urls`) for the function URL payloads.

pub mod api;
pub mod route;

pub use api::{QueryApi, Source, TotalsBody};
