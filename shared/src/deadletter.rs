//! Dead letters: poison records (undecodable, invalid, or too large to fold into the
//! state) are written with their original bytes, shard, sequence number, error and
//! time, then count as processed, so nothing is lost and the shard keeps moving.
//!
//! The id is deterministic (`operator#shard#sequence`), so a re-delivered poison record
//! overwrites its own dead letter instead of adding a second one.
//!
//! A timer whose callback fails for good (a poison error from `on_timer`) is dead-lettered
//! too, by [`timer_dead_letter`]: an item in the same table, id
//! `operator#timer#<domain>#<time>#<key>`, with the key, the timer, the error and the
//! key's state at the time (its "bytes"), committed in the same transaction that deletes
//! the timer, so it is written exactly once and the key's other timers keep firing.

use serde_json::json;

use crate::error::Error;
use crate::ids::{EventTime, SequenceNumber, ShardId};
use crate::operator::{TimeDomain, Timer};
use crate::store::{OutputItem, OutputTable};
use crate::timer_callback::timer_origin;

/// Dead-letter table attribute: the partition key.
pub const ATTR_DL_PK: &str = "pk";
/// Dead-letter attribute: the operator name.
pub const ATTR_DL_OPERATOR: &str = "operator";
/// Dead-letter attribute: the shard id.
pub const ATTR_DL_SHARD: &str = "shard_id";
/// Dead-letter attribute: the sequence number (canonical decimal).
pub const ATTR_DL_SEQUENCE: &str = "sequence_number";
/// Dead-letter attribute: the partition key of the record.
pub const ATTR_DL_PARTITION_KEY: &str = "partition_key";
/// Dead-letter attribute: the original record bytes (B).
pub const ATTR_DL_DATA: &str = "data";
/// Dead-letter attribute: the error text.
pub const ATTR_DL_ERROR: &str = "error";
/// Dead-letter attribute: when it was dead-lettered (epoch ms, N).
pub const ATTR_DL_AT: &str = "dead_lettered_at";

/// A poison record on its way to the dead-letter table.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The operator that could not process it.
    pub operator: String,
    /// Its shard.
    pub shard: ShardId,
    /// Its sequence number.
    pub sequence: SequenceNumber,
    /// Its partition key.
    pub partition_key: String,
    /// The original record data, byte for byte.
    pub data: Vec<u8>,
    /// Why it was rejected.
    pub error: String,
    /// When.
    pub at: EventTime,
}

impl DeadLetter {
    /// Builds a dead letter for a record that failed with `error`.
    pub fn new(
        operator: &str,
        shard: &ShardId,
        sequence: &SequenceNumber,
        partition_key: &str,
        data: &[u8],
        error: &Error,
        at: EventTime,
    ) -> Self {
        Self {
            operator: operator.to_owned(),
            shard: shard.clone(),
            sequence: sequence.clone(),
            partition_key: partition_key.to_owned(),
            data: data.to_vec(),
            error: error.to_string(),
            at,
        }
    }

    /// The deterministic id.
    pub fn id(&self) -> String {
        format!(
            "{}#{}#{}",
            self.operator,
            self.shard,
            self.sequence.padded()
        )
    }
}

/// The dead letter of `operator`'s timer on `key` whose callback failed with `error`;
/// `state` is the key's stored state, kept unchanged.
pub fn timer_dead_letter(
    operator: &str,
    key: &str,
    timer: Timer,
    error: &Error,
    at: EventTime,
    state: &str,
) -> OutputItem {
    let domain = match timer.domain {
        TimeDomain::Processing => "processing",
        TimeDomain::Event => "event",
    };
    OutputItem {
        table: OutputTable::DeadLetters,
        pk: format!("{operator}#{}", timer_origin(key, timer)),
        sk: operator.to_owned(),
        key: key.to_owned(),
        body: json!({
            ATTR_DL_OPERATOR: operator,
            "timer_domain": domain,
            "timer_time": timer.time.0,
            ATTR_DL_ERROR: error.to_string(),
            ATTR_DL_AT: at.0,
            "state": state,
        })
        .to_string(),
    }
}
