//! The alert: what the detector emits, written once to the alerts table and published
//! to the alerts stream.
//!
//! Its id is derived from the transaction id alone (never from time, shard, sequence or
//! attempt), so a re-delivered or re-folded transaction rewrites the same alert instead
//! of adding one.

use monitoring::format_event_time;
use monitoring::model::Transaction;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::Rule;

/// Prefix of every alert id.
pub const ALERT_ID_PREFIX: &str = "alert-";
/// Transaction ids longer than this are hashed into the alert id (DynamoDB keys are
/// limited to 2,048 bytes, and transaction ids are client data of any length).
pub const MAX_READABLE_ID_BYTES: usize = 200;

/// A fraud alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic id: `alert-<transaction id>` (or a SHA-256 of a very long id).
    pub alert_id: String,
    /// The account.
    pub account: String,
    /// The transaction it fired on.
    pub transaction_id: String,
    /// UTC day of the event time, `YYYY-MM-DD` (the alerts table's `by-day` GSI key).
    pub day: String,
    /// Event time, RFC 3339 with milliseconds (the GSI's range key).
    pub event_time: String,
    /// Weighted score, 0–1.
    pub score: f64,
    /// Names of the rules that fired.
    pub rules: Vec<String>,
    /// Amount in minor units.
    pub amount_minor: i64,
    /// ISO 4217 currency of the amount.
    pub currency: String,
}

impl Alert {
    /// The alert for `tx` with the given rules and score.
    pub fn new(tx: &Transaction, rules: &[Rule], score: f64) -> Self {
        let event_time = format_event_time(tx.event_time.millis());
        // RFC 3339 from `format_event_time` always starts with the ten-character date.
        let day = event_time.get(..10).unwrap_or_default().to_owned();
        Self {
            alert_id: alert_id(tx.transaction_id.as_str()),
            account: tx.account_id.to_string(),
            transaction_id: tx.transaction_id.to_string(),
            day,
            event_time,
            score,
            rules: rules.iter().map(|r| r.name().to_owned()).collect(),
            amount_minor: tx.amount.minor,
            currency: tx.amount.currency.code().to_owned(),
        }
    }
}

/// The alert id of a transaction.
pub fn alert_id(transaction_id: &str) -> String {
    if transaction_id.len() <= MAX_READABLE_ID_BYTES {
        format!("{ALERT_ID_PREFIX}{transaction_id}")
    } else {
        let digest = Sha256::digest(transaction_id.as_bytes());
        format!("{ALERT_ID_PREFIX}sha256-{}", hex::encode(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_ids_depend_only_on_the_transaction_id() {
        assert_eq!(
            alert_id("tx-20261121-00000042"),
            "alert-tx-20261121-00000042"
        );
        let long = "x".repeat(5_000);
        let id = alert_id(&long);
        assert_eq!(id, alert_id(&long));
        assert_eq!(id.len(), ALERT_ID_PREFIX.len() + 7 + 64);
        assert_ne!(id, alert_id(&"y".repeat(5_000)));
    }
}
