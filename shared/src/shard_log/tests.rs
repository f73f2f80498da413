//! The shard-log backend against an oracle: the same batches through the per-key
//! [`MemoryStateStore`] path, delivered once each, must give the same states, outputs and
//! dead letters as the shard log under lost writes, lost answers, duplicate deliveries,
//! two processes racing on one shard, restarts and snapshots.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::clock::{Clock, ManualClock};
use crate::codec::JsonCodec;
use crate::commit::Processor;
use crate::config::ProcessingConfig;
use crate::dispatcher::{Dispatcher, DispatcherConfig};
use crate::error::Error;
use crate::ids::{EventTime, ShardId};
use crate::memory_store::{MemoryStateStore, MemoryTables};
use crate::operator::{Context, Operator, RecordMeta, TimeDomain, Timer};
use crate::shard_log::{MemoryShardLog, ShardLogStore, SnapshotPolicy, fire_due_shards};
use crate::state::{KeyedState, MapState, ValueState};
use crate::timer_store::TimerLayout;
use crate::watermark::force_watermark;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ev {
    k: String,
    n: i64,
    t: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct St {
    sum: ValueState<i64>,
    windows: MapState<i64, i64>,
}

impl KeyedState for St {}

/// Sums per key and per 1-second event-time window; a window's sum is emitted (keyed)
/// when the watermark passes it; amounts above 50 emit an alert; `n == 7` sets a
/// processing-time timer a second ahead that emits a ping; `n < 0` is invalid.
#[derive(Debug, Default)]
struct Tally;

impl Operator for Tally {
    type Event = Ev;
    type State = St;
    type Output = i64;

    fn name(&self) -> &str {
        "tally"
    }

    fn key(&self, event: &Ev, _: &RecordMeta) -> Result<String, Error> {
        Ok(event.k.clone())
    }

    fn event_time(&self, event: &Ev) -> Option<EventTime> {
        Some(EventTime(event.t))
    }

    fn on_event(&self, _key: &str, ev: Ev, ctx: &mut Context<'_, St, i64>) -> Result<(), Error> {
        if ev.n < 0 {
            return Err(Error::InvalidRecord("negative".into()));
        }
        *ctx.state().sum.get_mut_or_default() += ev.n;
        let window = ev.t.div_euclid(1000);
        let sum = ctx.state().windows.get(&window).copied().unwrap_or(0) + ev.n;
        ctx.state().windows.insert(window, sum);
        ctx.register_event_timer(EventTime(window * 1000 + 999));
        if ev.n > 50 {
            ctx.emit(ev.n);
        }
        if ev.n == 7 {
            let due = EventTime(ctx.now().0 + 1000);
            ctx.register_processing_timer(due);
        }
        Ok(())
    }

    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, St, i64>,
    ) -> Result<(), Error> {
        match timer.domain {
            TimeDomain::Event => {
                let window = timer.time.0.div_euclid(1000);
                if let Some(sum) = ctx.state().windows.remove(&window) {
                    ctx.emit_keyed(format!("win#{key}"), window.to_string(), sum);
                }
            }
            TimeDomain::Processing => ctx.emit_keyed(format!("ping#{key}"), "ping", 1),
        }
        Ok(())
    }
}

fn shard_of(key: &str) -> &'static str {
    if key.bytes().map(u32::from).sum::<u32>() % 2 == 0 {
        "shardId-000000000000"
    } else {
        "shardId-000000000001"
    }
}

/// A Lambda batch of one shard: (sequence number, record JSON); the partition key is the
/// record's `k` (or `x` for undecodable data).
fn batch(shard: &str, records: &[(u64, String)]) -> KinesisEvent {
    use base64::Engine as _;
    let records: Vec<_> = records
        .iter()
        .map(|(seq, data)| {
            let pk = serde_json::from_str::<Ev>(data).map_or_else(|_| "x".to_owned(), |e| e.k);
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": pk, "sequenceNumber": seq.to_string(),
                    "data": base64::engine::general_purpose::STANDARD.encode(data), "approximateArrivalTimestamp": 1.5e9},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("{shard}:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// A seeded stream split into per-shard batches of `size`, event times increasing (no
/// late events, so when timers fire does not change what they emit), with a malformed
/// record now and then.
fn workload(seed: u64, records: usize, size: usize) -> Vec<KinesisEvent> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut per_shard: BTreeMap<&str, Vec<(u64, String)>> = BTreeMap::new();
    for i in 0..records {
        let key = format!("k{}", rng.random_range(0..40));
        let n: i64 = if rng.random_ratio(1, 50) {
            -1
        } else {
            rng.random_range(0..60)
        };
        let data = if rng.random_ratio(1, 100) {
            "{not json".to_owned()
        } else {
            serde_json::json!({"k": key, "n": n, "t": i64::try_from(i).unwrap() * 37}).to_string()
        };
        let shard = shard_of(&key);
        let seq = 1000 + u64::try_from(i).unwrap();
        per_shard.entry(shard).or_default().push((seq, data));
    }
    // Interleave the shards' batches as two mappings would deliver them.
    let chunks: Vec<Vec<KinesisEvent>> = per_shard
        .iter()
        .map(|(shard, recs)| recs.chunks(size).map(|c| batch(shard, c)).collect())
        .collect();
    let mut out = Vec::new();
    for i in 0..chunks.iter().map(Vec::len).max().unwrap_or(0) {
        for shard in &chunks {
            if let Some(b) = shard.get(i) {
                out.push(b.clone());
            }
        }
    }
    out
}

fn config() -> ProcessingConfig {
    ProcessingConfig::new("state", "dlq")
}

type LogStore = ShardLogStore<MemoryStateStore, MemoryShardLog>;

/// One "function process": its own store (memory) over the shared durable parts.
fn process(
    inner: &Arc<MemoryStateStore>,
    log: &Arc<MemoryShardLog>,
    clock: &Arc<ManualClock>,
    policy: SnapshotPolicy,
) -> (Arc<LogStore>, Processor<Tally, LogStore, JsonCodec<Ev>>) {
    let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    let store = Arc::new(
        ShardLogStore::new(
            Arc::clone(inner),
            Arc::clone(log),
            "tally",
            TimerLayout::default(),
            Arc::clone(&clock),
        )
        .with_snapshot_policy(policy),
    );
    let config = config();
    let dispatcher = DispatcherConfig::from_processing(&config);
    let processor = Processor::new(
        Arc::new(Tally),
        Arc::clone(&store),
        JsonCodec::default(),
        config,
        clock,
    )
    .with_in_process_timers(dispatcher);
    (store, processor)
}

/// The oracle: the per-key path, every batch once, then every timer fired.
async fn oracle(batches: &[KinesisEvent], clock: &Arc<ManualClock>) -> MemoryTables {
    let store = Arc::new(MemoryStateStore::default());
    let dyn_clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    let processor = Processor::new(
        Arc::new(Tally),
        Arc::clone(&store),
        JsonCodec::default(),
        config(),
        Arc::clone(&dyn_clock),
    );
    for b in batches {
        let report = processor.process(b).await.unwrap();
        assert!(report.first_failure.is_none());
    }
    clock.advance(10_000);
    force_watermark(&*store, "tally", EventTime::MAX)
        .await
        .unwrap();
    let dispatcher = Dispatcher::new(
        Arc::clone(&store),
        dyn_clock,
        DispatcherConfig::from_processing(&config()),
    )
    .register(Tally);
    crate::shard_log::drain_timers(&dispatcher).await.unwrap();
    store.snapshot()
}

/// The scheduled dispatcher of `store`'s idle shards (what the timer-dispatcher runs).
fn scheduled_dispatcher(store: &Arc<LogStore>, clock: &Arc<ManualClock>) -> Dispatcher<LogStore> {
    Dispatcher::new(
        Arc::clone(store),
        Arc::clone(clock) as Arc<dyn Clock>,
        DispatcherConfig::from_processing(&config()),
    )
    .register(Tally)
}

/// Ends the shard-log run like the oracle's: a fresh process (the scheduled dispatcher)
/// fires every remaining timer of every shard.
async fn finish(
    inner: &Arc<MemoryStateStore>,
    log: &Arc<MemoryShardLog>,
    clock: &Arc<ManualClock>,
) {
    clock.advance(10_000);
    force_watermark(&**inner, "tally", EventTime::MAX)
        .await
        .unwrap();
    let (store, _) = process(inner, log, clock, SnapshotPolicy::default());
    let dispatcher = scheduled_dispatcher(&store, clock);
    let report = fire_due_shards(&store, &dispatcher, EventTime::MAX)
        .await
        .unwrap();
    assert_eq!(report.deferred, 0);
    assert!(
        store
            .due_shards(EventTime::MAX, EventTime::MAX)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every key's state body as a fresh process restores it.
async fn restored_states(
    inner: &Arc<MemoryStateStore>,
    log: &Arc<MemoryShardLog>,
    clock: &Arc<ManualClock>,
) -> BTreeMap<String, String> {
    use crate::store::StateStore as _;
    let (store, _) = process(inner, log, clock, SnapshotPolicy::default());
    let keys: Vec<String> = (0..40).map(|k| format!("tally#k{k}")).collect();
    let mut states = BTreeMap::new();
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        let shard = ShardId(shard.into());
        store
            .begin_shard(&shard, crate::shards::ShardParents::default())
            .await
            .unwrap();
        for (k, s) in store.get_many(&keys, true).await.unwrap() {
            states.insert(k, s.body);
        }
        store.finish_shard(&shard).await.unwrap();
    }
    states
}

fn oracle_states(tables: &MemoryTables) -> BTreeMap<String, String> {
    tables
        .states
        .iter()
        .filter(|(k, _)| k.starts_with("tally#k"))
        .map(|(k, s)| (k.clone(), s.body.clone()))
        .collect()
}

#[tokio::test]
async fn a_clean_run_equals_the_per_key_path_with_one_object_and_one_checkpoint_per_batch() {
    let batches = workload(1, 600, 50);
    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let expected = oracle(&batches, &clock).await;

    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let inner = Arc::new(MemoryStateStore::default());
    let log = Arc::new(MemoryShardLog::default());
    let (store, processor) = process(&inner, &log, &clock, SnapshotPolicy::default());
    for b in &batches {
        let report = processor.process(b).await.unwrap();
        assert!(report.first_failure.is_none());
    }
    let stats = store.stats();
    let batches_n = u64::try_from(batches.len()).unwrap();
    assert_eq!(
        stats.checkpoints.load(std::sync::atomic::Ordering::Relaxed),
        batches_n
    );
    assert_eq!(log.checkpoint_writes(), batches_n);
    assert!(
        inner.snapshot().commits <= 2 * batches_n,
        "only watermark writes reach the table"
    );
    finish(&inner, &log, &clock).await;

    let actual = inner.snapshot();
    assert!(!expected.outputs.is_empty());
    assert_eq!(actual.outputs, expected.outputs);
    assert_eq!(
        actual.dead_letters.keys().collect::<Vec<_>>(),
        expected.dead_letters.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        restored_states(&inner, &log, &clock).await,
        oracle_states(&expected)
    );
}

#[tokio::test]
async fn lost_writes_lost_answers_duplicates_racing_processes_and_restarts_change_nothing() {
    let (mut failures, mut duplicates, mut restores) = (0, 0, 0);
    for seed in 0..6 {
        let batches = workload(seed, 800, 40);
        let clock = Arc::new(ManualClock::new(EventTime(0)));
        let expected = oracle(&batches, &clock).await;

        let clock = Arc::new(ManualClock::new(EventTime(0)));
        let inner = Arc::new(MemoryStateStore::default());
        let log = Arc::new(MemoryShardLog::default());
        // Small snapshots and logs, so restores cross snapshot rotations.
        let policy = SnapshotPolicy {
            max_log_objects: 3,
            min_log_bytes: 2_000,
            log_to_snapshot: 1,
        };
        let mut processes = [
            process(&inner, &log, &clock, policy),
            process(&inner, &log, &clock, policy),
        ];
        let mut rng = SmallRng::seed_from_u64(seed + 100);
        for (i, b) in batches.iter().enumerate() {
            loop {
                match rng.random_range(0..10) {
                    0 => log.fail_object_puts(1),
                    1 => log.fail_checkpoints(1),
                    2 => log.lose_checkpoint_answers(1),
                    3 => {
                        // A restart: the process's memory is gone.
                        let p = rng.random_range(0..2);
                        processes[p] = process(&inner, &log, &clock, policy);
                    }
                    4 if i > 0 => {
                        // A zombie or retry re-delivers the previous batch of the shard.
                        let earlier = &batches[i.saturating_sub(2)];
                        let p = rng.random_range(0..2);
                        let _ = processes[p].1.process(earlier).await;
                        duplicates += 1;
                    }
                    _ => {}
                }
                let p = rng.random_range(0..2);
                match processes[p].1.process(b).await {
                    Ok(report) if report.first_failure.is_none() => break,
                    _ => failures += 1,
                }
            }
        }
        // Faults the last batches did not run into (nothing left to write) are cleared.
        log.fail_object_puts(0);
        log.fail_checkpoints(0);
        log.lose_checkpoint_answers(0);
        finish(&inner, &log, &clock).await;

        let actual = inner.snapshot();
        assert_eq!(actual.outputs, expected.outputs, "seed {seed}");
        assert_eq!(
            actual.dead_letters.keys().collect::<Vec<_>>(),
            expected.dead_letters.keys().collect::<Vec<_>>(),
            "seed {seed}"
        );
        assert_eq!(
            restored_states(&inner, &log, &clock).await,
            oracle_states(&expected),
            "seed {seed}"
        );
        restores += processes
            .iter()
            .map(|(s, _)| {
                s.stats()
                    .restores
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .sum::<u64>();
    }
    // The faults really happened.
    assert!(
        failures > 20 && duplicates > 5 && restores > 5,
        "{failures} {duplicates} {restores}"
    );
}

#[tokio::test]
async fn due_timers_fire_in_process_at_the_next_batch_and_idle_shards_through_the_dispatcher() {
    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let inner = Arc::new(MemoryStateStore::default());
    let log = Arc::new(MemoryShardLog::default());
    let (_, processor) = process(&inner, &log, &clock, SnapshotPolicy::default());
    let shard = shard_of("k1");
    let ev = |n: i64, t: i64| serde_json::json!({"k": "k1", "n": n, "t": t}).to_string();
    processor
        .process(&batch(shard, &[(1, ev(7, 0))]))
        .await
        .unwrap();
    assert!(inner.snapshot().outputs.is_empty());
    // A second later the ping is due: the next batch of the shard fires it first.
    clock.advance(1_000);
    let report = processor
        .process(&batch(shard, &[(2, ev(1, 100))]))
        .await
        .unwrap();
    assert_eq!(report.metrics.timers_fired, 1);
    assert_eq!(
        inner.snapshot().outputs.get("ping#k1|ping"),
        Some(&"1".to_owned())
    );
    // No more batches come: the event-time windows fire through the dispatcher path.
    finish(&inner, &log, &clock).await;
    assert_eq!(
        inner.snapshot().outputs.get("win#k1|0"),
        Some(&"8".to_owned())
    );
}

#[tokio::test]
async fn a_key_other_than_the_partition_key_is_a_configuration_error_that_commits_nothing() {
    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let inner = Arc::new(MemoryStateStore::default());
    let log = Arc::new(MemoryShardLog::default());
    let (_, processor) = process(&inner, &log, &clock, SnapshotPolicy::default());
    let mut event = batch(
        shard_of("k1"),
        &[(1, r#"{"k":"k1","n":1,"t":0}"#.to_owned())],
    );
    event.records[0].kinesis.partition_key = "someone-else".to_owned();
    let err = processor.process(&event).await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("partition key"), "{err}");
    assert_eq!(log.checkpoint_writes(), 0);
    assert_eq!(log.object_count(), 0);
}

#[tokio::test]
async fn outputs_of_a_last_commit_whose_writer_died_before_publishing_are_republished_by_the_idle_path()
 {
    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let inner = Arc::new(MemoryStateStore::default());
    let log = Arc::new(MemoryShardLog::default());
    let (_, writer) = process(&inner, &log, &clock, SnapshotPolicy::default());
    // The checkpoint is written but its answer is lost: the writer gives up before
    // publishing, and no batch of this shard follows to adopt the version.
    log.lose_checkpoint_answers(1);
    let shard = shard_of("k1");
    let event = batch(shard, &[(1, r#"{"k":"k1","n":60,"t":0}"#.to_owned())]);
    assert!(writer.process(&event).await.is_err());
    assert_eq!(log.checkpoint_writes(), 1);
    assert!(inner.snapshot().outputs.is_empty());

    // A scheduled dispatcher in another process: the first pass sees the version, the
    // next one (the version stayed put) publishes its outputs, later ones leave it be.
    let (store, _) = process(&inner, &log, &clock, SnapshotPolicy::default());
    let dispatcher = scheduled_dispatcher(&store, &clock);
    let reads = || {
        store
            .stats()
            .objects_read
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    fire_due_shards(&store, &dispatcher, EventTime::MIN)
        .await
        .unwrap();
    assert!(inner.snapshot().outputs.is_empty());
    fire_due_shards(&store, &dispatcher, EventTime::MIN)
        .await
        .unwrap();
    assert_eq!(
        inner.snapshot().outputs.values().collect::<Vec<_>>(),
        ["60"]
    );
    assert_eq!(reads(), 1);
    fire_due_shards(&store, &dispatcher, EventTime::MIN)
        .await
        .unwrap();
    assert_eq!(reads(), 1, "published once per version");
    assert_eq!(log.checkpoint_writes(), 1, "re-publishing commits nothing");
}

#[tokio::test]
async fn a_key_that_refines_the_partition_key_after_a_hash_commits_and_a_bare_prefix_does_not() {
    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let inner = Arc::new(MemoryStateStore::default());
    let log = Arc::new(MemoryShardLog::default());
    let (_, processor) = process(&inner, &log, &clock, SnapshotPolicy::default());
    // session-tracker's shape: state key `<account>#<device>`, partition key the account.
    let record = r#"{"k":"acct-1#dev-9","n":1,"t":0}"#.to_owned();
    let mut refined = batch(shard_of("acct-1#dev-9"), &[(1, record.clone())]);
    refined.records[0].kinesis.partition_key = "acct-1".to_owned();
    processor.process(&refined).await.unwrap();
    assert_eq!(log.checkpoint_writes(), 1);

    // `acct-` is a prefix of the key but not followed by `#`: records of account `acct-`
    // and of `acct-1` could then share a key across shards.
    let mut bare = batch(shard_of("acct-1#dev-9"), &[(2, record)]);
    bare.records[0].kinesis.partition_key = "acct-".to_owned();
    let err = processor.process(&bare).await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert_eq!(
        log.checkpoint_writes(),
        1,
        "the rejected batch commits nothing"
    );
}

/// Batches of `records` on `shard`, sequence numbers from `first_seq`, event times from
/// `first_t` (37 ms apart), keys `k0..k39` drawn by `rng`, each record on the shard
/// `owner` names for its key.
fn phase(
    rng: &mut SmallRng,
    shards: &[&str],
    owner: impl Fn(&str) -> usize,
    (records, first_seq, first_t): (usize, u64, i64),
) -> Vec<KinesisEvent> {
    let mut per_shard: Vec<Vec<(u64, String)>> = vec![Vec::new(); shards.len()];
    for i in 0..records {
        let key = format!("k{}", rng.random_range(0..40));
        let n: i64 = rng.random_range(0..60);
        let i64_i = i64::try_from(i).unwrap();
        let data = serde_json::json!({"k": key, "n": n, "t": first_t + i64_i * 37}).to_string();
        let seq = first_seq + u64::try_from(i).unwrap();
        per_shard[owner(&key)].push((seq, data));
    }
    let mut out = Vec::new();
    let chunks: Vec<Vec<KinesisEvent>> = per_shard
        .iter()
        .zip(shards)
        .map(|(recs, shard)| recs.chunks(30).map(|c| batch(shard, c)).collect())
        .collect();
    for i in 0..chunks.iter().map(Vec::len).max().unwrap_or(0) {
        for shard in &chunks {
            if let Some(b) = shard.get(i) {
                out.push(b.clone());
            }
        }
    }
    out
}

#[tokio::test]
async fn after_a_split_and_a_merge_the_children_continue_their_parents_state_and_timers_fire_once()
{
    let (a, b, c, d) = (
        "shardId-000000000000",
        "shardId-000000000002",
        "shardId-000000000003",
        "shardId-000000000004",
    );
    let mut rng = SmallRng::seed_from_u64(42);
    let mut batches = phase(&mut rng, &[a], |_| 0, (300, 1_000, 0));
    batches.extend(phase(
        &mut rng,
        &[b, c],
        |k| usize::from(shard_of(k).ends_with('1')),
        (300, 2_000, 300 * 37),
    ));
    batches.extend(phase(&mut rng, &[d], |_| 0, (300, 3_000, 600 * 37)));
    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let expected = oracle(&batches, &clock).await;

    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let inner = Arc::new(MemoryStateStore::default());
    let log = Arc::new(MemoryShardLog::default());
    let directory: Arc<dyn crate::shards::ShardDirectory> = Arc::new(
        crate::shards::StaticShards::new([d])
            .with_parents(b, &[a])
            .with_parents(c, &[a])
            .with_parents(d, &[b, c]),
    );
    // A new process for every batch: each restores from storage, the children from their
    // parents' objects.
    let mut done = 0;
    for (i, event) in batches.iter().enumerate() {
        let (_, processor) = process(&inner, &log, &clock, SnapshotPolicy::default());
        let processor = processor.with_shard_directory(Arc::clone(&directory));
        let report = processor.process(event).await.unwrap();
        assert!(report.first_failure.is_none(), "batch {i}");
        done += 1;
    }
    assert_eq!(done, batches.len());
    for parent in [a, b, c] {
        let checkpoint = log.checkpoint("tally", &ShardId(parent.into())).unwrap();
        assert!(checkpoint.superseded, "{parent} handed its state on");
    }
    finish(&inner, &log, &clock).await;

    let actual = inner.snapshot();
    assert_same(&actual.outputs, &expected.outputs);
    // The last shard holds every key's state, equal to the per-key path's.
    use crate::store::StateStore as _;
    let (store, _) = process(&inner, &log, &clock, SnapshotPolicy::default());
    store
        .begin_shard(&ShardId(d.into()), crate::shards::ShardParents::default())
        .await
        .unwrap();
    let keys: Vec<String> = (0..40).map(|k| format!("tally#k{k}")).collect();
    let states: BTreeMap<String, String> = store
        .get_many(&keys, true)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, s)| (k, s.body))
        .collect();
    assert_eq!(states, oracle_states(&expected));
}

/// Map equality that names only the differing entries (the maps hold hundreds).
fn assert_same(actual: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) {
    let differing: Vec<String> = actual
        .keys()
        .chain(expected.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| actual.get(*k) != expected.get(*k))
        .take(10)
        .map(|k| format!("{k}: {:?} vs expected {:?}", actual.get(k), expected.get(k)))
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
}
