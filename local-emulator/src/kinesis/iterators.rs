//! Shard iterators: opaque tokens and GetShardIterator.
//!
//! A token is base64 of a self-describing text
//! `swk1|<stream>|<epoch>|<shard>|<position>|<issued ms>`: everything GetRecords needs,
//! so iterators hold no server-side state and stay valid across resharding of other
//! shards. The stream epoch makes iterators of a deleted-and-recreated stream invalid.
//! Iterators expire five minutes after issue by the emulator clock
//! (`ExpiredIteratorException`); anything that does not decode is an
//! `InvalidArgumentException`, never a 500.

use base64::Engine as _;
use serde_json::{Value, json};

use super::Kinesis;
use super::input::{Input, KResult, check_name, invalid_argument, is_decimal, validation};
use super::records::SEQUENCE_PATTERN;
use super::sequence::SequenceNumber;
use super::stream::parse_shard_id;

/// How long an iterator stays valid after it was issued.
pub(crate) const ITERATOR_TTL_MILLIS: u64 = 5 * 60 * 1000;
/// Version tag of the token format.
const TOKEN_MAGIC: &str = "swk1";

/// A decoded iterator: where to read next, and when the token was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShardIterator {
    pub(crate) stream: String,
    pub(crate) epoch: u64,
    pub(crate) shard: u32,
    pub(crate) position: u64,
    pub(crate) issued_millis: u64,
}

impl ShardIterator {
    /// The opaque token.
    pub(crate) fn encode(&self) -> String {
        let text = format!(
            "{TOKEN_MAGIC}|{}|{}|{}|{}|{}",
            self.stream, self.epoch, self.shard, self.position, self.issued_millis
        );
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// Decodes a token; `None` for anything this emulator did not issue.
    pub(crate) fn decode(token: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split('|');
        if parts.next()? != TOKEN_MAGIC {
            return None;
        }
        let it = Self {
            stream: parts.next()?.to_owned(),
            epoch: parts.next()?.parse().ok()?,
            shard: parts.next()?.parse().ok()?,
            position: parts.next()?.parse().ok()?,
            issued_millis: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(it)
    }
}

/// `ShardIteratorType` values.
const ITERATOR_TYPES: &str =
    "[AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]";

impl Kinesis {
    pub(super) fn get_shard_iterator(&self, input: &Input<'_>) -> KResult<Value> {
        let shard_name = input.str("ShardId")?;
        check_name(shard_name, "shardId")?;
        let kind = input.str("ShardIteratorType")?;
        if !matches!(
            kind,
            "AFTER_SEQUENCE_NUMBER"
                | "AT_SEQUENCE_NUMBER"
                | "AT_TIMESTAMP"
                | "TRIM_HORIZON"
                | "LATEST"
        ) {
            return Err(validation(
                kind,
                "shardIteratorType",
                &format!("Member must satisfy enum value set: {ITERATOR_TYPES}"),
            ));
        }
        let starting = input.opt_str("StartingSequenceNumber")?;
        if let Some(s) = starting
            && !is_decimal(s, 129)
        {
            return Err(validation(
                s,
                "startingSequenceNumber",
                &format!("Member must satisfy regular expression pattern: {SEQUENCE_PATTERN}"),
            ));
        }
        let timestamp = input.opt_timestamp_millis("Timestamp")?;
        let stream = self.stream(input)?;
        let index = parse_shard_id(shard_name)
            .ok_or_else(|| self.shard_not_found(&stream.name, shard_name))?;
        let now = self.now_millis();
        let state = stream.read();
        let entry = state
            .entry(index)
            .filter(|e| state.is_visible(e, now))
            .ok_or_else(|| self.shard_not_found(&stream.name, shard_name))?;
        let mut log = entry.shard.lock();
        log.trim(state.horizon(now));
        let position = match kind {
            "TRIM_HORIZON" => log.first_position(),
            "LATEST" => log.next_position(),
            "AT_TIMESTAMP" => {
                let ts = timestamp.ok_or_else(|| {
                    invalid_argument(
                        "Must specify timestampInMillis parameter for iterator of type \
                         AT_TIMESTAMP. Current request has no timestamp parameter.",
                    )
                })?;
                log.position_at_time(ts)
            }
            _ => {
                let text = starting.ok_or_else(|| {
                    invalid_argument(format!(
                        "Must specify StartingSequenceNumber for iterator of type {kind}."
                    ))
                })?;
                let end = log.next_position();
                let seq = SequenceNumber::parse(text)
                    .filter(|s| s.epoch == stream.epoch && s.shard == index && s.position <= end)
                    .ok_or_else(|| {
                        invalid_argument(format!(
                            "StartingSequenceNumber {text} used in GetShardIterator on shard \
                             {shard_name} in stream {} under account {} is invalid because it \
                             did not come from this stream.",
                            stream.name, self.account_id
                        ))
                    })?;
                if kind == "AFTER_SEQUENCE_NUMBER" {
                    (seq.position + 1).min(end)
                } else {
                    seq.position
                }
            }
        };
        drop(log);
        let it = ShardIterator {
            stream: stream.name.clone(),
            epoch: stream.epoch,
            shard: index,
            position,
            issued_millis: now,
        };
        Ok(json!({ "ShardIterator": it.encode() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterators_round_trip() {
        let it = ShardIterator {
            stream: "orders.v1".into(),
            epoch: 17,
            shard: 3,
            position: 99,
            issued_millis: 1_700_000_000_000,
        };
        assert_eq!(ShardIterator::decode(&it.encode()), Some(it));
    }

    #[test]
    fn garbage_tokens_do_not_decode() {
        for token in ["", "!!!", "aGVsbG8=", "c3drMXxhfGJ8Y3xkfGU="] {
            assert_eq!(ShardIterator::decode(token), None, "{token}");
        }
    }
}
