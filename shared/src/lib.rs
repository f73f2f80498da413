//! # shardwise — keyed-state stream operators with exactly-once commits on DynamoDB
//!
//! This crate is the framework that Shardwise's Kinesis-triggered Lambda functions are
//! written against. It is being built up issue by issue; today it holds only this
//! overview so the workspace has its final shape.
//!
//! ## Planned layout
//! - `ids` — newtypes for shard ids, sequence numbers (compared numerically, stored
//!   zero-padded), partition keys and event times.
//! - `operator` — the operator trait: one required `on_event`, default hooks.
//! - `state` — value/map/list state per key, stored one DynamoDB item per operator+key.
//! - `commit` — the exactly-once batch commit: group by key, one read and one
//!   conditional write per key per batch, duplicates skipped by per-shard high-water marks.
//! - `sinks`, `config`, `error`, `metrics`, and `runtime` (the only caller of
//!   `lambda_runtime::run`).
//!
//! Functions reach AWS (or the local emulator, or LocalStack) only through the official
//! SDK clients, configured by the standard `AWS_ENDPOINT_URL` variables.
