//! The event daily-totals works on, and the codec that validates records into it.
//!
//! Records are validated with `monitoring::codec::TransactionCodec` (the same typed
//! reasons as every other function); a refused record is poison and lands in the
//! dead-letter table with the reason's code and text. Only the fields the totals need are kept, in a small serde struct
//! (the framework needs a serde event, and it is what a late event's side-output item
//! carries, so the reconciler can explain each adjustment).

use std::sync::Arc;

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
#[derive(Debug, Clone)]
pub struct TxnCodec(TransactionCodec);

impl TxnCodec {
    /// A codec with the default validator against `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self(TransactionCodec::new(Validator::default(), clock))
    }
}

impl Codec<Txn> for TxnCodec {
    fn decode(&self, bytes: &[u8]) -> Result<Txn, Error> {
        let t = self.0.decode(bytes)?;
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
