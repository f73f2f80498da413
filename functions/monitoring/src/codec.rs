//! The transactions stream's record codec for shardwise operators: bytes → a validated
//! [`Transaction`], or a poison error whose text is the typed rejection reason (so the
//! dead-letter table says *why*, e.g. `non_positive_amount: …`).
//!
//! Every stream function decodes with it, so they agree on what is malformed.

use std::sync::Arc;

use shardwise::{Clock, Codec, Error, SystemClock};

use crate::model::Transaction;
use crate::validate::Validator;

/// Decodes and validates transaction records against the injected clock (validation
/// rejects event times too far in the future).
#[derive(Clone)]
pub struct TransactionCodec {
    validator: Validator,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TransactionCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionCodec")
            .field("validator", &self.validator)
            .finish_non_exhaustive()
    }
}

impl Default for TransactionCodec {
    fn default() -> Self {
        Self::new(Validator::default(), Arc::new(SystemClock))
    }
}

impl TransactionCodec {
    /// A codec with `validator`'s settings and `clock` as processing time.
    pub fn new(validator: Validator, clock: Arc<dyn Clock>) -> Self {
        Self { validator, clock }
    }
}

impl Codec<Transaction> for TransactionCodec {
    fn decode(&self, bytes: &[u8]) -> Result<Transaction, Error> {
        self.validator
            .validate(bytes, self.clock.now().0)
            .map_err(|reason| Error::InvalidRecord(format!("{}: {reason}", reason.code())))
    }
}

#[cfg(test)]
mod tests {
    use shardwise::{ManualClock, RetryClass};

    use super::*;

    #[test]
    fn malformed_records_become_poison_errors_that_name_the_reason() {
        let codec = TransactionCodec::new(
            Validator::default(),
            Arc::new(ManualClock::new(shardwise::EventTime(0))),
        );
        let err = codec.decode(b"{not json").unwrap_err();
        assert_eq!(err.class(), RetryClass::Poison);
        assert!(err.to_string().contains("malformed_json"), "{err}");
    }
}
