//! # fraud-detector — per-account fraud rules and a weighted score, alerts exactly once
//!
//! A [`shardwise::Operator`] over the `transactions` stream, keyed by account id (the
//! stream's partition key). For each transaction it evaluates the rules against the
//! account's state, scores them, and emits an [`Alert`] with a deterministic id when the
//! score reaches the configured threshold; the framework commits the alert with the
//! state change, so a re-delivery never adds a second alert.
//!
//! Records are decoded with `monitoring::codec::TransactionCodec`, the validating codec
//! every stream function shares: a malformed record becomes a poison error whose text
//! is the typed rejection reason, and lands in the dead-letter table with its bytes.
//!
//! ## Layout
//! - [`config`] — [`FraudConfig`]: thresholds (defaults from `monitoring::rules`), the
//!   three template knobs, rule weights and the score; [`processing_config`]: the
//!   framework configuration with outputs routed to `ALERTS_TABLE` / `ALERTS_STREAM`.
//! - [`state`] — [`AccountState`]: windows, Welford profile, last position, devices,
//!   seen ids; every collection bounded (the table of bounds is there).
//! - [`rules`] — the rules as pure functions, and how out-of-order events are judged.
//! - [`alert`] — the [`Alert`] and its id.
//! - [`detector`] — the operator itself.
//! - [`hop`] — the `FRAUD_RULES=r1-hop` mode: the Flink benchmark's rule R1 (HOP
//!   windows per account and currency) on the framework's event-time windows.
//! - [`oracle`] — [`oracle_alerts`]: the from-scratch alerts of a day, for end-to-end
//!   tests.

pub mod alert;
pub mod config;
pub mod detector;
pub mod hop;
#[cfg(test)]
mod hop_tests;
pub mod oracle;
pub mod rules;
pub mod state;

pub use alert::{Alert, alert_id};
pub use config::{FraudConfig, processing_config};
pub use detector::{ALERT_SORT_KEY, FraudDetector, OPERATOR_NAME};
pub use hop::{HopVelocity, R1_HOP_MODE, VelocityAlert, r1_hop_selected};
pub use oracle::oracle_alerts;
pub use rules::Rule;
pub use state::AccountState;
