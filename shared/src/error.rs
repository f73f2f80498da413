//! The crate's one error type, classified for retry decisions.
//!
//! Like Arroyo's errors, each variant says whose fault it is and what to do:
//! - [`RetryClass::Retryable`]: transient (throttling, timeouts, conflicts, service
//!   errors). The record and everything after it in its shard is reported in
//!   `batchItemFailures` and re-delivered.
//! - [`RetryClass::Poison`]: the record itself is bad (undecodable, invalid, or its
//!   effect does not fit in an item). It goes to the dead-letter table and counts as
//!   processed, so the shard keeps moving.
//! - [`RetryClass::Fatal`]: configuration or programming errors; the invocation fails.

use thiserror::Error as ThisError;

/// How a failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Try again later (the record is re-delivered).
    Retryable,
    /// Dead-letter the record and move on.
    Poison,
    /// Fail the invocation.
    Fatal,
}

/// Every failure the framework reports.
#[derive(Debug, ThisError)]
pub enum Error {
    /// The record's bytes could not be decoded into the operator's event type.
    #[error("cannot decode record: {0}")]
    Decode(String),
    /// The record is malformed (bad sequence number, missing shard) or failed validation.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Applying the record would make the key's state item exceed the size limit.
    #[error("state for key {key:?} would be {bytes} bytes, over the {limit}-byte item limit")]
    StateTooLarge {
        /// The state key.
        key: String,
        /// The serialized size the state would have had.
        bytes: usize,
        /// The configured limit.
        limit: usize,
    },
    /// DynamoDB (or another service) throttled the request.
    #[error("throttled: {0}")]
    Throttled(String),
    /// A transient service failure (timeouts, 5xx, transaction conflicts).
    #[error("transient service error: {0}")]
    Transient(String),
    /// The operator asked for the record to be retried later.
    #[error("operator asked to retry: {0}")]
    OperatorRetry(String),
    /// Stored state could not be read back (written by an incompatible version).
    #[error("corrupt stored state for {key:?}: {reason}")]
    CorruptState {
        /// The item's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Configuration is missing or invalid.
    #[error("configuration error: {0}")]
    Config(String),
    /// A non-retryable service error (validation, access denied, missing table).
    #[error("service error: {0}")]
    Service(String),
}

impl Error {
    /// The retry classification of this error.
    pub fn class(&self) -> RetryClass {
        match self {
            Self::Decode(_) | Self::InvalidRecord(_) | Self::StateTooLarge { .. } => {
                RetryClass::Poison
            }
            Self::Throttled(_) | Self::Transient(_) | Self::OperatorRetry(_) => {
                RetryClass::Retryable
            }
            Self::CorruptState { .. } | Self::Config(_) | Self::Service(_) => RetryClass::Fatal,
        }
    }

    /// True for throttling, which is retried in place with jittered backoff.
    pub fn is_throttle(&self) -> bool {
        matches!(self, Self::Throttled(_))
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    /// At the edge, a failed invocation carries the retry class as its error type, so
    /// logs and OnFailure records say whether retrying can help.
    fn from(err: Error) -> Self {
        let class = match err.class() {
            RetryClass::Retryable => "Shardwise.Retryable",
            RetryClass::Poison => "Shardwise.Poison",
            RetryClass::Fatal => "Shardwise.Fatal",
        };
        Self {
            error_type: class.to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_whose_fault_they_are() {
        assert_eq!(Error::Decode("x".into()).class(), RetryClass::Poison);
        assert_eq!(Error::Throttled("x".into()).class(), RetryClass::Retryable);
        assert_eq!(Error::Config("x".into()).class(), RetryClass::Fatal);
        assert!(Error::Throttled("x".into()).is_throttle());
        assert!(!Error::Transient("x".into()).is_throttle());
    }
}
