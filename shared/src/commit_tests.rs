//! Unit tests of the batch commit over the in-memory store: dedupe, poison records,
//! stop-at-first-failure, the size limit, conflicts and at-least-once behaviour.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::event::kinesis::KinesisEvent;
use serde::{Deserialize, Serialize};

use crate::clock::ManualClock;
use crate::codec::JsonCodec;
use crate::commit::Processor;
use crate::config::{Consistency, ProcessingConfig};
use crate::error::Error;
use crate::ids::EventTime;
use crate::memory_store::MemoryStateStore;
use crate::operator::{Context, Operator, RecordMeta};
use crate::state::{KeyedState, ListState, ValueState};
use crate::store::{CommitResult, KeyCommit, StateStore, StoredState};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ev {
    k: String,
    n: i64,
    #[serde(default)]
    pad: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct St {
    sum: ValueState<i64>,
    seen: ListState<String>,
}

impl KeyedState for St {}

/// Sums `n`; `n < 0` is invalid; `n == 999` asks for a retry while `flaky` is set;
/// `pad` grows the state by that many bytes.
#[derive(Debug, Default)]
struct Summer {
    flaky: AtomicBool,
}

impl Operator for Summer {
    type Event = Ev;
    type State = St;
    type Output = i64;

    fn name(&self) -> &str {
        "sum"
    }

    fn key(&self, event: &Ev, _: &RecordMeta) -> Result<String, Error> {
        Ok(event.k.clone())
    }

    fn on_event(&self, _key: &str, ev: Ev, ctx: &mut Context<'_, St, i64>) -> Result<(), Error> {
        if ev.n < 0 {
            return Err(Error::InvalidRecord("negative".into()));
        }
        if ev.n == 999 && self.flaky.load(Ordering::SeqCst) {
            return Err(Error::OperatorRetry("not yet".into()));
        }
        *ctx.state().sum.get_mut_or_default() += ev.n;
        if ev.pad > 0 {
            ctx.state().seen.push("x".repeat(ev.pad));
        }
        if ev.n > 50 {
            ctx.emit(ev.n);
        }
        Ok(())
    }
}

fn event(shard: &str, records: &[(u64, &str)]) -> KinesisEvent {
    use base64::Engine as _;
    let records: Vec<_> = records
        .iter()
        .map(|(seq, data)| {
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": seq.to_string(),
                    "data": base64::engine::general_purpose::STANDARD.encode(data), "approximateArrivalTimestamp": 1.5e9},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("{shard}:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

fn processor<S: StateStore>(
    store: Arc<S>,
    consistency: Consistency,
) -> Processor<Summer, S, JsonCodec<Ev>> {
    let mut config = ProcessingConfig::new("state", "dlq");
    config.consistency = consistency;
    config.max_state_bytes = 1_000;
    Processor::new(
        Arc::new(Summer::default()),
        store,
        JsonCodec::default(),
        config,
        Arc::new(ManualClock::new(EventTime(0))),
    )
}

fn sum(store: &MemoryStateStore, key: &str) -> Option<i64> {
    let snap = store.snapshot();
    let body = &snap.states.get(&format!("sum#{key}"))?.body;
    serde_json::from_str::<St>(body).ok()?.sum.get().copied()
}

const A1: &str = r#"{"k":"a","n":1}"#;
const A2: &str = r#"{"k":"a","n":2}"#;
const B60: &str = r#"{"k":"b","n":60}"#;

#[tokio::test]
async fn a_redelivered_batch_is_skipped_by_the_high_water_marks() {
    let store = Arc::new(MemoryStateStore::default());
    let p = processor(Arc::clone(&store), Consistency::ExactlyOnce);
    let batch = event("shardId-0", &[(10, A1), (11, B60), (12, A2)]);
    let first = p.process(&batch).await.unwrap();
    assert_eq!(
        first.metrics.key_commits, 2,
        "one write per key, not per record"
    );
    let again = p.process(&batch).await.unwrap();
    assert_eq!(again.metrics.duplicates_skipped, 3);
    assert_eq!(again.metrics.key_commits, 0);
    assert_eq!(sum(&store, "a"), Some(3));
    assert_eq!(store.snapshot().outputs.len(), 1);
}

#[tokio::test]
async fn at_least_once_applies_a_redelivered_batch_again() {
    let store = Arc::new(MemoryStateStore::default());
    let p = processor(Arc::clone(&store), Consistency::AtLeastOnce);
    let batch = event("shardId-0", &[(10, A1), (12, A2)]);
    p.process(&batch).await.unwrap();
    p.process(&batch).await.unwrap();
    assert_eq!(sum(&store, "a"), Some(6));
}

#[tokio::test]
async fn the_same_sequence_numbers_from_another_shard_are_not_duplicates() {
    let store = Arc::new(MemoryStateStore::default());
    let p = processor(Arc::clone(&store), Consistency::ExactlyOnce);
    p.process(&event("shardId-0", &[(10, A1)])).await.unwrap();
    p.process(&event("shardId-1", &[(10, A2)])).await.unwrap();
    assert_eq!(sum(&store, "a"), Some(3));
}

#[tokio::test]
async fn poison_records_are_dead_lettered_with_their_bytes_and_the_shard_moves_on() {
    let store = Arc::new(MemoryStateStore::default());
    let p = processor(Arc::clone(&store), Consistency::ExactlyOnce);
    let report = p
        .process(&event(
            "shardId-0",
            &[(1, A1), (2, "garbage"), (3, r#"{"k":"a","n":-1}"#), (4, A2)],
        ))
        .await
        .unwrap();
    assert!(report.first_failure.is_none());
    assert_eq!(report.metrics.dead_lettered, 2);
    let snap = store.snapshot();
    let letters: Vec<_> = snap.dead_letters.values().collect();
    assert_eq!(letters.len(), 2);
    assert!(
        letters
            .iter()
            .any(|l| l.data == b"garbage" && l.sequence.as_str() == "2")
    );
    assert_eq!(
        sum(&store, "a"),
        Some(3),
        "the invalid record left no partial effect"
    );
}

#[tokio::test]
async fn a_retryable_failure_reports_the_first_failed_record_and_keeps_earlier_work() {
    let store = Arc::new(MemoryStateStore::default());
    let p = processor(Arc::clone(&store), Consistency::ExactlyOnce);
    p.operator.flaky.store(true, Ordering::SeqCst);
    let batch = event(
        "shardId-0",
        &[(1, A1), (2, B60), (3, r#"{"k":"a","n":999}"#), (4, A2)],
    );
    let report = p.process(&batch).await.unwrap();
    assert_eq!(report.first_failure.as_ref().map(|s| s.as_str()), Some("3"));
    assert_eq!(
        serde_json::to_value(report.response()).unwrap()["batchItemFailures"][0]["itemIdentifier"],
        "3"
    );
    assert_eq!(
        sum(&store, "a"),
        Some(1),
        "the key stopped before the failed record"
    );
    // Lambda re-delivers from record 3; now it succeeds and nothing is applied twice.
    p.operator.flaky.store(false, Ordering::SeqCst);
    let retry = event("shardId-0", &[(3, r#"{"k":"a","n":999}"#), (4, A2)]);
    assert!(p.process(&retry).await.unwrap().first_failure.is_none());
    assert_eq!(sum(&store, "a"), Some(1002));
    assert_eq!(sum(&store, "b"), Some(60));
}

#[tokio::test]
async fn a_record_that_would_outgrow_the_item_is_dead_lettered_and_the_state_stays_valid() {
    let store = Arc::new(MemoryStateStore::default());
    let p = processor(Arc::clone(&store), Consistency::ExactlyOnce);
    let small = r#"{"k":"a","n":1,"pad":100}"#;
    let huge = r#"{"k":"a","n":5,"pad":5000}"#;
    let report = p
        .process(&event("shardId-0", &[(1, small), (2, huge), (3, small)]))
        .await
        .unwrap();
    assert!(report.first_failure.is_none());
    assert_eq!(report.metrics.dead_lettered, 1);
    let snap = store.snapshot();
    assert!(
        snap.dead_letters
            .values()
            .all(|l| l.error.contains("bytes"))
    );
    assert_eq!(sum(&store, "a"), Some(2));
    assert!(snap.states.values().all(|s| s.body.len() <= 1_000));
}

/// A store where another writer bumps the version right before our first commit.
#[derive(Debug, Default)]
struct Racing {
    inner: MemoryStateStore,
    raced: AtomicBool,
}

impl StateStore for Racing {
    async fn get_many(
        &self,
        keys: &[String],
        c: bool,
    ) -> Result<std::collections::HashMap<String, StoredState>, Error> {
        self.inner.get_many(keys, c).await
    }

    async fn commit(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        if !self.raced.swap(true, Ordering::SeqCst) {
            let mut rival = commit.clone();
            rival.state.body = serde_json::to_string(&St {
                sum: {
                    let mut v = ValueState::default();
                    v.set(100);
                    v
                },
                ..Default::default()
            })
            .unwrap();
            rival.state.high_water.clear();
            rival.outputs.clear();
            self.inner.commit(&rival).await?;
        }
        self.inner.commit(commit).await
    }

    async fn dead_letter(&self, letter: &crate::deadletter::DeadLetter) -> Result<(), Error> {
        self.inner.dead_letter(letter).await
    }
}

#[tokio::test]
async fn a_version_conflict_re_reads_the_key_and_re_applies_on_the_fresh_state() {
    let store = Arc::new(Racing::default());
    let p = processor(Arc::clone(&store), Consistency::ExactlyOnce);
    let report = p
        .process(&event("shardId-0", &[(1, A1), (2, A2)]))
        .await
        .unwrap();
    assert_eq!(report.metrics.conflicts, 1);
    assert_eq!(
        sum(&store.inner, "a"),
        Some(103),
        "our records applied on top of the rival's write"
    );
}

#[tokio::test]
async fn a_record_the_operator_keeps_refusing_is_dead_lettered_after_max_attempts() {
    let store = Arc::new(MemoryStateStore::default());
    let p = processor(Arc::clone(&store), Consistency::ExactlyOnce);
    p.operator.flaky.store(true, Ordering::SeqCst);
    let batch = event(
        "shardId-0",
        &[(1, A1), (3, r#"{"k":"a","n":999}"#), (4, A2)],
    );
    for attempt in 1..3u32 {
        let report = p.process(&batch).await.unwrap();
        assert_eq!(
            report.first_failure.as_ref().map(|s| s.as_str()),
            Some("3"),
            "attempt {attempt}"
        );
        let snap = store.snapshot();
        assert_eq!(
            snap.states["sum#a"].failing.as_ref().map(|f| f.attempts),
            Some(attempt)
        );
    }
    // The third failure (max_record_attempts = 3) turns the record into poison.
    let report = p.process(&batch).await.unwrap();
    assert!(report.first_failure.is_none());
    let snap = store.snapshot();
    assert_eq!(snap.dead_letters.len(), 1);
    assert!(
        snap.dead_letters
            .values()
            .all(|l| l.error.contains("failed 3 times"))
    );
    assert_eq!(snap.states["sum#a"].failing, None);
    assert_eq!(sum(&store, "a"), Some(3));
}

/// [`Summer`] whose events happen at `n` seconds, so batches move the watermark.
#[derive(Debug, Default)]
struct TimedSummer(Summer);

impl Operator for TimedSummer {
    type Event = Ev;
    type State = St;
    type Output = i64;

    fn name(&self) -> &str {
        "sum"
    }

    fn key(&self, event: &Ev, meta: &RecordMeta) -> Result<String, Error> {
        self.0.key(event, meta)
    }

    fn event_time(&self, event: &Ev) -> Option<EventTime> {
        Some(EventTime(event.n * 1_000))
    }

    fn on_event(&self, key: &str, ev: Ev, ctx: &mut Context<'_, St, i64>) -> Result<(), Error> {
        self.0.on_event(key, ev, ctx)
    }
}

async fn watermark_after_one_batch(
    directory: Option<crate::shards::StaticShards>,
) -> crate::watermark::Watermarks {
    let store = Arc::new(MemoryStateStore::default());
    let mut p = Processor::new(
        Arc::new(TimedSummer::default()),
        Arc::clone(&store),
        JsonCodec::<Ev>::default(),
        ProcessingConfig::new("state", "dlq"),
        Arc::new(ManualClock::new(EventTime(0))),
    );
    if let Some(d) = directory {
        p = p.with_shard_directory(Arc::new(d));
    }
    p.process(&event("shardId-0", &[(10, r#"{"k":"a","n":600}"#)]))
        .await
        .unwrap();
    crate::watermark::read(&*store, "sum").await.unwrap()
}

#[tokio::test]
async fn shards_that_have_not_reported_yet_hold_the_operator_watermark_back() {
    let policy = crate::watermark::WatermarkPolicy::default();
    let alone = watermark_after_one_batch(None).await;
    assert_eq!(
        alone.operator_watermark(EventTime(0), &policy),
        EventTime(600_000 - policy.out_of_orderness_ms),
        "without discovery the first shard sets the watermark alone"
    );
    let discovered = watermark_after_one_batch(Some(crate::shards::StaticShards::new([
        "shardId-0",
        "shardId-1",
    ])))
    .await;
    assert_eq!(discovered.shards["shardId-1"].watermark, i64::MIN);
    assert_eq!(
        discovered.operator_watermark(EventTime(0), &policy),
        EventTime::MIN,
        "shardId-1's first records are not judged against shardId-0's watermark"
    );
}
