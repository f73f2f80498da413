//! Watermarks: per shard, from event times with a bounded out-of-orderness, persisted,
//! advanced only forward; an operator's watermark is the minimum over its shards.
//!
//! ## Storage
//! One pseudo state item per operator, item key `<operator>#__watermarks` (state keys
//! starting with `__` are reserved), whose body is a [`Watermarks`] document: shard →
//! (watermark, processing time it last advanced), plus an optional forced floor. It is a
//! regular state item, so the batch reads it in the SAME `BatchGetItem` as its keys (no
//! extra read call) and updates it with the usual version-conditioned commit: concurrent
//! writers (the shards' invocations, the dispatcher) conflict, re-read, merge with `max`
//! and retry, so a watermark never moves backwards.
//!
//! ## Semantics
//! - A batch's shard watermark candidate = (largest event time in the batch) −
//!   out-of-orderness. It is written after the batch's key commits succeeded (a crash
//!   before that re-delivers the batch, which must not be judged against a watermark its
//!   own records produced); callbacks see the watermark read at the start of the batch.
//! - The operator watermark = min over its shards' effective watermarks. A shard is
//!   *idle* when it has not advanced for the idle timeout (processing time); an idle
//!   shard's effective watermark is `max(its watermark, now − out-of-orderness)`, i.e. it
//!   is advanced by processing time (the dispatcher persists this every poll), so a quiet
//!   shard — or one closed by resharding — does not hold every window open forever.
//! - Limits: idle advancement assumes event time ≈ processing time. A replayed historical
//!   stream has event times far behind processing time: while it flows its shards are not
//!   idle and the watermark follows the events, but if a replaying shard pauses for the
//!   idle timeout, its watermark jumps to processing time and the rest of the replay is
//!   late. Replays should raise the idle timeout (or force the watermark explicitly).
//!   Shards not seen yet are discovered with `ListShards` after each batch (see
//!   [`crate::shards`]) and registered at the minimum, so the first shard to commit does
//!   not set the operator watermark alone; without a shard directory (a processor built
//!   by hand) they count only from their first batch on.
//! - [`force_watermark`] sets a floor (e.g. [`EventTime::MAX`] at the end of a bounded
//!   input, for tests and benchmarks): the operator watermark is at least the floor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::EventTime;
use crate::retry::backoff;
use crate::store::{CommitResult, KeyCommit, StateStore, StoredState};
use crate::timer_store::TimerWrites;

/// The reserved state key of an operator's watermark document.
pub const WATERMARK_KEY: &str = "__watermarks";
/// Default bounded out-of-orderness.
pub const DEFAULT_OUT_OF_ORDERNESS_MS: i64 = 5_000;
/// Default idle timeout.
pub const DEFAULT_IDLE_TIMEOUT_MS: i64 = 60_000;
/// Conflict retries of one watermark update.
const UPDATE_ATTEMPTS: u32 = 16;

/// How watermarks are derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatermarkPolicy {
    /// Events may arrive this much later than a later event of the same shard.
    pub out_of_orderness_ms: i64,
    /// A shard without progress for this long is advanced by processing time.
    pub idle_timeout_ms: i64,
}

impl Default for WatermarkPolicy {
    fn default() -> Self {
        Self {
            out_of_orderness_ms: DEFAULT_OUT_OF_ORDERNESS_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
        }
    }
}

/// One shard's watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardWatermark {
    /// Event times at or below this are complete for the shard (epoch ms).
    pub watermark: i64,
    /// Processing time of the last advance (epoch ms).
    pub advanced_at: i64,
}

/// An operator's persisted watermarks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermarks {
    /// Per shard id.
    #[serde(default)]
    pub shards: BTreeMap<String, ShardWatermark>,
    /// A floor set with [`force_watermark`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced: Option<i64>,
}

impl Watermarks {
    /// Decodes the document from its state item (absent or unreadable: empty).
    pub fn from_stored(stored: Option<&StoredState>) -> Self {
        stored
            .and_then(|s| serde_json::from_str(&s.body).ok())
            .unwrap_or_default()
    }

    /// Moves `shard`'s watermark forward to `candidate` (never back). Also refreshes the
    /// shard's activity time when it is half-way to idle, so a busy shard whose events
    /// do not move its maximum is not taken for idle. Returns whether anything changed.
    pub fn advance(
        &mut self,
        shard: &str,
        candidate: EventTime,
        now: EventTime,
        policy: &WatermarkPolicy,
    ) -> bool {
        match self.shards.get_mut(shard) {
            None => {
                self.shards.insert(
                    shard.to_owned(),
                    ShardWatermark {
                        watermark: candidate.0,
                        advanced_at: now.0,
                    },
                );
                true
            }
            Some(s) if candidate.0 > s.watermark => {
                s.watermark = candidate.0;
                s.advanced_at = s.advanced_at.max(now.0);
                true
            }
            Some(s) if now.0.saturating_sub(s.advanced_at) >= policy.idle_timeout_ms / 2 => {
                s.advanced_at = now.0;
                true
            }
            Some(_) => false,
        }
    }

    /// Registers a discovered shard that has not reported yet (see [`crate::shards`]): it
    /// holds the operator watermark at [`EventTime::MIN`] until its first batch advances
    /// it, or until it has been idle for the idle timeout from `now`. Returns whether it
    /// was new.
    pub fn register(&mut self, shard: &str, now: EventTime) -> bool {
        if self.shards.contains_key(shard) {
            return false;
        }
        self.shards.insert(
            shard.to_owned(),
            ShardWatermark {
                watermark: i64::MIN,
                advanced_at: now.0,
            },
        );
        true
    }

    /// Merges another copy (a concurrent writer's): per shard the later watermark.
    pub fn merge(&mut self, other: &Self) {
        for (shard, theirs) in &other.shards {
            let ours = self.shards.entry(shard.clone()).or_insert(*theirs);
            ours.watermark = ours.watermark.max(theirs.watermark);
            ours.advanced_at = ours.advanced_at.max(theirs.advanced_at);
        }
        self.forced = self.forced.max(other.forced);
    }

    fn effective(s: &ShardWatermark, now: EventTime, policy: &WatermarkPolicy) -> i64 {
        if now.0.saturating_sub(s.advanced_at) >= policy.idle_timeout_ms {
            s.watermark
                .max(now.0.saturating_sub(policy.out_of_orderness_ms))
        } else {
            s.watermark
        }
    }

    /// The operator watermark at `now`: min over shards (idle ones advanced by
    /// processing time), at least the forced floor; [`EventTime::MIN`] when unknown.
    pub fn operator_watermark(&self, now: EventTime, policy: &WatermarkPolicy) -> EventTime {
        let min = self
            .shards
            .values()
            .map(|s| Self::effective(s, now, policy))
            .min()
            .unwrap_or(i64::MIN);
        EventTime(min.max(self.forced.unwrap_or(i64::MIN)))
    }

    /// Persists idle advancement (the dispatcher's job): every idle shard's watermark
    /// becomes its effective one. Returns whether anything changed.
    pub fn advance_idle(&mut self, now: EventTime, policy: &WatermarkPolicy) -> bool {
        let mut changed = false;
        for s in self.shards.values_mut() {
            let effective = Self::effective(s, now, policy);
            if effective > s.watermark {
                s.watermark = effective;
                changed = true;
            }
        }
        changed
    }
}

/// The item key of `operator`'s watermark document.
pub fn item_key(operator: &str) -> String {
    format!("{operator}#{WATERMARK_KEY}")
}

/// Reads `operator`'s watermarks (consistently).
pub async fn read<S: StateStore>(store: &S, operator: &str) -> Result<Watermarks, Error> {
    let key = item_key(operator);
    let mut found = store.get_many(std::slice::from_ref(&key), true).await?;
    Ok(Watermarks::from_stored(found.remove(&key).as_ref()))
}

/// Read-modify-writes a pseudo state item whose body is JSON `T` with optimistic
/// concurrency: `change` gets the stored value (merged with nothing: it sees the latest)
/// and returns whether to write. `initial` is a copy already read (saves a read).
pub async fn update_doc<S, T, F>(
    store: &S,
    item_key: &str,
    mut initial: Option<Option<StoredState>>,
    change: F,
) -> Result<T, Error>
where
    S: StateStore,
    T: Serialize + serde::de::DeserializeOwned + Default,
    F: Fn(&mut T) -> bool,
{
    for attempt in 0..UPDATE_ATTEMPTS {
        let stored = match initial.take() {
            Some(stored) => stored,
            None => store
                .get_many(&[item_key.to_owned()], true)
                .await?
                .remove(item_key),
        };
        let mut doc: T = stored
            .as_ref()
            .and_then(|s| serde_json::from_str(&s.body).ok())
            .unwrap_or_default();
        if !change(&mut doc) {
            return Ok(doc);
        }
        let body = serde_json::to_string(&doc).map_err(|e| Error::Service(e.to_string()))?;
        let commit = KeyCommit {
            item_key: item_key.to_owned(),
            expected_version: stored.as_ref().map(|s| s.version),
            conditional: true,
            state: StoredState {
                version: stored.as_ref().map_or(1, |s| s.version + 1),
                body,
                ..StoredState::default()
            },
            outputs: Vec::new(),
            timers: TimerWrites::default(),
        };
        match store.commit(&commit).await {
            Ok(CommitResult::Committed) => return Ok(doc),
            Ok(CommitResult::Conflict) => {}
            Err(e) if e.class() == crate::error::RetryClass::Fatal => return Err(e),
            Err(_) => tokio::time::sleep(backoff(attempt)).await,
        }
    }
    Err(Error::Transient(format!(
        "{item_key}: too many concurrent updates"
    )))
}

/// Advances several shards of `operator` (forward only) and registers `discovered` shards
/// that have not reported yet, in one read-modify-write.
pub async fn advance_and_register<S: StateStore>(
    store: &S,
    operator: &str,
    candidates: &[(String, EventTime)],
    discovered: &[String],
    now: EventTime,
    policy: &WatermarkPolicy,
    already_read: Option<Option<StoredState>>,
) -> Result<Watermarks, Error> {
    update_doc(
        store,
        &item_key(operator),
        already_read,
        |w: &mut Watermarks| {
            let mut changed = false;
            for (shard, candidate) in candidates {
                changed |= w.advance(shard, *candidate, now, policy);
            }
            for shard in discovered {
                changed |= w.register(shard, now);
            }
            changed
        },
    )
    .await
}

/// Forces `operator`'s watermark to at least `floor` (e.g. [`EventTime::MAX`] once a
/// bounded input is exhausted): every event-time timer at or below it becomes due.
pub async fn force_watermark<S: StateStore>(
    store: &S,
    operator: &str,
    floor: EventTime,
) -> Result<(), Error> {
    update_doc(store, &item_key(operator), None, |w: &mut Watermarks| {
        let changed = w.forced.is_none_or(|f| f < floor.0);
        w.forced = w.forced.max(Some(floor.0));
        changed
    })
    .await
    .map(|_: Watermarks| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: WatermarkPolicy = WatermarkPolicy {
        out_of_orderness_ms: 5_000,
        idle_timeout_ms: 60_000,
    };

    #[test]
    fn the_operator_watermark_is_the_minimum_over_shards_and_only_moves_forward() {
        let mut w = Watermarks::default();
        let now = EventTime(1_000_000);
        assert_eq!(w.operator_watermark(now, &POLICY), EventTime::MIN);
        assert!(w.advance("s1", EventTime(500_000), now, &POLICY));
        assert!(w.advance("s2", EventTime(400_000), now, &POLICY));
        assert_eq!(w.operator_watermark(now, &POLICY), EventTime(400_000));
        assert!(
            !w.advance("s2", EventTime(300_000), now, &POLICY),
            "never back"
        );
        assert_eq!(w.shards["s2"].watermark, 400_000);
    }

    #[test]
    fn an_idle_shard_is_advanced_by_processing_time() {
        let mut w = Watermarks::default();
        w.advance("busy", EventTime(990_000), EventTime(1_000_000), &POLICY);
        w.advance("quiet", EventTime(100_000), EventTime(100_000), &POLICY);
        let now = EventTime(1_000_000);
        // quiet has not advanced for 900 s: it counts as now − 5 s.
        assert_eq!(w.operator_watermark(now, &POLICY), EventTime(990_000));
        assert!(w.advance_idle(now, &POLICY));
        assert_eq!(w.shards["quiet"].watermark, 995_000);
    }

    #[test]
    fn a_registered_shard_holds_the_watermark_back_until_it_reports_or_goes_idle() {
        let mut w = Watermarks::default();
        let now = EventTime(1_000_000);
        w.advance("s1", EventTime(900_000), now, &POLICY);
        assert!(w.register("s2", now));
        assert!(!w.register("s1", now), "a reporting shard is not reset");
        assert_eq!(w.operator_watermark(now, &POLICY), EventTime::MIN);
        w.advance("s2", EventTime(800_000), now, &POLICY);
        assert_eq!(w.operator_watermark(now, &POLICY), EventTime(800_000));

        let mut quiet = Watermarks::default();
        quiet.advance("s1", EventTime(900_000), now, &POLICY);
        quiet.register("s2", now);
        let later = EventTime(now.0 + POLICY.idle_timeout_ms);
        quiet.advance("s1", EventTime(later.0 - 1_000), later, &POLICY);
        assert_eq!(
            quiet.operator_watermark(later, &POLICY),
            EventTime(later.0 - POLICY.out_of_orderness_ms),
            "idle: advanced by processing time"
        );
    }

    #[test]
    fn concurrent_copies_merge_to_the_later_watermarks_and_the_forced_floor_wins() {
        let mut a = Watermarks::default();
        a.advance("s1", EventTime(10), EventTime(0), &POLICY);
        let mut b = a.clone();
        b.advance("s1", EventTime(20), EventTime(0), &POLICY);
        b.forced = Some(i64::MAX);
        a.merge(&b);
        assert_eq!(a.shards["s1"].watermark, 20);
        assert_eq!(a.operator_watermark(EventTime(0), &POLICY), EventTime::MAX);
    }
}
