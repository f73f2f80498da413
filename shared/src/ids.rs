//! Identifier newtypes: shard ids, sequence numbers, partition keys, event times.
//!
//! Kinesis sequence numbers are decimal strings of up to 129 digits (pattern
//! `0|([1-9]\d{0,128})`), far beyond any integer type and DynamoDB's 38-digit `N`.
//! They are compared numerically (length, then lexicographically, after dropping
//! leading zeros) and stored zero-padded to [`SEQUENCE_DIGITS`] so that the stored
//! strings' byte order equals numeric order.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Width of a stored (zero-padded) sequence number.
pub const SEQUENCE_DIGITS: usize = 129;

/// A Kinesis shard id such as `shardId-000000000001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShardId(pub String);

impl ShardId {
    /// The shard id of a Lambda Kinesis record: the part of `eventID`
    /// (`shardId-000000000006:4959…`) before the colon.
    pub fn from_event_id(event_id: &str) -> Option<Self> {
        let (shard, _) = event_id.split_once(':')?;
        (!shard.is_empty()).then(|| Self(shard.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Kinesis sequence number, normalized without leading zeros; ordered numerically.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// Parses a decimal sequence number (leading zeros allowed, as in stored form).
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.is_empty()
            || text.len() > SEQUENCE_DIGITS
            || !text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::InvalidRecord(format!(
                "bad sequence number {text:?}"
            )));
        }
        let trimmed = text.trim_start_matches('0');
        Ok(Self(if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        }))
    }

    /// The canonical decimal form (as Kinesis sends it).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored form: zero-padded to [`SEQUENCE_DIGITS`] digits.
    pub fn padded(&self) -> String {
        format!("{:0>width$}", self.0, width = SEQUENCE_DIGITS)
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        // Both are normalized (no leading zeros), so a longer string is a larger number.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Kinesis partition key as the producer set it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionKey(pub String);

/// A point in time in epoch milliseconds (event time or processing time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventTime(pub i64);

impl EventTime {
    /// Before every real time (the watermark before any event was seen).
    pub const MIN: Self = Self(i64::MIN);
    /// After every real time (the watermark at the end of a bounded input).
    pub const MAX: Self = Self(i64::MAX);

    /// Epoch seconds (DynamoDB's TTL unit), rounded down.
    pub fn epoch_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_numerically_not_as_strings() {
        let nine = SequenceNumber::parse("9").unwrap();
        let ten = SequenceNumber::parse("10").unwrap();
        assert!(nine < ten);
        let big = SequenceNumber::parse(&"9".repeat(129)).unwrap();
        assert!(ten < big);
    }

    #[test]
    fn padded_sequence_numbers_sort_like_their_values_and_round_trip() {
        let a = SequenceNumber::parse("99").unwrap();
        let b = SequenceNumber::parse("100").unwrap();
        assert_eq!(a.padded().len(), SEQUENCE_DIGITS);
        assert!(a.padded() < b.padded());
        assert_eq!(SequenceNumber::parse(&b.padded()).unwrap(), b);
    }

    #[test]
    fn malformed_sequence_numbers_are_rejected() {
        assert!(SequenceNumber::parse("").is_err());
        assert!(SequenceNumber::parse("12a").is_err());
        assert!(SequenceNumber::parse(&"1".repeat(130)).is_err());
    }

    #[test]
    fn shard_id_comes_from_the_event_id_prefix() {
        let id = ShardId::from_event_id("shardId-000000000006:4959").unwrap();
        assert_eq!(id.as_str(), "shardId-000000000006");
        assert!(ShardId::from_event_id("no-colon").is_none());
    }
}
