//! Timer, watermark and TTL tests with controlled time (a `ManualClock`) over the
//! in-memory store; the shared fixtures (the `Ticker` operator, the `Rig`) live here and
//! `dispatcher_fault_tests` reuses them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, ManualClock};
use crate::codec::JsonCodec;
use crate::commit::Processor;
use crate::config::ProcessingConfig;
use crate::dispatcher::{Dispatcher, DispatcherConfig};
use crate::error::Error;
use crate::ids::EventTime;
use crate::memory_store::MemoryStateStore;
use crate::operator::{Context, Operator, RecordMeta, TimeDomain, Timer};
use crate::state::{KeyedState, Lifetime, MapState, ValueState};
use crate::store::StateStore;
use crate::timer_store::TimerLayout;

/// Start of the tests' processing time: a whole minute.
pub(crate) const T0: i64 = 1_700_000_040_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Ev {
    pub(crate) k: String,
    #[serde(default)]
    pub(crate) t: Option<i64>,
    #[serde(default)]
    pub(crate) set: Vec<i64>,
    #[serde(default)]
    pub(crate) del: Vec<i64>,
    #[serde(default)]
    pub(crate) event_set: Vec<i64>,
    #[serde(default)]
    pub(crate) heartbeat: Option<i64>,
    #[serde(default)]
    pub(crate) expires: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct St {
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

/// This key's timers at times that are not whole seconds fail with a poison error.
pub(crate) const UNLUCKY_KEY: &str = "unlucky";

/// Registers/deletes the timers its events ask for; a fired timer is counted in the
/// state, emitted, and re-armed `heartbeat` ms later when the key has a heartbeat.
#[derive(Debug)]
pub(crate) struct Ticker;

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
        if key == UNLUCKY_KEY && timer.time.0 % 1_000 != 0 {
            return Err(Error::InvalidRecord(format!(
                "unlucky timer {}",
                timer.time.0
            )));
        }
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

pub(crate) fn batch(shard: &str, first_seq: u64, events: &[Ev]) -> KinesisEvent {
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

pub(crate) fn ev(k: &str) -> Ev {
    Ev {
        k: k.to_owned(),
        ..Ev::default()
    }
}

pub(crate) fn config(spread: u32) -> ProcessingConfig {
    let mut c = ProcessingConfig::new("state", "dlq");
    c.timer_layout = TimerLayout {
        bucket_ms: 60_000,
        spread,
    };
    c
}

pub(crate) struct Rig<S: StateStore> {
    pub(crate) store: Arc<S>,
    pub(crate) clock: ManualClock,
    pub(crate) processor: Processor<Ticker, S, JsonCodec<Ev>>,
    pub(crate) config: ProcessingConfig,
}

impl<S: StateStore> Rig<S> {
    pub(crate) fn new(store: Arc<S>, config: ProcessingConfig) -> Self {
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

    pub(crate) fn dispatcher(&self) -> Dispatcher<S> {
        self.dispatcher_with(|_| {})
    }

    pub(crate) fn dispatcher_with(
        &self,
        tweak: impl FnOnce(&mut DispatcherConfig),
    ) -> Dispatcher<S> {
        let mut dc = DispatcherConfig::from_processing(&self.config);
        dc.concurrency = 8;
        tweak(&mut dc);
        Dispatcher::new(Arc::clone(&self.store), Arc::new(self.clock.clone()), dc).register(Ticker)
    }

    pub(crate) async fn send(&self, shard: &str, seq: u64, events: &[Ev]) {
        let report = self
            .processor
            .process(&batch(shard, seq, events))
            .await
            .unwrap();
        assert_eq!(report.first_failure, None);
    }
}

pub(crate) fn fired(store: &MemoryStateStore, key: &str) -> Vec<(String, u64)> {
    let snap = store.snapshot();
    let Some(item) = snap.states.get(&format!("ticker#{key}")) else {
        return Vec::new();
    };
    let st: St = serde_json::from_str(&item.body).unwrap();
    st.fired.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

/// Polls until no backlog is left; returns the total fired.
pub(crate) async fn drain<S: StateStore>(d: &Dispatcher<S>) -> u64 {
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

pub(crate) fn timer_items(store: &MemoryStateStore) -> usize {
    store.snapshot().timers.len()
}

pub(crate) fn memory_rig(spread: u32) -> Rig<MemoryStateStore> {
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

#[tokio::test]
async fn a_timer_whose_callback_fails_for_good_is_dead_lettered_once_and_the_others_still_fire() {
    let rig = memory_rig(4);
    let (bad, good) = (T0 + 10_013, T0 + 20_000);
    rig.send(
        "shardId-0",
        1,
        &[Ev {
            set: vec![bad, good],
            ..ev(UNLUCKY_KEY)
        }],
    )
    .await;
    let d = rig.dispatcher();
    rig.clock.advance(30_000);
    let mut total = crate::dispatcher::DispatchReport::default();
    for _ in 0..5 {
        total.absorb(d.poll_once().await.unwrap());
    }
    assert_eq!((total.fired, total.dead_lettered), (1, 1));
    assert_eq!(
        fired(&rig.store, UNLUCKY_KEY),
        vec![(format!("p:{good}"), 1)]
    );
    assert_eq!(timer_items(&rig.store), 0, "both timers are gone");
    let snap = rig.store.snapshot();
    assert_eq!(snap.timer_dead_letters.len(), 1);
    let (pk, body) = snap.timer_dead_letters.iter().next().unwrap();
    assert_eq!(pk, &format!("ticker#timer#processing#{bad}#{UNLUCKY_KEY}"));
    let letter: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(letter["timer_time"], bad);
    assert!(
        letter["error"].as_str().unwrap().contains("unlucky timer"),
        "{letter}"
    );
    let state: St = serde_json::from_str(letter["state"].as_str().unwrap()).unwrap();
    assert!(
        state
            .fired
            .iter()
            .all(|(tag, _)| tag != &format!("p:{bad}"))
    );
}
