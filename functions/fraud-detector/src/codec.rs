//! Decoding with validation: record bytes → a validated [`FraudEvent`], or
//! [`Error::InvalidRecord`] carrying the `monitoring` rejection reason, so a malformed
//! record lands in the dead-letter table with its bytes and a readable reason
//! (`invalid record: missing field `device_id``) and the shard keeps moving.

use std::sync::Arc;

use monitoring::model::Transaction;
use monitoring::validate::Validator;
use serde::{Deserialize, Deserializer};
use shardwise::{Clock, Codec, Error};

/// A validated transaction: the detector's event type.
#[derive(Debug, Clone, PartialEq)]
pub struct FraudEvent(pub Transaction);

/// Runs `monitoring::validate` against the injected clock's "now" (which bounds how far
/// in the future an event time may lie).
#[derive(Debug, Clone)]
pub struct ValidatingCodec {
    validator: Validator,
    clock: Arc<dyn Clock>,
}

impl ValidatingCodec {
    /// A codec with the default validator (five minutes of allowed clock skew).
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            validator: Validator::default(),
            clock,
        }
    }
}

impl Codec<FraudEvent> for ValidatingCodec {
    fn decode(&self, bytes: &[u8]) -> Result<FraudEvent, Error> {
        self.validator
            .validate(bytes, self.clock.now().0)
            .map(FraudEvent)
            .map_err(|reason| Error::InvalidRecord(reason.to_string()))
    }
}

/// For codecs that go through serde (`shardwise::JsonCodec`, which `run_kinesis` uses):
/// the same validation except the future-time check, which needs a clock serde does not
/// have. A failed check surfaces as `Error::Decode` with the rejection reason verbatim;
/// bytes that are not JSON get serde_json's message instead of `malformed JSON: …`.
impl<'de> Deserialize<'de> for FraudEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let bytes = serde_json::to_vec(&value).map_err(serde::de::Error::custom)?;
        Validator::default()
            .validate(&bytes, i64::MAX)
            .map(FraudEvent)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use shardwise::ManualClock;

    use super::*;

    const GOOD: &str = r#"{"transaction_id":"tx-1","account_id":"acc-1","card_id":"card-1",
        "merchant_id":"m-1","mcc":"5411","product_id":"p-1","amount_minor":1250,
        "currency":"EUR","event_time":"2026-11-21T08:15:02.113Z","country":"DE",
        "lat":52.5,"lon":13.4,"device_id":"dev-1","channel":"pos"}"#;
    const NOW: i64 = 1_795_248_902_113; // 2026-11-21T08:15:02.113Z

    fn codec() -> ValidatingCodec {
        ValidatingCodec::new(Arc::new(ManualClock::new(shardwise::EventTime(NOW))))
    }

    #[test]
    fn a_valid_record_decodes_to_its_transaction() {
        let FraudEvent(tx) = codec().decode(GOOD.as_bytes()).unwrap();
        assert_eq!(tx.amount.minor, 1250);
        assert_eq!(tx.account_id.as_str(), "acc-1");
    }

    #[test]
    fn a_malformed_record_is_invalid_with_the_rejection_reason_text() {
        let bad = GOOD.replace(r#""channel":"pos""#, r#""channel":"fax""#);
        let err = codec().decode(bad.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::InvalidRecord(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "invalid record: unknown channel `fax` (expected pos, ecommerce, atm or mobile)"
        );
        let err = codec().decode(b"{\"transaction_id\":").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid record: malformed JSON: input ends before the value is complete"
        );
        let future = GOOD.replace("08:15:02", "09:15:02");
        assert!(
            codec()
                .decode(future.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("too far ahead")
        );
    }

    #[test]
    fn serde_decoding_validates_too() {
        let ok: FraudEvent = serde_json::from_str(GOOD).unwrap();
        assert_eq!(ok.0.device_id.as_str(), "dev-1");
        let bad = GOOD.replace("1250", "-5");
        let err = serde_json::from_str::<FraudEvent>(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "non-positive amount -5 (amounts are positive minor units)"
        );
    }
}
