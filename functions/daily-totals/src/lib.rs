//! # daily-totals — event-time daily totals per merchant and product
//!
//! From the `transactions` stream: UTC-day tumbling windows per merchant and per product
//! (revenue in minor units per currency, and count), distinct accounts per merchant per
//! day (HyperLogLog, p = 12 → ≈ 1.6 % relative error), and a deterministic sample of
//! each day's transactions (bottom-k by a hash of the id, k = 100). Results are written
//! per the contract's "Daily totals" ([`output`]) when the watermark passes the day's end
//! (`final: true`) and rewritten by allowed-late events (`ALLOWED_LATENESS_SECONDS`);
//! later events go to the late-events side output (pk `daily-totals#<event day>`) and
//! are never counted. Malformed records go to dead letters with `monitoring::validate`'s
//! reason.
//!
//! ## One event, three keys
//! A transaction updates its merchant's key, its product's key and its day's sample key.
//! [`DailyTotalsHandler`] runs three processors of the same operator (one per
//! [`Dimension`], keys `merchant#…`, `product#…`, `day#…`) over each batch, concurrently;
//! the batch's first failure is the earliest of the three, and each processor's
//! high-water marks make the re-delivered prefix a no-op where it already committed. The
//! alternative — product totals inside the merchant's state — would halve the writes but
//! silently split a product sold by two merchants, so it is not used.
//! `DAILY_TOTALS_DIMENSIONS` (e.g. `merchant`) narrows a deployment to some of the three
//! (the Flink benchmark's R2 needs the merchant totals only); the default is all three.
//!
//! The three processors share the operator name, hence one watermark document, one
//! dead letter per malformed record, one late-event item per late record and one
//! registration with the timer dispatcher (`on_timer` reads the dimension from the key).
//! They read the watermark concurrently at the start of the batch; a processor whose read
//! is delayed past another's end-of-batch watermark write (e.g. by throttling retries)
//! could judge a day-boundary event against a slightly newer watermark than its siblings
//! (counted in the merchant total but late for the product). Closing that needs the
//! framework to let one batch read the watermark once for several processors.
//!
//! ## ParallelizationFactor must be 1 for this function
//! The state keys are merchants, products and days, NOT the stream's partition key (the
//! account). With ParallelizationFactor > 1, Lambda runs several batches of one shard
//! concurrently, split by partition key; two of them can then update the same merchant
//! key out of shard order, and the per-shard high-water mark of the later one would make
//! the framework skip the earlier one's records as duplicates (lost revenue). The
//! template sets daily-totals' event source to 1 whatever the `ParallelizationFactor`
//! parameter says (scale with shards instead); the infra tests check it.
//!
//! ## Duplicates
//! Kinesis re-deliveries are skipped by the framework. A transaction re-sent by the
//! producer (same id, new record) is dropped either
//! - by the first-seen gate ([`gate`], `DAILY_TOTALS_DEDUPE=account`, the default on the
//!   shard-log backend): ids remembered per account, the stream's partition key, in a
//!   shard log of its own, before any processor sees the batch; or
//! - by [`dedupe::RecentIds`] on each merchant and product key (the default otherwise):
//!   ids seen on the key within 10 minutes of arrival time, at most 6,000 per key (the
//!   bound and its reasoning are in that module). The list is most of a busy merchant's
//!   state item, rewritten with every commit, and it rules out buckets.
//!
//! The day key needs no dedupe: the sample is idempotent. `DAILY_TOTALS_DEDUPE=off` counts
//! every record instead (the Flink benchmark's R2, whose SQL counts rows).
//! `DAILY_TOTALS_DISTINCT_ACCOUNTS=off` drops the HyperLogLog and its output, and
//! `DAILY_TOTALS_MERCHANT_BUCKETS=N` / `DAILY_TOTALS_PRODUCT_BUCKETS=N` keep the merchant or
//! product totals in N hashed state keys instead of one per id ([`config`] has the
//! variables and why). With the gate and 16 product buckets (the template on the shard
//! log), the pipeline benchmark's DynamoDB requests fell from 0.48 to 0.14 per event; with 32
//! merchant buckets too (each keeping its merchants' sketches), to 0.02.
//!
//! ## Layout
//! - [`txn`] — the event and the validating codec; [`aggregate`] — per-day accumulator
//!   per dimension; [`gate`] — the first-seen gate; [`dedupe`] — recent ids per key;
//!   [`config`] — the settings from the
//!   environment; [`operator`] — the operator;
//!   [`output`] — the written items; [`handler`] — the three processors and Lambda wiring.

pub mod aggregate;
pub mod config;
pub mod dedupe;
pub mod gate;
pub mod handler;
pub mod operator;
pub mod output;
pub mod txn;

pub use aggregate::{Dimension, DimensionSet};
pub use config::{AccountSketch, DailyTotalsConfig, Dedupe};
pub use gate::{FirstSeenGate, GATE_OPERATOR};
pub use handler::{DailyTotalsHandler, run};
pub use operator::{DailyTotals, TotalsState};
pub use output::{DailyOutput, OPERATOR_NAME};
pub use txn::{Txn, TxnCodec};
