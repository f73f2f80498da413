//! # shardwise — keyed-state stream operators with exactly-once commits on DynamoDB
//!
//! A user writes an [`Operator`] (one required method, `on_event`) with typed per-key
//! state made of [`ValueState`], [`MapState`] and [`ListState`]; shardwise turns each
//! Kinesis batch into exactly-once state changes and outputs with ONE read and ONE
//! conditional write per key per batch (see [`commit`] and ARCHITECTURE.md).
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use shardwise::{Context, Error, KeyedState, Operator, ProcessingConfig, RecordMeta, ValueState};
//!
//! #[derive(Debug, Deserialize)]
//! struct Txn { account: String, amount: i64 }
//!
//! #[derive(Debug, Clone, Default, Serialize, Deserialize)]
//! struct Totals { sum: ValueState<i64> }
//! impl KeyedState for Totals {}
//!
//! #[derive(Debug)]
//! struct Summer;
//! impl Operator for Summer {
//!     type Event = Txn;
//!     type State = Totals;
//!     type Output = ();
//!     fn name(&self) -> &str { "summer" }
//!     fn key(&self, e: &Txn, _: &RecordMeta) -> Result<String, Error> { Ok(e.account.clone()) }
//!     fn on_event(&self, _: &str, e: Txn, ctx: &mut Context<'_, Totals, ()>) -> Result<(), Error> {
//!         *ctx.state().sum.get_mut_or_default() += e.amount;
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     shardwise::run_kinesis(Summer, ProcessingConfig::from_env()?).await
//! }
//! ```
//!
//! ## Layout (one concern per module)
//! - [`ids`] — `ShardId`, `SequenceNumber` (numeric order, stored zero-padded), `EventTime`.
//! - [`error`] — the one `Error` enum with its retry classification.
//! - [`config`] — `ProcessingConfig` from the environment through an injectable lookup.
//! - [`codec`] — record decoding (JSON default, pluggable).
//! - [`operator`] — the operator trait, its context and hooks (timers, event time).
//! - [`timer_store`] — timer items (due buckets × spread partitions) committed with the
//!   key's state ([`dynamo_timers`]: their DynamoDB requests); [`dispatcher`] — fires due
//!   timers exactly once ([`dispatcher_config`], [`timer_callback`]: the type-erased
//!   operator); [`watermark`] — per-shard watermarks and the operator watermark. See
//!   `shared/TIMERS.md`.
//! - [`state`] — state primitives with TTL; the 400 KB item limit policy.
//! - [`store`] — the `StateStore` seam; [`dynamo_store`] — its DynamoDB implementation
//!   ([`dynamo_item`]: the item layout; [`dynamo_group`]: several keys' commits in one
//!   transaction, opt-in with `SHARDWISE_COMMIT_GROUP`, by default only for commits that
//!   are transactions anyway);
//!   [`memory_store`] — an in-memory one with the same semantics, for unit tests;
//!   [`shard_log`] — the alternative backend for operators keyed by the partition key:
//!   state per shard in the warm function, one S3 object and one conditional checkpoint
//!   per batch (`SHARDWISE_STATE_BACKEND=shard_log`), timers fired in-process.
//! - [`fold`] — one key's records folded into its state (pure); [`commit`] — the batch
//!   commit (grouping, reads, concurrent conditional writes, conflicts, throttles).
//! - [`batch`] — Kinesis event in, `KinesisEventResponse` out; [`kinesis_event`] — the
//!   event read fast into `aws_lambda_events`' type (`LambdaEvent<KinesisBatch>`);
//!   [`deadletter`] — poison records and timers.
//! - [`watermark`] — per-shard watermarks, idle advancement, forced floors; [`shards`] —
//!   `ListShards` discovery, so shards that have not reported yet hold the watermark back,
//!   and shard lineage, so the high-water marks of retired parent shards are pruned.
//! - [`window`] — event-time windows (tumbling, sliding, session), aggregates, allowed
//!   lateness and the late side output; [`sketch`] — HyperLogLog and a deterministic
//!   reservoir sample, usable as window aggregates.
//! - [`harness`] — drives an operator's callbacks in memory with chosen watermark and
//!   processing time, for operator unit tests.
//! - [`sinks`] — idempotent DynamoDB, Kinesis and S3 sinks; [`metrics`] — EMF lines;
//!   [`retry`] — jittered backoff; [`clock`] — the injected clock;
//!   [`runtime`] — `run_kinesis`, the only caller of `lambda_runtime::run`.
//!
//! ## Dependencies and why
//! - `aws-sdk-dynamodb`/`-kinesis`/`-s3`, `aws-config`: the official clients (endpoints
//!   from `AWS_ENDPOINT_URL`, so the emulator, LocalStack and AWS all work unchanged).
//! - `lambda_runtime`, `aws_lambda_events`: the official runtime and event types.
//! - `tokio`, `futures`: async runtime; `buffer_unordered` bounds concurrent key commits.
//! - `serde`, `serde_json`: state, outputs and the default codec.
//! - `rand`: jitter for throttling backoff. `thiserror`: the error enum.
//! - `base64`, `chrono`: a Kinesis record's data and arrival time, as `aws_lambda_events`
//!   holds them. `lz4_flex`: shard-log objects.
//! - `tracing`, `tracing-subscriber` (json): structured logs with request/shard fields.

pub mod batch;
pub mod clock;
pub mod codec;
pub mod commit;
#[cfg(test)]
mod commit_tests;
pub mod config;
pub mod deadletter;
pub mod dispatcher;
pub mod dispatcher_config;
#[cfg(test)]
mod dispatcher_fault_tests;
#[cfg(test)]
mod dispatcher_tests;
pub mod dynamo_group;
pub mod dynamo_item;
pub mod dynamo_store;
pub mod dynamo_timers;
pub mod error;
pub mod fold;
pub mod harness;
pub mod ids;
pub mod kinesis_event;
#[cfg(test)]
mod lineage_tests;
pub mod memory_store;
pub mod metrics;
pub mod operator;
pub mod retry;
pub mod runtime;
pub mod shard_log;
pub mod shards;
pub mod sinks;
pub mod sketch;
pub mod state;
pub mod store;
pub mod timer_callback;
pub mod timer_store;
pub mod watermark;
pub mod window;

pub use clock::{Clock, ManualClock, SystemClock};
pub use codec::{Codec, JsonCodec};
pub use commit::{BatchReport, Processor};
pub use config::{Consistency, ProcessingConfig};
pub use dispatcher::{DispatchReport, Dispatcher, DispatcherConfig};
pub use dynamo_store::DynamoStateStore;
pub use error::{Error, RetryClass};
pub use harness::Harness;
pub use ids::{EventTime, PartitionKey, SequenceNumber, ShardId};
pub use kinesis_event::KinesisBatch;
pub use memory_store::MemoryStateStore;
pub use operator::{
    Context, Effects, LateEvent, Operator, Placement, RecordMeta, TimeDomain, Timer, TimerChange,
};
pub use runtime::{run_kinesis, run_kinesis_with};
pub use shards::{KinesisShardDirectory, ShardDirectory, StaticShards};
pub use state::{KeyedState, Lifetime, ListState, MapState, ValueState};
pub use store::{
    CommitResult, FailingRecord, KeyCommit, OutputItem, OutputTable, StateStore, StoredState,
};
pub use timer_store::{TimerEntry, TimerLayout, TimerWrites};
pub use watermark::{WatermarkPolicy, Watermarks, force_watermark};
pub use window::{Aggregate, Assigner, Window, WindowResult, WindowState, Windows};
