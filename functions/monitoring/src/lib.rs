//! # monitoring — the transaction monitoring domain shared by every function
//!
//! ## Layout
//! - [`model`] — [`Transaction`](model::Transaction) and its value types (id newtypes,
//!   [`Money`](model::Money) in integer minor units, country, location, channel); the
//!   flat JSON wire form written to the `transactions` stream (partition key = account).
//! - [`codec`] — the shardwise record codec every stream function decodes with.
//! - [`validate`] — bytes → transaction or a typed [`RejectReason`](validate::RejectReason)
//!   whose text becomes the dead-letter reason.
//! - [`generator`] — a seeded, deterministic day of traffic with injected fraud, disorder,
//!   late events, duplicates and malformed records, plus its [`GroundTruth`](generator::GroundTruth).
//! - [`rules`] — reference detection thresholds matching the generator's guarantees.
//! - `reference` / `time_fmt` — ISO tables and the RFC 3339 event-time form.
//!
//! ## Why these dependencies
//! `serde`/`serde_json` for the wire form; `time` to read/write RFC 3339; `thiserror`
//! for the reason and error enums; `rand` + `rand_chacha` because ChaCha8's output is
//! specified, so a seed means the same bytes on every platform (rand's `StdRng` makes
//! no such promise across versions).

pub mod codec;
pub mod generator;
pub mod model;
mod reference;
pub mod rules;
mod time_fmt;
pub mod validate;

pub use reference::{KNOWN_CURRENCIES, country_known, currency_exponent};
pub use time_fmt::{format_event_time, parse_event_time};
