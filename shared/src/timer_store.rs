//! Timer storage: the layout of timer items and how a key's timer changes become item
//! writes committed in the same transaction as the key's state.
//!
//! ## Two copies, one truth
//! A key's registered timers live on its state item ([`StoredState::timers`]: timer →
//! the bucket its item was written to). The timers table is an *index* of them by due
//! time, so the dispatcher can `Query` what is due without scanning. Both change in one
//! `TransactWriteItems`, so they agree; when they do not (an orphan item whose state
//! entry is gone, e.g. after a crash of the >100-actions overflow path), the state wins:
//! the dispatcher only fires a timer its key's state still references.
//!
//! ## Layout (table key `pk` + `sk`, both S)
//! - Processing time: `pk = <operator>#processing#<bucket>#<spread>`, where `bucket` is
//!   the due time truncated to [`TimerLayout::bucket_ms`] (default 60 s) — but never
//!   earlier than the processing time of the registering commit, so a timer registered
//!   "in the past" lands in a bucket the dispatcher has not swept yet (the bucket is
//!   remembered on the state item, so deletes find the item). 60 s matches the
//!   dispatcher's `rate(1 minute)`: a poll reads the current bucket (and at most a few
//!   older ones), and catching up an hour costs 60 × N queries, not 360 × N.
//! - Event time: `pk = <operator>#event#all#<spread>`: no time bucket, because the
//!   watermark can jump arbitrarily far (a replay, or [`EventTime::MAX`] at the end of a
//!   bounded input) and enumerating every bucket up to it is impossible; one `Query` per
//!   spread partition with `sk < <watermark + 1>` finds everything due, in due order.
//! - `spread = fnv1a(key) mod N` ([`TimerLayout::spread`], default 16) splits a hot
//!   bucket (a million timers due in one minute) over N partitions.
//! - `sk = <due ms, 15 digits zero-padded>#<key>`: sort-key order is due order, and a
//!   key has at most one item per (domain, due time), which makes registration
//!   idempotent. Attributes: `key`, `time` (N), `domain` (S), `ttl` (N, epoch s: 30 days
//!   after the bucket, so orphans disappear).
//!
//! The layout (bucket width and N) must be the same for every writer and the dispatcher;
//! changing it needs a drain (old items stay where the old layout put them).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ids::EventTime;
use crate::operator::{TimeDomain, Timer, TimerChange};

/// Digits of a zero-padded due time in sort keys (epoch ms < 10^15: year 33658).
pub const DUE_DIGITS: usize = 15;
/// Largest due time the layout can represent (one less than the largest 15-digit number,
/// so [`sk_before`] of it still has 15 digits).
pub const MAX_DUE_MS: i64 = 999_999_999_999_998;
/// Timer items expire this long after their bucket (TTL): only orphans ever get there.
pub const TIMER_ITEM_TTL_SECONDS: i64 = 30 * 24 * 3600;
/// Default bucket width.
pub const DEFAULT_BUCKET_MS: i64 = 60_000;
/// Default number of spread partitions per bucket.
pub const DEFAULT_SPREAD: u32 = 16;
/// The bucket component of event-time partitions.
const EVENT_BUCKET: &str = "all";

/// How timer items are partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerLayout {
    /// Width of a processing-time due bucket, ms.
    pub bucket_ms: i64,
    /// Partitions per bucket.
    pub spread: u32,
}

impl Default for TimerLayout {
    fn default() -> Self {
        Self {
            bucket_ms: DEFAULT_BUCKET_MS,
            spread: DEFAULT_SPREAD,
        }
    }
}

impl TimerLayout {
    /// The bucket (start, ms) holding time `t`.
    pub fn bucket_of(&self, t: i64) -> i64 {
        clamp_due(t).div_euclid(self.bucket_ms.max(1)) * self.bucket_ms.max(1)
    }

    /// The spread partition of `key`.
    pub fn spread_of(&self, key: &str) -> u32 {
        let n = u64::from(self.spread.max(1));
        u32::try_from(fnv1a(key.as_bytes()) % n).unwrap_or(0)
    }

    /// The partition key of a processing-time bucket's spread partition.
    pub fn processing_partition(&self, operator: &str, bucket: i64, spread: u32) -> String {
        format!("{operator}#processing#{bucket}#{spread}")
    }

    /// The partition key of an event-time spread partition.
    pub fn event_partition(&self, operator: &str, spread: u32) -> String {
        format!("{operator}#event#{EVENT_BUCKET}#{spread}")
    }

    /// What [`partition`](Self::partition) built `pk` from for `operator`: the domain, the
    /// processing-time bucket (0 for event time) and the spread; `None` for any other key.
    pub fn parse_partition(&self, operator: &str, pk: &str) -> Option<(TimeDomain, i64, u32)> {
        let mut parts = pk.rsplitn(4, '#');
        let spread = parts.next()?.parse().ok()?;
        let bucket = parts.next()?;
        let domain = parts.next()?;
        if parts.next()? != operator {
            return None;
        }
        match domain {
            "processing" => Some((TimeDomain::Processing, bucket.parse().ok()?, spread)),
            "event" if bucket == EVENT_BUCKET => Some((TimeDomain::Event, 0, spread)),
            _ => None,
        }
    }

    /// The bucket a timer registered now goes to (processing time: never before `now`,
    /// see the module docs; event time: unused, 0).
    pub fn bucket_for(&self, timer: Timer, now: EventTime) -> i64 {
        match timer.domain {
            TimeDomain::Processing => self.bucket_of(timer.time.0.max(now.0)),
            TimeDomain::Event => 0,
        }
    }

    /// The partition key of the item of `key`'s `timer`, registered in `bucket`.
    pub fn partition(&self, operator: &str, key: &str, timer: Timer, bucket: i64) -> String {
        let spread = self.spread_of(key);
        match timer.domain {
            TimeDomain::Processing => self.processing_partition(operator, bucket, spread),
            TimeDomain::Event => self.event_partition(operator, spread),
        }
    }

    /// The item of `key`'s `timer` stored in `bucket`.
    pub fn entry(&self, operator: &str, key: &str, timer: Timer, bucket: i64) -> TimerEntry {
        TimerEntry {
            pk: self.partition(operator, key, timer, bucket),
            sk: sort_key(timer.time, key),
            operator: operator.to_owned(),
            key: key.to_owned(),
            timer,
            ttl: bucket.max(clamp_due(timer.time.0)) / 1000 + TIMER_ITEM_TTL_SECONDS,
        }
    }
}

/// Due times outside the representable range are clamped into it.
pub fn clamp_due(t: i64) -> i64 {
    t.clamp(0, MAX_DUE_MS)
}

/// The sort key of a timer item.
pub fn sort_key(due: EventTime, key: &str) -> String {
    format!("{:0width$}#{key}", clamp_due(due.0), width = DUE_DIGITS)
}

/// The exclusive upper sort key selecting items due at or before `horizon`.
pub fn sk_before(horizon: EventTime) -> String {
    format!(
        "{:0width$}",
        clamp_due(horizon.0).saturating_add(1),
        width = DUE_DIGITS
    )
}

/// 64-bit FNV-1a: a stable hash (std's hasher is randomly seeded per process, and every
/// writer and the dispatcher must agree on a key's spread partition).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One timer item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerEntry {
    /// Partition key (see the module docs).
    pub pk: String,
    /// Sort key `<padded due>#<key>`.
    pub sk: String,
    /// The operator (registry name).
    pub operator: String,
    /// The state key.
    pub key: String,
    /// The timer.
    pub timer: Timer,
    /// DynamoDB TTL, epoch seconds.
    pub ttl: i64,
}

/// Timer item writes of one key commit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimerWrites {
    /// Items to put (new registrations).
    pub puts: Vec<TimerEntry>,
    /// Items to delete (deleted registrations).
    pub deletes: Vec<TimerEntry>,
    /// The timer being fired: deleted on the condition that it still exists.
    pub fired: Option<TimerEntry>,
}

impl TimerWrites {
    /// Number of write actions.
    pub fn len(&self) -> usize {
        self.puts.len() + self.deletes.len() + usize::from(self.fired.is_some())
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Applies `changes` (in call order) to `before`: later changes to the same timer win,
/// so set-then-delete is a no-op and a duplicate set is one registration. New timers get
/// their bucket from `now`; kept timers keep theirs.
pub fn apply_changes(
    layout: &TimerLayout,
    before: &BTreeMap<Timer, i64>,
    changes: &[TimerChange],
    now: EventTime,
) -> BTreeMap<Timer, i64> {
    let mut after = before.clone();
    for change in changes {
        match *change {
            TimerChange::Set(timer) => {
                after
                    .entry(timer)
                    .or_insert_with(|| layout.bucket_for(timer, now));
            }
            TimerChange::Delete(timer) => {
                after.remove(&timer);
            }
        }
    }
    after
}

/// The item puts and deletes turning `before` into `after` for `key`.
pub fn plan_writes(
    layout: &TimerLayout,
    operator: &str,
    key: &str,
    before: &BTreeMap<Timer, i64>,
    after: &BTreeMap<Timer, i64>,
) -> TimerWrites {
    let puts = after
        .iter()
        .filter(|(t, _)| !before.contains_key(t))
        .map(|(t, b)| layout.entry(operator, key, *t, *b))
        .collect();
    let deletes = before
        .iter()
        .filter(|(t, _)| !after.contains_key(t))
        .map(|(t, b)| layout.entry(operator, key, *t, *b))
        .collect();
    TimerWrites {
        puts,
        deletes,
        fired: None,
    }
}

/// The timers of a state item as stored: `[domain, time, bucket]` triples in JSON.
#[derive(Debug, Serialize, Deserialize)]
struct StoredTimer(TimeDomain, i64, i64);

/// Encodes a key's timer map for its state item.
pub fn encode_timers(timers: &BTreeMap<Timer, i64>) -> String {
    let list: Vec<StoredTimer> = timers
        .iter()
        .map(|(t, b)| StoredTimer(t.domain, t.time.0, *b))
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

/// Decodes a key's timer map; `None` for malformed text.
pub fn decode_timers(text: &str) -> Option<BTreeMap<Timer, i64>> {
    let list: Vec<StoredTimer> = serde_json::from_str(text).ok()?;
    Some(
        list.into_iter()
            .map(|StoredTimer(domain, time, bucket)| {
                (
                    Timer {
                        domain,
                        time: EventTime(time),
                    },
                    bucket,
                )
            })
            .collect(),
    )
}

/// The set of timers (without buckets).
pub fn timer_set(timers: &BTreeMap<Timer, i64>) -> BTreeSet<Timer> {
    timers.keys().copied().collect()
}

/// An in-memory timer index (`(pk, sk)` → item, as the timers table holds them).
pub type TimerIndex = std::collections::BTreeMap<(String, String), TimerEntry>;

/// What a `Query` of one timers-table partition for items below `sk_before` returns,
/// over an in-memory index: up to `limit` items in sort-key order.
pub fn query_index(
    index: &TimerIndex,
    partition: &str,
    sk_before: &str,
    limit: usize,
) -> Vec<TimerEntry> {
    let from = (partition.to_owned(), String::new());
    let to = (partition.to_owned(), sk_before.to_owned());
    index
        .range(from..to)
        .take(limit)
        .map(|(_, e)| e.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: i64) -> Timer {
        Timer {
            domain: TimeDomain::Processing,
            time: EventTime(t),
        }
    }

    #[test]
    fn partition_keys_parse_back_into_what_built_them() {
        let layout = TimerLayout::default();
        let processing = Timer {
            domain: TimeDomain::Processing,
            time: EventTime(90_000),
        };
        let event = Timer {
            domain: TimeDomain::Event,
            time: EventTime(7),
        };
        let spread = layout.spread_of("k#1");
        let pk = layout.partition("op#x", "k#1", processing, 60_000);
        assert_eq!(
            layout.parse_partition("op#x", &pk),
            Some((TimeDomain::Processing, 60_000, spread))
        );
        let pk = layout.partition("op#x", "k#1", event, 0);
        assert_eq!(
            layout.parse_partition("op#x", &pk),
            Some((TimeDomain::Event, 0, spread))
        );
        assert_eq!(layout.parse_partition("op", &pk), None, "another operator");
        assert_eq!(layout.parse_partition("op#x", "op#x#event#7#1"), None);
    }

    #[test]
    fn changes_net_per_timer_with_the_last_change_winning() {
        let layout = TimerLayout::default();
        let before = BTreeMap::from([(p(120_000), 120_000)]);
        let changes = [
            TimerChange::Set(p(300_000)),
            TimerChange::Set(p(300_000)),
            TimerChange::Set(p(400_000)),
            TimerChange::Delete(p(400_000)),
            TimerChange::Delete(p(120_000)),
        ];
        let after = apply_changes(&layout, &before, &changes, EventTime(0));
        assert_eq!(after, BTreeMap::from([(p(300_000), 300_000)]));
        let writes = plan_writes(&layout, "op", "k", &before, &after);
        assert_eq!(writes.puts.len(), 1);
        assert_eq!(writes.deletes.len(), 1);
        assert!(writes.puts[0].sk.starts_with("000000000300000#"));
    }

    #[test]
    fn a_timer_registered_in_the_past_goes_to_the_current_bucket_and_is_deleted_there() {
        let layout = TimerLayout::default();
        let after = apply_changes(
            &layout,
            &BTreeMap::new(),
            &[TimerChange::Set(p(5_000))],
            EventTime(3_600_000),
        );
        assert_eq!(after[&p(5_000)], 3_600_000);
        let entry = layout.entry("op", "k", p(5_000), after[&p(5_000)]);
        assert!(entry.pk.starts_with("op#processing#3600000#"));
        let deleted = plan_writes(&layout, "op", "k", &after, &BTreeMap::new());
        assert_eq!(deleted.deletes, vec![entry]);
    }

    #[test]
    fn keys_spread_over_all_partitions_and_sort_keys_sort_by_due_time() {
        let layout = TimerLayout {
            bucket_ms: 60_000,
            spread: 8,
        };
        let used: BTreeSet<u32> = (0..1000)
            .map(|i| layout.spread_of(&format!("k{i}")))
            .collect();
        assert_eq!(used.len(), 8);
        assert!(sort_key(EventTime(99), "z") < sort_key(EventTime(100), "a"));
        assert!(sort_key(EventTime(100), "zzz") < sk_before(EventTime(100)));
        assert!(sort_key(EventTime(101), "a") > sk_before(EventTime(100)));
        assert!(sort_key(EventTime::MAX, "a") < sk_before(EventTime::MAX));
    }

    #[test]
    fn stored_timers_round_trip_with_their_buckets() {
        let timers = BTreeMap::from([
            (p(1), 60_000),
            (
                Timer {
                    domain: TimeDomain::Event,
                    time: EventTime(7),
                },
                0,
            ),
        ]);
        assert_eq!(decode_timers(&encode_timers(&timers)), Some(timers));
        assert_eq!(decode_timers("nope"), None);
    }
}
