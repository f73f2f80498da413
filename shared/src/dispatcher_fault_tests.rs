//! Exactly-once firing under faults and load: a store wrapper that crashes, loses commit
//! answers, throttles and adds latency; racing and sliced dispatchers; a hot minute; a
//! dispatcher that fell behind. Fixtures come from `dispatcher_tests`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::deadletter::DeadLetter;
use crate::dispatcher_tests::{Ev, Rig, T0, batch, config, drain, ev, fired, memory_rig};
use crate::error::Error;
use crate::memory_store::MemoryStateStore;
use crate::store::{CommitResult, KeyCommit, StateStore, StoredState};
use crate::timer_store::TimerEntry;

/// A store wrapper that adds latency, throttles every `throttle_every`-th call, loses
/// the answer of every `lose_every`-th committed write, and "crashes" (refuses every
/// write) after `crash_after` commits.
#[derive(Debug, Default)]
struct Faulty {
    inner: MemoryStateStore,
    latency_ms: u64,
    throttle_every: u64,
    lose_every: u64,
    crash_after: Option<u64>,
    calls: AtomicU64,
    commits: AtomicU64,
}

impl Faulty {
    async fn gate(&self) -> Result<(), Error> {
        if self.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.latency_ms)).await;
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.throttle_every > 0 && n.is_multiple_of(self.throttle_every) {
            return Err(Error::Throttled("injected".into()));
        }
        Ok(())
    }
}

impl StateStore for Faulty {
    async fn get_many(
        &self,
        keys: &[String],
        c: bool,
    ) -> Result<std::collections::HashMap<String, StoredState>, Error> {
        self.gate().await?;
        self.inner.get_many(keys, c).await
    }

    async fn commit(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        self.gate().await?;
        if self
            .crash_after
            .is_some_and(|n| self.commits.load(Ordering::SeqCst) >= n)
        {
            return Err(Error::Transient("process crashed".into()));
        }
        let result = self.inner.commit(commit).await?;
        let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        if result == CommitResult::Committed
            && self.lose_every > 0
            && n.is_multiple_of(self.lose_every)
        {
            return Err(Error::Transient("answer lost after the write".into()));
        }
        Ok(result)
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), Error> {
        self.inner.dead_letter(letter).await
    }

    async fn query_timers(
        &self,
        pk: &str,
        before: &str,
        limit: usize,
    ) -> Result<Vec<TimerEntry>, Error> {
        self.gate().await?;
        self.inner.query_timers(pk, before, limit).await
    }

    async fn delete_timer_items(&self, entries: &[TimerEntry]) -> Result<(), Error> {
        self.gate().await?;
        self.inner.delete_timer_items(entries).await
    }
}

async fn register_many<S: StateStore>(rig: &Rig<S>, keys: usize, due: impl Fn(usize) -> i64) {
    let events: Vec<Ev> = (0..keys)
        .map(|i| Ev {
            set: vec![due(i)],
            ..ev(&format!("k{i}"))
        })
        .collect();
    for (n, chunk) in events.chunks(100).enumerate() {
        rig.send("shardId-0", 1 + (n as u64) * 100, chunk).await;
    }
}

fn assert_each_fired_once(store: &MemoryStateStore, keys: usize) {
    for i in 0..keys {
        let counts = fired(store, &format!("k{i}"));
        assert_eq!(counts.len(), 1, "k{i}: {counts:?}");
        assert_eq!(counts[0].1, 1, "k{i} fired more than once");
    }
    assert_eq!(store.snapshot().outputs.len(), keys, "one output per timer");
    assert_eq!(store.snapshot().timers.len(), 0);
}

#[tokio::test]
async fn lost_answers_crashes_and_restarted_dispatchers_fire_every_timer_exactly_once() {
    let setup = memory_rig(4);
    register_many(&setup, 100, |i| T0 + 1_000 + i as i64).await;
    // A dispatcher whose process dies after 40 commits, every 3rd answer lost on the way.
    let store = Arc::new(Faulty {
        lose_every: 3,
        crash_after: Some(40),
        ..Faulty::default()
    });
    store.inner.restore(setup.store.snapshot());
    let rig = Rig::new(Arc::clone(&store), config(4));
    rig.clock.advance(5_000);
    let first = rig
        .dispatcher_with(|c| c.max_attempts = 2)
        .poll_once()
        .await
        .unwrap();
    assert!(first.deferred > 0, "the crash left work behind: {first:?}");
    assert!(
        first.skipped > 0,
        "lost answers were retried and found the timer gone"
    );
    // Restarted (twice) on the data the crashed one left behind.
    let healthy = memory_rig(4);
    healthy.store.restore(store.inner.snapshot());
    healthy.clock.advance(5_000);
    let second = healthy.dispatcher().poll_once().await.unwrap();
    assert!(second.fired > 0);
    assert_eq!(healthy.dispatcher().poll_once().await.unwrap().fired, 0);
    assert_each_fired_once(&healthy.store, 100);
}

#[tokio::test]
async fn two_dispatchers_racing_on_the_same_buckets_fire_each_timer_once() {
    let store = Arc::new(Faulty {
        latency_ms: 1,
        ..Faulty::default()
    });
    let rig = Rig::new(Arc::clone(&store), config(4));
    register_many(&rig, 300, |i| T0 + (i as i64 % 50) * 100).await;
    rig.clock.advance(10_000);
    let (a, b) = (rig.dispatcher(), rig.dispatcher());
    let (ra, rb) = tokio::join!(a.poll_once(), b.poll_once());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.fired + rb.fired, 300, "{ra:?} {rb:?}");
    assert!(
        ra.skipped + rb.skipped > 0,
        "they did race over the same items"
    );
    assert_each_fired_once(&store.inner, 300);
}

#[tokio::test]
async fn a_throttling_store_defers_firings_that_a_later_poll_completes() {
    let store = Arc::new(Faulty {
        throttle_every: 4,
        ..Faulty::default()
    });
    let rig = Rig::new(Arc::clone(&store), config(4));
    let mut sent = 0;
    while sent < 200 {
        // Batches can be throttled too: re-send until the processor accepts them all.
        let events: Vec<Ev> = (sent..sent + 50)
            .map(|i| Ev {
                set: vec![T0 + 500],
                ..ev(&format!("k{i}"))
            })
            .collect();
        let result = rig
            .processor
            .process(&batch("shardId-0", 1 + sent as u64, &events))
            .await;
        if result.is_ok_and(|r| r.first_failure.is_none()) {
            sent += 50;
        }
    }
    rig.clock.advance(1_000);
    let d = rig.dispatcher_with(|c| c.max_attempts = 2);
    let mut total = 0;
    for _ in 0..20 {
        if let Ok(r) = d.poll_once().await {
            total += r.fired;
        }
    }
    assert_eq!(total, 200);
    assert_each_fired_once(&store.inner, 200);
}

#[tokio::test]
async fn a_hot_minute_is_spread_over_every_partition_and_all_of_it_fires() {
    let rig = memory_rig(8);
    register_many(&rig, 2_000, |i| T0 + (i as i64 * 29) % 60_000).await;
    let snap = rig.store.snapshot();
    let mut per_partition = std::collections::BTreeMap::<String, usize>::new();
    for (pk, _) in snap.timers.keys() {
        *per_partition.entry(pk.clone()).or_default() += 1;
    }
    assert_eq!(per_partition.len(), 8, "one bucket × 8 spread partitions");
    assert!(
        per_partition.values().all(|n| (150..=350).contains(n)),
        "{per_partition:?}"
    );
    rig.clock.advance(60_000);
    let d = rig.dispatcher_with(|c| c.page_size = 100);
    let mut total = 0;
    for _ in 0..10 {
        total += d.poll_once().await.unwrap().fired;
    }
    assert_eq!(total, 2_000);
    assert_each_fired_once(&rig.store, 2_000);
}

#[tokio::test]
async fn a_dispatcher_that_fell_behind_catches_up_over_older_buckets_without_losing_timers() {
    let rig = memory_rig(2);
    let d = rig.dispatcher_with(|c| c.max_buckets_per_poll = 5);
    d.poll_once().await.unwrap(); // sets the cursor at T0 − 1 h
    register_many(&rig, 300, |i| T0 + i as i64 * 6_000).await; // due over 30 minutes
    rig.clock.advance(2 * 3_600_000);
    let mut total = 0;
    let mut polls = 0;
    loop {
        let r = d.poll_once().await.unwrap();
        total += r.fired;
        polls += 1;
        if !r.backlog || polls > 100 {
            break;
        }
    }
    assert_eq!(total, 300);
    assert!(polls > 5, "caught up over several polls, oldest first");
    assert_each_fired_once(&rig.store, 300);
}

#[tokio::test]
async fn sliced_dispatchers_share_the_partitions_and_together_fire_everything() {
    let rig = memory_rig(8);
    register_many(&rig, 400, |i| T0 + i as i64).await;
    rig.clock.advance(60_000);
    let first = rig.dispatcher_with(|c| c.slice = (0, 2));
    let second = rig.dispatcher_with(|c| c.slice = (1, 2));
    let a = drain(&first).await;
    assert!(a > 100 && a < 300, "about half: {a}");
    let b = drain(&second).await;
    assert_eq!(a + b, 400);
    assert_each_fired_once(&rig.store, 400);
}
