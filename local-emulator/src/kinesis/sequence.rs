//! Sequence numbers that look and order like AWS's.
//!
//! AWS sequence numbers are ~56-digit decimal strings that grow over time within a
//! shard; consumers (and our framework's exactly-once store) compare them numerically.
//! Ours are exactly 56 digits, so numeric order equals string order:
//!
//! ```text
//! 49 | stream epoch (20 digits) | shard index (10 digits) | position in shard (24 digits)
//! ```
//!
//! - The *stream epoch* is unique per stream incarnation and grows with creation time,
//!   so a deleted and re-created stream never reissues old numbers.
//! - The *shard index* sits above the position, so every number of a child shard
//!   (always a higher index) is greater than every number of its parents, as on AWS.
//! - The *position* is the record's 0-based offset in the shard's log: strictly
//!   increasing and unique within the shard, and it locates the record in O(1).

use std::fmt;

/// Leading digits of every sequence number (AWS's also start with `49`).
const PREFIX: &str = "49";
const EPOCH_DIGITS: usize = 20;
const SHARD_DIGITS: usize = 10;
const POSITION_DIGITS: usize = 24;
/// Total length of every sequence number the emulator issues.
pub(crate) const SEQUENCE_DIGITS: usize = 2 + EPOCH_DIGITS + SHARD_DIGITS + POSITION_DIGITS;

/// A decoded sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SequenceNumber {
    /// Stream incarnation.
    pub(crate) epoch: u64,
    /// Shard index (the number in `shardId-000000000007`).
    pub(crate) shard: u32,
    /// Offset of the record in the shard's log.
    pub(crate) position: u64,
}

impl SequenceNumber {
    /// Decodes a number this emulator issued; `None` for anything else (which may still
    /// be a syntactically valid sequence number from elsewhere).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.len() != SEQUENCE_DIGITS
            || !text.starts_with(PREFIX)
            || !text.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let epoch_end = PREFIX.len() + EPOCH_DIGITS;
        let shard_end = epoch_end + SHARD_DIGITS;
        Some(Self {
            epoch: text.get(PREFIX.len()..epoch_end)?.parse().ok()?,
            shard: text.get(epoch_end..shard_end)?.parse().ok()?,
            position: text.get(shard_end..)?.parse().ok()?,
        })
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}{:0ew$}{:0sw$}{:0pw$}",
            self.epoch,
            self.shard,
            self.position,
            ew = EPOCH_DIGITS,
            sw = SHARD_DIGITS,
            pw = POSITION_DIGITS
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_round_trip_and_have_56_digits() {
        let n = SequenceNumber {
            epoch: 1_763_000_000_000,
            shard: 7,
            position: 42,
        };
        let text = n.to_string();
        assert_eq!(text.len(), 56);
        assert_eq!(SequenceNumber::parse(&text), Some(n));
    }

    #[test]
    fn string_order_equals_numeric_order_across_positions_and_child_shards() {
        let a = SequenceNumber {
            epoch: 5,
            shard: 0,
            position: 999,
        };
        let b = SequenceNumber {
            epoch: 5,
            shard: 0,
            position: 1_000,
        };
        let child = SequenceNumber {
            epoch: 5,
            shard: 1,
            position: 0,
        };
        assert!(a.to_string() < b.to_string());
        assert!(b.to_string() < child.to_string());
    }

    #[test]
    fn foreign_numbers_do_not_parse() {
        assert_eq!(SequenceNumber::parse("1"), None);
        assert_eq!(SequenceNumber::parse(&"5".repeat(56)), None);
    }
}
