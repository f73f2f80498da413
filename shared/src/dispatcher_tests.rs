//! Timer and watermark tests with controlled time (a `ManualClock`) over the in-memory
//! store, plus a store wrapper that crashes, loses answers, throttles and adds latency.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, ManualClock};
use crate::codec::JsonCodec;
use crate::commit::Processor;
use crate::config::ProcessingConfig;
use crate::deadletter::DeadLetter;
use crate::dispatcher::{Dispatcher, DispatcherConfig};
use crate::error::Error;
use crate::ids::EventTime;
use crate::memory_store::MemoryStateStore;
use crate::operator::{Context, Operator, RecordMeta, TimeDomain, Timer};
use crate::state::{KeyedState, Lifetime, MapState, ValueState};
use crate::store::{CommitResult, KeyCommit, StateStore, StoredState};
use crate::timer_store::{TimerEntry, TimerLayout};

/// Start of the tests' processing time: a whole minute.
const T0: i64 = 1_700_000_040_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Ev {
    k: String,
    #[serde(default)]
    t: Option<i64>,
    #[serde(default)]
    set: Vec<i64>,
    #[serde(default)]
    del: Vec<i64>,
    #[serde(default)]
    event_set: Vec<i64>,
    #[serde(default)]
    heartbeat: Option<i64>,
    #[serde(default)]
    expires: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct St {
    fired: MapState<String, u64>,
    heartbeat: ValueState<i64>,
    note: ValueState<i64>,
}

impl KeyedState for St {
    fn expire(&mut self, now: EventTime) {
        self.fired.expire(now);
        self.heartbeat.expire(now);
        self.note.expire(now);
    }

    fn lifetime(&self) -> Lifetime {
        self.fired
            .lifetime()
            .and(self.heartbeat.lifetime())
            .and(self.note.lifetime())
    }
}

/// Registers/deletes the timers its events ask for; a fired timer is counted in the
/// state, emitted, and re-armed `heartbeat` ms later when the key has a heartbeat.
#[derive(Debug)]
struct Ticker;

impl Operator for Ticker {
    type Event = Ev;
    type State = St;
    type Output = String;

    fn name(&self) -> &str {
        "ticker"
    }

    fn key(&self, e: &Ev, _: &RecordMeta) -> Result<String, Error> {
        Ok(e.k.clone())
    }

    fn event_time(&self, e: &Ev) -> Option<EventTime> {
        e.t.map(EventTime)
    }

    fn on_event(&self, _: &str, e: Ev, ctx: &mut Context<'_, St, String>) -> Result<(), Error> {
        e.set
            .iter()
            .for_each(|t| ctx.register_processing_timer(EventTime(*t)));
        e.del
            .iter()
            .for_each(|t| ctx.delete_timer(TimeDomain::Processing, EventTime(*t)));
        e.event_set
            .iter()
            .for_each(|t| ctx.register_event_timer(EventTime(*t)));
        if let Some(every) = e.heartbeat {
            ctx.state().heartbeat.set(every);
            let due = EventTime(ctx.now().0 + every);
            ctx.register_processing_timer(due);
        }
        if let Some(at) = e.expires {
            ctx.state().note.set_with_expiry(1, EventTime(at));
        }
        Ok(())
    }

    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, St, String>,
    ) -> Result<(), Error> {
        let tag = match timer.domain {
            TimeDomain::Processing => format!("p:{}", timer.time.0),
            TimeDomain::Event => format!("e:{}", timer.time.0),
        };
        *ctx.state().fired.entry_or_default(tag.clone()) += 1;
        ctx.emit(format!("{key} {tag}"));
        if let (TimeDomain::Processing, Some(every)) =
            (timer.domain, ctx.state().heartbeat.get().copied())
        {
            ctx.register_processing_timer(EventTime(timer.time.0 + every));
        }
        Ok(())
    }
}

fn batch(shard: &str, first_seq: u64, events: &[Ev]) -> KinesisEvent {
    use base64::Engine as _;
    let records: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let seq = first_seq + i as u64;
            let data = serde_json::to_vec(e).unwrap();
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": e.k, "sequenceNumber": seq.to_string(),
                    "data": base64::engine::general_purpose::STANDARD.encode(data), "approximateArrivalTimestamp": 1.5e9},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("{shard}:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn ev(k: &str) -> Ev {
    Ev {
        k: k.to_owned(),
        ..Ev::default()
    }
}

fn config(spread: u32) -> ProcessingConfig {
    let mut c = ProcessingConfig::new("state", "dlq");
    c.timer_layout = TimerLayout {
        bucket_ms: 60_000,
        spread,
    };
    c
}

struct Rig<S: StateStore> {
    store: Arc<S>,
    clock: ManualClock,
    processor: Processor<Ticker, S, JsonCodec<Ev>>,
    config: ProcessingConfig,
}

impl<S: StateStore> Rig<S> {
    fn new(store: Arc<S>, config: ProcessingConfig) -> Self {
        let clock = ManualClock::new(EventTime(T0));
        let processor = Processor::new(
            Arc::new(Ticker),
            Arc::clone(&store),
            JsonCodec::default(),
            config.clone(),
            Arc::new(clock.clone()),
        );
        Self {
            store,
            clock,
            processor,
            config,
        }
    }

    fn dispatcher(&self) -> Dispatcher<S> {
        self.dispatcher_with(|_| {})
    }

    fn dispatcher_with(&self, tweak: impl FnOnce(&mut DispatcherConfig)) -> Dispatcher<S> {
        let mut dc = DispatcherConfig::from_processing(&self.config);
        dc.concurrency = 8;
        tweak(&mut dc);
        Dispatcher::new(Arc::clone(&self.store), Arc::new(self.clock.clone()), dc).register(Ticker)
    }

    async fn send(&self, shard: &str, seq: u64, events: &[Ev]) {
        let report = self
            .processor
            .process(&batch(shard, seq, events))
            .await
            .unwrap();
        assert_eq!(report.first_failure, None);
    }
}

fn fired(store: &MemoryStateStore, key: &str) -> Vec<(String, u64)> {
    let snap = store.snapshot();
    let Some(item) = snap.states.get(&format!("ticker#{key}")) else {
        return Vec::new();
    };
    let st: St = serde_json::from_str(&item.body).unwrap();
    st.fired.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// Polls until no backlog is left; returns the total fired.
async fn drain<S: StateStore>(d: &Dispatcher<S>) -> u64 {
    let mut fired = 0;
    for _ in 0..200 {
        let Ok(r) = d.poll_once().await else {
            continue;
        };
        fired += r.fired;
        if !r.backlog {
            break;
        }
    }
    fired
}

fn timer_items(store: &MemoryStateStore) -> usize {
    store.snapshot().timers.len()
}

fn memory_rig(spread: u32) -> Rig<MemoryStateStore> {
    Rig::new(Arc::new(MemoryStateStore::default()), config(spread))
}

#[tokio::test]
async fn a_processing_timer_fires_once_when_due_and_never_before() {
    let rig = memory_rig(4);
    let due = T0 + 30_000;
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            set: vec![due],
            ..ev("a")
        }],
    )
    .await;
    assert_eq!(timer_items(&rig.store), 1);
    let d = rig.dispatcher();
    rig.clock.advance(29_999);
    assert_eq!(d.poll_once().await.unwrap().fired, 0, "not due yet");
    rig.clock.advance(1);
    let report = d.poll_once().await.unwrap();
    assert_eq!(report.fired, 1);
    assert_eq!(report.delays_ms, vec![0]);
    assert_eq!(d.poll_once().await.unwrap().fired, 0, "fired once");
    assert_eq!(fired(&rig.store, "a"), vec![(format!("p:{due}"), 1)]);
    assert_eq!(
        timer_items(&rig.store),
        0,
        "the fired item is deleted with the commit"
    );
    let snap = rig.store.snapshot();
    assert!(snap.states["ticker#a"].timers.is_empty());
    assert_eq!(snap.outputs.len(), 1, "one output for one firing");
}

#[tokio::test]
async fn registering_twice_deleting_and_re_registering_keep_state_and_items_consistent() {
    let rig = memory_rig(4);
    let (t1, t2, t3) = (T0 + 10_000, T0 + 20_000, T0 + 130_000);
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            set: vec![t1, t1, t2, t3],
            ..ev("a")
        }],
    )
    .await;
    assert_eq!(
        timer_items(&rig.store),
        3,
        "deduplicated per key, domain and time"
    );
    rig.send(
        "shardId-0",
        2,
        &[
            Ev {
                del: vec![t2, T0 + 99],
                ..ev("a")
            },
            Ev {
                set: vec![t2],
                del: vec![t3],
                ..ev("a")
            },
        ],
    )
    .await;
    let snap = rig.store.snapshot();
    let referenced: BTreeSet<i64> = snap.states["ticker#a"]
        .timers
        .keys()
        .map(|t| t.time.0)
        .collect();
    let indexed: BTreeSet<i64> = snap.timers.values().map(|e| e.timer.time.0).collect();
    assert_eq!(referenced, BTreeSet::from([t1, t2]));
    assert_eq!(
        indexed, referenced,
        "the index matches the state's references"
    );
    rig.clock.advance(200_000);
    let d = rig.dispatcher();
    assert_eq!(drain(&d).await, 2);
    assert_eq!(
        fired(&rig.store, "a"),
        vec![(format!("p:{t1}"), 1), (format!("p:{t2}"), 1)]
    );
}

#[tokio::test]
async fn a_heartbeat_re_arms_itself_and_fires_every_interval_exactly_once() {
    let rig = memory_rig(2);
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            heartbeat: Some(30_000),
            ..ev("s")
        }],
    )
    .await;
    let d = rig.dispatcher();
    for _ in 0..10 {
        rig.clock.advance(30_000);
        assert_eq!(d.poll_once().await.unwrap().fired, 1);
        assert_eq!(d.poll_once().await.unwrap().fired, 0);
    }
    let counts = fired(&rig.store, "s");
    assert_eq!(counts.len(), 10);
    assert!(counts.iter().all(|(_, n)| *n == 1));
    assert_eq!(
        timer_items(&rig.store),
        1,
        "only the next heartbeat is pending"
    );
}

#[tokio::test]
async fn a_timer_registered_in_the_past_fires_at_the_next_poll() {
    let rig = memory_rig(2);
    let d = rig.dispatcher();
    rig.clock.advance(3 * 3_600_000);
    d.poll_once().await.unwrap();
    d.poll_once().await.unwrap();
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            set: vec![T0],
            ..ev("late")
        }],
    )
    .await;
    assert_eq!(
        d.poll_once().await.unwrap().fired,
        1,
        "three hours overdue, still fired"
    );
}

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
async fn event_time_timers_fire_when_the_watermark_passes_them() {
    let rig = memory_rig(2);
    let end = T0 + 60_000;
    let t = |k: &str, at: i64| Ev {
        t: Some(at),
        ..ev(k)
    };
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            event_set: vec![end],
            ..t("a", T0)
        }],
    )
    .await;
    rig.send("shardId-1", 1, &[t("b", T0 + 70_000)]).await;
    let d = rig.dispatcher();
    assert_eq!(
        d.poll_once().await.unwrap().fired,
        0,
        "shard 0 is at T0 − 5 s"
    );
    rig.send("shardId-0", 2, &[t("a", end + 4_000)]).await;
    assert_eq!(
        d.poll_once().await.unwrap().fired,
        0,
        "end − 1 s is not past the end"
    );
    rig.send("shardId-0", 3, &[t("a", end + 5_000)]).await;
    assert_eq!(d.poll_once().await.unwrap().fired, 1);
    assert_eq!(fired(&rig.store, "a"), vec![(format!("e:{end}"), 1)]);
}

#[tokio::test]
async fn an_idle_shard_is_advanced_by_the_dispatcher_so_event_timers_still_fire() {
    let rig = memory_rig(2);
    let end = T0 + 10_000;
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            t: Some(T0 + 20_000),
            event_set: vec![end],
            ..ev("a")
        }],
    )
    .await;
    rig.send(
        "shardId-1",
        1,
        &[Ev {
            t: Some(T0 - 100_000),
            ..ev("b")
        }],
    )
    .await;
    let d = rig.dispatcher();
    assert_eq!(
        d.poll_once().await.unwrap().fired,
        0,
        "shard 1 holds the watermark back"
    );
    rig.clock.advance(rig.config.watermark.idle_timeout_ms);
    assert_eq!(d.poll_once().await.unwrap().fired, 1, "shard 1 went idle");
    let marks = crate::watermark::read(&*rig.store, "ticker").await.unwrap();
    assert!(
        marks.shards["shardId-1"].watermark >= end,
        "the advance was persisted"
    );
}

#[tokio::test]
async fn forcing_the_watermark_to_the_end_fires_every_event_timer() {
    let rig = memory_rig(2);
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            event_set: vec![T0, T0 + 86_400_000 * 365],
            ..ev("a")
        }],
    )
    .await;
    let d = rig.dispatcher();
    assert_eq!(d.poll_once().await.unwrap().fired, 0, "no watermark yet");
    crate::watermark::force_watermark(&*rig.store, "ticker", EventTime::MAX)
        .await
        .unwrap();
    assert_eq!(d.poll_once().await.unwrap().fired, 2);
}

#[tokio::test]
async fn state_items_carry_a_ttl_only_when_everything_in_them_expires() {
    let rig = memory_rig(2);
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            expires: Some(T0 + 90_500),
            ..ev("a")
        }],
    )
    .await;
    let snap = rig.store.snapshot();
    assert_eq!(snap.states["ticker#a"].ttl, Some((T0 + 90_500) / 1000 + 1));
    rig.send(
        "shardId-0",
        2,
        &[Ev {
            set: vec![T0 + 1_000],
            ..ev("a")
        }],
    )
    .await;
    assert_eq!(
        rig.store.snapshot().states["ticker#a"].ttl,
        None,
        "a pending timer keeps it"
    );
    rig.clock.advance(100_000);
    drain(&rig.dispatcher()).await;
    // The fired counter never expires, so the item no longer may.
    assert_eq!(rig.store.snapshot().states["ticker#a"].ttl, None);
    // And the expired note is filtered on read by the injected clock.
    let st: St = serde_json::from_str(&rig.store.snapshot().states["ticker#a"].body).unwrap();
    assert_eq!(st.note.get(), None);
}

#[tokio::test]
async fn run_until_polls_about_every_interval_until_the_deadline() {
    let rig = memory_rig(2);
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            set: vec![T0 + 300],
            ..ev("a")
        }],
    )
    .await;
    let d = rig.dispatcher_with(|c| {
        c.poll_interval = Duration::from_millis(50);
        c.safety_margin = Duration::from_millis(100);
    });
    let clock = rig.clock.clone();
    let mover = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        clock.advance(1_000);
    });
    let started = std::time::Instant::now();
    let report = d
        .run_until(started + Duration::from_millis(600))
        .await
        .unwrap();
    mover.await.unwrap();
    assert_eq!(report.fired, 1);
    assert!(report.polls >= 5, "{} polls", report.polls);
    assert!(started.elapsed() < Duration::from_millis(700));
    let _ = rig.clock.now();
}
