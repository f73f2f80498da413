//! # archiver — raw transaction records to S3 under deterministic keys
//!
//! A Kinesis-triggered function without keyed state: it needs no framework commit, only
//! "every record durably in S3 before the checkpoint moves", so it is a plain
//! `lambda_runtime` handler over [`KinesisEvent`](aws_lambda_events::event::kinesis::KinesisEvent).
//!
//! ## Layout
//! - [`format`] — the archive contract: [`ArchiveLine`](format::ArchiveLine), object keys,
//!   gzip JSON Lines encoding/decoding, UTC days (the reconciler reads with these).
//! - [`archive`] — batch → objects → `PutObject` (If-None-Match) → `batchItemFailures`.
//!
//! ## Dependencies and why
//! `flate2` for gzip; `base64` for the record bytes in JSON; `monitoring` to validate
//! (the event day decides the object's day); `shardwise` for batch parsing, sequence
//! ordering, the batch response and the idempotent S3 sink.

pub mod archive;
pub mod format;

pub use archive::Archiver;
