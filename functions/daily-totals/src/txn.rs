//! The event daily-totals works on, and the codec that validates records into it.
//!
//! Records are validated with `monitoring::codec::TransactionCodec` (the same typed
//! reasons as every other function); a refused record is poison and lands in the
//! dead-letter table with the reason's code and text. Only the fields the totals need are kept, in a small serde struct
//! (the framework needs a serde event, and it is what a late event's side-output item
//! carries, so the reconciler can explain each adjustment).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use monitoring::codec::TransactionCodec;
use monitoring::validate::Validator;
use serde::{Deserialize, Serialize};
use shardwise::codec::Codec;
use shardwise::{Clock, Error, EventTime};

/// One validated transaction, reduced to what the totals need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Transaction id (duplicates re-send the same id).
    pub transaction_id: String,
    /// Account (the stream's partition key).
    pub account_id: String,
    /// Merchant paid.
    pub merchant_id: String,
    /// Product bought.
    pub product_id: String,
    /// Amount in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Event time, epoch ms (UTC).
    pub event_time_ms: i64,
}

impl Txn {
    /// The event time.
    pub fn event_time(&self) -> EventTime {
        EventTime(self.event_time_ms)
    }

    /// The UTC day of the event, `YYYY-MM-DD`.
    pub fn day(&self) -> String {
        day_of(self.event_time_ms)
    }
}

/// The UTC day of an epoch-ms time, `YYYY-MM-DD`.
pub fn day_of(ms: i64) -> String {
    let text = monitoring::format_event_time(ms);
    text.get(..10).unwrap_or(&text).to_owned()
}

/// Validates record bytes into [`Txn`]s with the shared
/// [`TransactionCodec`](monitoring::codec::TransactionCodec) (so every function agrees on
/// what is malformed and why), then keeps the fields the totals need.
///
/// Clones share one memo of the records decoded in the current batch: the first-seen gate
/// and the three processors each decode every record of a batch, and validating a record
/// (a JSON parse and a dozen field checks) four times was ~15% of daily-totals' CPU in the
/// pipeline benchmark (perf). The handler clears the memo around each batch
/// ([`TxnCodec::forget`]); a record the validator refuses is not remembered (it is rare,
/// and its error is re-created each time).
#[derive(Debug, Clone)]
pub struct TxnCodec {
    inner: TransactionCodec,
    memo: Arc<Mutex<HashMap<Box<[u8]>, Txn>>>,
}

impl TxnCodec {
    /// A codec with the default validator against `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: TransactionCodec::new(Validator::default(), clock),
            memo: Arc::default(),
        }
    }

    /// Forgets the records decoded so far (by any clone).
    pub fn forget(&self) {
        if let Ok(mut memo) = self.memo.lock() {
            memo.clear();
        }
    }

    /// Records remembered.
    pub fn remembered(&self) -> usize {
        self.memo.lock().map_or(0, |m| m.len())
    }

    fn validate(&self, bytes: &[u8]) -> Result<Txn, Error> {
        let t = self.inner.decode(bytes)?;
        Ok(Txn {
            transaction_id: t.transaction_id.as_str().to_owned(),
            account_id: t.account_id.as_str().to_owned(),
            merchant_id: t.merchant_id.as_str().to_owned(),
            product_id: t.product_id.as_str().to_owned(),
            amount_minor: t.amount.minor,
            currency: t.amount.currency.code().to_owned(),
            event_time_ms: t.event_time.millis(),
        })
    }
}

impl Codec<Txn> for TxnCodec {
    fn decode(&self, bytes: &[u8]) -> Result<Txn, Error> {
        if let Some(txn) = self.memo.lock().ok().and_then(|m| m.get(bytes).cloned()) {
            return Ok(txn);
        }
        let txn = self.validate(bytes)?;
        if let Ok(mut memo) = self.memo.lock() {
            memo.insert(bytes.into(), txn.clone());
        }
        Ok(txn)
    }
}

#[cfg(test)]
mod tests {
    use shardwise::{EventTime, ManualClock};

    use super::*;

    #[test]
    fn clones_share_one_memo_that_keeps_valid_records_until_forgotten() {
        let codec = TxnCodec::new(Arc::new(ManualClock::new(EventTime(1_795_400_000_000))));
        let generated = monitoring::generator::generate(&monitoring::generator::GeneratorConfig {
            transactions: 3,
            malformed_rate: 0.0,
            duplicate_rate: 0.0,
            late_events: false,
            ..monitoring::generator::GeneratorConfig::default()
        })
        .unwrap();
        let record = generated.records().next().unwrap();
        let first = codec.decode(&record.data).unwrap();
        let clone = codec.clone();
        assert_eq!(clone.remembered(), 1);
        assert_eq!(clone.decode(&record.data).unwrap(), first);
        assert!(codec.decode(b"{not json").is_err());
        assert!(clone.decode(b"{not json").is_err(), "refused every time");
        assert_eq!(codec.remembered(), 1, "a refused record is not remembered");
        clone.forget();
        assert_eq!(codec.remembered(), 0);
        assert_eq!(codec.decode(&record.data).unwrap(), first);
    }
}
