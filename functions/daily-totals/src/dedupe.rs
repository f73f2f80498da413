//! Bounded memory of recently seen transaction ids, so a duplicate transaction (the
//! same id re-sent by the producer, e.g. 1–120 s later in the generator) is counted once.
//!
//! Kinesis redelivery is already handled by the framework's per-shard high-water marks;
//! this is about the *producer* sending the same transaction twice as two records.
//!
//! ## The bound
//! An id is remembered for [`DEDUPE_HORIZON_MS`] of *arrival* time (Kinesis'
//! `ApproximateArrivalTimestamp`, deterministic on replay) after the last record of
//! the key, and at most [`MAX_REMEMBERED`] ids per key are kept (the oldest go first).
//! Ids are stored as 64-bit hashes with their arrival second, packed into one base64
//! string (12 bytes → 16 characters each, ≤ ~96 KB at the cap, inside the 350 KB state
//! budget). The list is most of a busy key's state item, which every commit rewrites
//! whole: as a JSON array of pairs it was ~33 bytes an entry, and decoding its integers
//! was the largest item of daily-totals' profile in the pipeline benchmark. The array
//! form is still read. Arrival time rather than event
//! time, because a duplicate of a late event has an old event time but arrives right
//! after the original. A duplicate is therefore caught when it arrives within 10 minutes
//! of the original AND the key received fewer than 6,000 transactions in between (about
//! 10 per second per merchant or product sustained for 10 minutes). A collision of two
//! 64-bit hashes within one key's window is ~6,000² / 2⁶⁵ ≈ 10⁻¹².

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use shardwise::sketch::hash::hash64;

/// How long (arrival time) an id is remembered.
pub const DEDUPE_HORIZON_MS: i64 = 10 * 60 * 1000;
/// Most ids remembered per key.
pub const MAX_REMEMBERED: usize = 6_000;
const DEDUPE_SEED: u64 = 0x6465_6475;

/// Bytes of one packed entry: the hash (u64) and the arrival second (u32), little endian.
const ENTRY_BYTES: usize = 12;

/// Recently seen ids of one key in insertion order: `(hash, arrival second)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentIds(Vec<(u64, i64)>);

impl Serialize for RecentIds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut packed = Vec::with_capacity(self.0.len() * ENTRY_BYTES);
        for &(hash, second) in &self.0 {
            packed.extend_from_slice(&hash.to_le_bytes());
            // Arrival seconds since the epoch fit u32 until 2106.
            let second = u32::try_from(second.max(0)).unwrap_or(u32::MAX);
            packed.extend_from_slice(&second.to_le_bytes());
        }
        serializer.serialize_str(&BASE64.encode(packed))
    }
}

impl<'de> Deserialize<'de> for RecentIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The packed string, or the array of pairs earlier versions wrote.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Packed(String),
            Pairs(Vec<(u64, i64)>),
        }
        match Stored::deserialize(deserializer)? {
            Stored::Pairs(pairs) => Ok(Self(pairs)),
            Stored::Packed(text) => {
                let packed = BASE64.decode(text).map_err(serde::de::Error::custom)?;
                if packed.len() % ENTRY_BYTES != 0 {
                    return Err(serde::de::Error::custom(format!(
                        "recent ids: {} bytes is not a whole number of entries",
                        packed.len()
                    )));
                }
                let entries = packed
                    .chunks_exact(ENTRY_BYTES)
                    .map(|entry| {
                        let (hash, second) = entry.split_at(8);
                        let hash = u64::from_le_bytes(hash.try_into().unwrap_or_default());
                        let second = u32::from_le_bytes(second.try_into().unwrap_or_default());
                        (hash, i64::from(second))
                    })
                    .collect();
                Ok(Self(entries))
            }
        }
    }
}

/// Drops the entries (arrival second by `second`) older than the horizon before
/// `arrival_ms`. Arrival timestamps are approximate (and a key's records may come from
/// several shards), so the list is not assumed sorted: a full pass, bounded by the cap.
pub(crate) fn forget_stale<T>(entries: &mut Vec<T>, arrival_ms: i64, second: impl Fn(&T) -> i64) {
    let horizon_s = (arrival_ms - DEDUPE_HORIZON_MS).div_euclid(1000);
    entries.retain(|e| second(e) >= horizon_s);
}

/// Appends `entry`, dropping the oldest beyond `max`.
pub(crate) fn push_capped<T>(entries: &mut Vec<T>, entry: T, max: usize) {
    entries.push(entry);
    let excess = entries.len().saturating_sub(max);
    entries.drain(..excess);
}

impl RecentIds {
    /// Records `id` arriving at `arrival_ms`; returns false if it was seen already.
    pub fn first_time(&mut self, id: &str, arrival_ms: i64) -> bool {
        let hash = hash64(DEDUPE_SEED, id.as_bytes());
        forget_stale(&mut self.0, arrival_ms, |&(_, s)| s);
        if self.0.iter().any(|&(h, _)| h == hash) {
            return false;
        }
        push_capped(
            &mut self.0,
            (hash, arrival_ms.div_euclid(1000)),
            MAX_REMEMBERED,
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resent_id_is_refused_within_the_horizon_and_forgotten_after() {
        let mut r = RecentIds::default();
        assert!(r.first_time("tx-1", 1_000));
        assert!(r.first_time("tx-2", 2_000));
        assert!(!r.first_time("tx-1", 121_000));
        assert!(r.first_time("tx-3", 1_000 + DEDUPE_HORIZON_MS + 2_000));
        assert_eq!(r.len(), 1, "tx-1 and tx-2 aged out");
        assert!(r.first_time("tx-1", 1_000 + DEDUPE_HORIZON_MS + 3_000));
    }

    #[test]
    fn arrivals_out_of_order_never_evict_a_fresh_id() {
        let mut r = RecentIds::default();
        for (id, at) in [
            ("a", 100_000),
            ("b", 700_000),
            ("c", 150_000),
            ("d", 800_000),
        ] {
            assert!(r.first_time(id, at));
        }
        // Horizon at 760 s - 600 s = 160 s: a and c are stale, b must survive.
        assert!(r.first_time("e", 760_000));
        assert!(!r.first_time("b", 760_000));
    }

    #[test]
    fn memory_is_capped() {
        let mut r = RecentIds::default();
        for i in 0..MAX_REMEMBERED + 10 {
            assert!(r.first_time(&format!("tx-{i}"), 5_000));
        }
        assert_eq!(r.len(), MAX_REMEMBERED);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.len() < 100_000, "{}", json.len());
    }

    #[test]
    fn the_packed_form_round_trips_and_the_array_form_is_still_read() {
        let mut r = RecentIds::default();
        for (i, at) in [(1, 1_700_000_000_000), (2, 1_700_000_001_500), (3, 5_000)] {
            assert!(r.first_time(&format!("tx-{i}"), at));
        }
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.starts_with('"'), "one string: {json}");
        let back: RecentIds = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);

        let pairs = serde_json::to_string(&r.0).unwrap();
        let old: RecentIds = serde_json::from_str(&pairs).unwrap();
        assert_eq!(old, r);
        assert!(
            serde_json::from_str::<RecentIds>("\"AAAA\"").is_err(),
            "3 bytes"
        );
    }
}
