//! The first-seen gate: drops a transaction the producer re-sent (same id, new record)
//! before any merchant, product or day key sees it.
//!
//! ## Why per account, on the shard log
//! A re-send carries the same account, the stream's partition key, so it lands in the
//! same shard as the original, after it. The gate therefore remembers ids per account in
//! a shard-log store of its own (operator [`GATE_OPERATOR`]): one S3 object and one
//! checkpoint per batch, whatever the number of accounts. Remembering them per merchant
//! or product key instead ([`crate::dedupe::RecentIds`], the DynamoDB backend's way) caps
//! what a busy key can hold (6,000 ids: about 10 transactions a second per merchant over
//! the 10-minute horizon), made that list most of a merchant item's bytes, rewritten by
//! every commit, and rules out merchant or product buckets (one bucket's list would
//! overflow within seconds). An account rarely makes more than a few transactions in 10
//! minutes, so its memory is small and catches every re-send within the horizon.
//!
//! ## Why the decision survives any crash
//! Each id is remembered with the sequence number of the record that first carried it.
//! A record is admitted iff its id is unknown, or known *from this very record*: a
//! re-delivery of the original (after a crash, a throttled commit, a partial failure) is
//! admitted again, a re-send never is. Decisions are thus a function of the stream, not of
//! when the gate's state was made durable, so the gate commits before the processors run
//! and they keep their own exactly-once high-water marks: a crash between the two only
//! repeats decisions already taken.
//!
//! Records the codec refuses pass through untouched: the processors dead-letter them with
//! their reason. They are never remembered, so a valid record with the same id counts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use shardwise::codec::Codec;
use shardwise::shards::{ShardDirectory, ShardParents};
use shardwise::sketch::hash::hash64;
use shardwise::store::{CommitResult, KeyCommit, StateStore, StoredState};
use shardwise::{Error, batch};

use crate::dedupe::{forget_stale, push_capped};
use crate::txn::TxnCodec;

/// The gate's operator name: its checkpoints, objects (`shardwise-state/<name>/…`) and
/// item keys (`<name>#<account>`).
pub const GATE_OPERATOR: &str = "daily-totals-ids";
/// Most ids remembered per account (the oldest go first).
pub const MAX_IDS_PER_ACCOUNT: usize = 1_000;

const ID_SEED: u64 = 0x6465_6475;
const SEQUENCE_SEED: u64 = 0x7365_7175;
/// Bytes of one packed entry: id hash (u64), first sequence's hash (u64), arrival second
/// (u32), little endian.
const ENTRY_BYTES: usize = 20;

/// One id an account's records carried: its hash, the hash of the sequence number of the
/// record that first carried it, and that record's arrival second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    id: u64,
    first_sequence: u64,
    arrival_second: i64,
}

/// The ids one account's records carried recently (arrival order), packed into one base64
/// string in the state body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstSeen(Vec<Seen>);

impl FirstSeen {
    /// Whether the record `sequence` carrying `id`, arrived at `arrival_ms`, is the id's
    /// first: true for an unknown id (now remembered with `sequence`) and for the record
    /// that first carried it (a re-delivery); false for a re-send.
    pub fn admit(&mut self, id: &str, sequence: &str, arrival_ms: i64) -> bool {
        let id = hash64(ID_SEED, id.as_bytes());
        let first_sequence = hash64(SEQUENCE_SEED, sequence.as_bytes());
        forget_stale(&mut self.0, arrival_ms, |s| s.arrival_second);
        if let Some(seen) = self.0.iter().find(|s| s.id == id) {
            return seen.first_sequence == first_sequence;
        }
        let seen = Seen {
            id,
            first_sequence,
            arrival_second: arrival_ms.div_euclid(1000),
        };
        push_capped(&mut self.0, seen, MAX_IDS_PER_ACCOUNT);
        true
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for FirstSeen {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut packed = Vec::with_capacity(self.0.len() * ENTRY_BYTES);
        for s in &self.0 {
            packed.extend_from_slice(&s.id.to_le_bytes());
            packed.extend_from_slice(&s.first_sequence.to_le_bytes());
            // Arrival seconds since the epoch fit u32 until 2106.
            let second = u32::try_from(s.arrival_second.max(0)).unwrap_or(u32::MAX);
            packed.extend_from_slice(&second.to_le_bytes());
        }
        serializer.serialize_str(&BASE64.encode(packed))
    }
}

impl<'de> Deserialize<'de> for FirstSeen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let packed = BASE64.decode(text).map_err(serde::de::Error::custom)?;
        if packed.len() % ENTRY_BYTES != 0 {
            return Err(serde::de::Error::custom(format!(
                "first-seen ids: {} bytes is not a whole number of entries",
                packed.len()
            )));
        }
        let u64_at = |entry: &[u8], at: usize| {
            entry
                .get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        let entries = packed
            .chunks_exact(ENTRY_BYTES)
            .map(|entry| Seen {
                id: u64_at(entry, 0),
                first_sequence: u64_at(entry, 8),
                arrival_second: entry
                    .get(16..20)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, |b| i64::from(u32::from_le_bytes(b))),
            })
            .collect();
        Ok(Self(entries))
    }
}

/// What the gate let through of one batch.
#[derive(Debug)]
pub struct Admitted {
    /// The batch without its re-sends (in order; malformed records kept); `None` when it
    /// had none (the batch as it came).
    pub event: Option<KinesisEvent>,
    /// Re-sends dropped.
    pub resends: usize,
}

/// The gate over a shard-scoped store (a [`shardwise::shard_log::ShardLogStore`] for
/// [`GATE_OPERATOR`]).
#[derive(Debug)]
pub struct FirstSeenGate<G> {
    store: Arc<G>,
    codec: TxnCodec,
    shards: Option<Arc<dyn ShardDirectory>>,
}

impl<G: StateStore> FirstSeenGate<G> {
    /// A gate keeping its memory in `store`, reading ids with `codec`.
    pub fn new(store: Arc<G>, codec: TxnCodec) -> Self {
        Self {
            store,
            codec,
            shards: None,
        }
    }

    /// The stream's shard directory: a shard new after a reshard starts from its parents'
    /// memory (a re-send may straddle the split), as the processors' state does.
    #[must_use]
    pub fn with_shard_directory(mut self, shards: Arc<dyn ShardDirectory>) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Decides every record of `event` and makes the decisions durable before returning
    /// the batch without its re-sends. An error means nothing was decided durably: the
    /// caller must have the batch re-delivered.
    pub async fn admit(&self, event: &KinesisEvent) -> Result<Admitted, Error> {
        let Some(shard) = batch::shard_of(event) else {
            return Ok(Admitted {
                event: None,
                resends: 0,
            });
        };
        let parents = ShardParents::new(self.shards.as_deref(), batch::source_arn(event));
        self.store.begin_shard(&shard, parents).await?;
        match self.decide(event).await {
            Ok(admitted) => {
                self.store.finish_shard(&shard).await?;
                Ok(admitted)
            }
            Err(e) => {
                self.store.abandon_shard(&shard).await;
                Err(e)
            }
        }
    }

    async fn decide(&self, event: &KinesisEvent) -> Result<Admitted, Error> {
        // (record position, item key, transaction id) of every record the codec accepts.
        let ids: Vec<(usize, String, String)> = event
            .records
            .iter()
            .enumerate()
            .filter_map(|(n, r)| {
                let txn = self.codec.decode(&r.kinesis.data.0).ok()?;
                let key = format!("{GATE_OPERATOR}#{}", r.kinesis.partition_key);
                Some((n, key, txn.transaction_id))
            })
            .collect();
        let keys: Vec<String> = ids
            .iter()
            .map(|(_, k, _)| k.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let stored = self.store.get_many(&keys, true).await?;
        // Per key: the memory as stored, and as the batch leaves it.
        let mut memory: HashMap<&str, (FirstSeen, FirstSeen)> = HashMap::new();
        let mut resent = HashSet::new();
        for (n, key, id) in &ids {
            let (_, seen) = match memory.get_mut(key.as_str()) {
                Some(entry) => entry,
                None => {
                    let stored = match stored.get(key) {
                        Some(s) => {
                            serde_json::from_str(&s.body).map_err(|e| Error::CorruptState {
                                key: key.clone(),
                                reason: e.to_string(),
                            })?
                        }
                        None => FirstSeen::default(),
                    };
                    let entry = (stored.clone(), stored);
                    memory.entry(key.as_str()).or_insert(entry)
                }
            };
            let Some(record) = event.records.get(*n).map(|r| &r.kinesis) else {
                continue;
            };
            let arrival = record.approximate_arrival_timestamp.0.timestamp_millis();
            if !seen.admit(id, &record.sequence_number, arrival) {
                resent.insert(*n);
            }
        }
        // A re-delivered batch changes nothing: no commit, so no log object either.
        for (key, (before, seen)) in memory {
            if seen == before {
                continue;
            }
            let previous = stored.get(key);
            let body = serde_json::to_string(&seen)
                .map_err(|e| Error::Service(format!("encoding first-seen ids: {e}")))?;
            let commit = KeyCommit {
                item_key: key.to_owned(),
                expected_version: previous.map(|s| s.version),
                conditional: true,
                state: StoredState {
                    version: previous.map_or(1, |s| s.version + 1),
                    body,
                    ..StoredState::default()
                },
                outputs: Vec::new(),
                timers: shardwise::timer_store::TimerWrites::default(),
            };
            if self.store.commit(&commit).await? == CommitResult::Conflict {
                return Err(Error::Transient(format!(
                    "{key}: first-seen ids changed under the gate"
                )));
            }
        }
        if resent.is_empty() {
            return Ok(Admitted {
                event: None,
                resends: 0,
            });
        }
        // (`KinesisEvent` is non-exhaustive: built from its default.)
        let mut admitted = KinesisEvent::default();
        admitted.records.extend(
            event
                .records
                .iter()
                .enumerate()
                .filter(|(n, _)| !resent.contains(n))
                .map(|(_, r): (usize, &KinesisEventRecord)| r.clone()),
        );
        Ok(Admitted {
            event: Some(admitted),
            resends: resent.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedupe::DEDUPE_HORIZON_MS;

    #[test]
    fn a_resend_is_refused_and_a_redelivery_of_the_original_is_admitted_again() {
        let mut seen = FirstSeen::default();
        assert!(seen.admit("tx-1", "100", 1_000));
        assert!(!seen.admit("tx-1", "250", 61_000), "re-sent a minute later");
        assert!(
            seen.admit("tx-1", "100", 1_000),
            "the original, re-delivered"
        );
        assert!(seen.admit("tx-2", "300", 62_000));
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn ids_are_forgotten_after_the_horizon_and_capped_per_account() {
        let mut seen = FirstSeen::default();
        assert!(seen.admit("tx-1", "1", 0));
        assert!(
            seen.admit("tx-1", "2", DEDUPE_HORIZON_MS + 2_000),
            "forgotten"
        );
        let mut busy = FirstSeen::default();
        for n in 0..MAX_IDS_PER_ACCOUNT + 5 {
            assert!(busy.admit(&format!("tx-{n}"), &n.to_string(), 5_000));
        }
        assert_eq!(busy.len(), MAX_IDS_PER_ACCOUNT);
    }

    #[test]
    fn the_packed_form_round_trips_and_a_truncated_one_is_refused() {
        let mut seen = FirstSeen::default();
        for n in 0..3 {
            assert!(seen.admit(&format!("tx-{n}"), &format!("4959{n}"), 1_795_219_200_000));
        }
        let json = serde_json::to_string(&seen).unwrap();
        assert!(json.starts_with('"'), "one string: {json}");
        assert_eq!(serde_json::from_str::<FirstSeen>(&json).unwrap(), seen);
        assert!(serde_json::from_str::<FirstSeen>("\"AAAA\"").is_err());
    }
}
