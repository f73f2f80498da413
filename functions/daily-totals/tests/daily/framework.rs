//! Batches through the real framework path: three `Processor`s over a
//! `MemoryStateStore`, re-delivery, dead letters.

use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use daily_totals::{DailyTotalsConfig, DailyTotalsHandler};
use monitoring::generator::{GeneratorConfig, RecordKind, generate};
use shardwise::{EventTime, ManualClock, MemoryStateStore, ProcessingConfig, StaticShards};

/// A Kinesis batch of `(partition key, data, sequence number, arrival ms)` on shard 0.
pub fn kinesis_event(records: &[(String, Vec<u8>, u64, i64)]) -> KinesisEvent {
    kinesis_event_on("shardId-000000000000", records)
}

/// [`kinesis_event`] on `shard`.
pub fn kinesis_event_on(shard: &str, records: &[(String, Vec<u8>, u64, i64)]) -> KinesisEvent {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(pk, data, seq, arrival_ms)| {
            let seq = seq.to_string();
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": pk, "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": *arrival_ms as f64 / 1000.0},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("{shard}:{seq}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/r", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/transactions"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// The generated records as `(partition key, data, sequence number, arrival ms)`, numbered
/// from 1 and arriving a millisecond apart.
fn numbered(generated: &monitoring::generator::Generated) -> Vec<(String, Vec<u8>, u64, i64)> {
    generated
        .records()
        .enumerate()
        .map(|(i, r)| {
            (
                r.partition_key,
                r.data,
                i as u64 + 1,
                1_795_305_600_000 + i as i64,
            )
        })
        .collect()
}

#[tokio::test]
async fn batches_commit_every_dimension_once_and_redelivery_changes_nothing() {
    let generated = generate(&GeneratorConfig {
        transactions: 600,
        malformed_rate: 0.02,
        ..GeneratorConfig::default()
    })
    .unwrap();
    let records = numbered(&generated);
    let malformed = generated
        .records()
        .filter(|r| r.kind == RecordKind::Malformed)
        .count();
    let store = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(EventTime(1_795_400_000_000)));
    let processing = ProcessingConfig::new("state", "dead-letters");
    let handler = DailyTotalsHandler::new(
        Arc::clone(&store),
        &processing,
        DailyTotalsConfig::default(),
        clock,
    );
    let event = kinesis_event(&records);
    let report = handler.process(&event).await.unwrap();
    assert_eq!(report.first_failure, None);
    let first = store.snapshot();
    assert_eq!(
        first.dead_letters.len(),
        malformed,
        "one dead letter per malformed record"
    );
    let day_keys = first
        .states
        .keys()
        .filter(|k| k.starts_with("daily-totals#day#"))
        .count();
    assert_eq!(day_keys, 1);
    assert!(
        first
            .states
            .keys()
            .any(|k| k.starts_with("daily-totals#merchant#"))
    );
    assert!(
        first
            .states
            .keys()
            .any(|k| k.starts_with("daily-totals#product#"))
    );

    // Lambda re-delivers the whole batch (e.g. after a timeout): nothing changes.
    let again = handler.process(&event).await.unwrap();
    assert_eq!(again.first_failure, None);
    let second = store.snapshot();
    assert_eq!(second.states, first.states);
    assert_eq!(second.commits, first.commits);
}

/// One generated transaction re-timed to `event_time` (RFC 3339), as record bytes.
fn transaction_at(n: usize, event_time: &str) -> (String, Vec<u8>) {
    let generated = generate(&GeneratorConfig {
        transactions: 20,
        malformed_rate: 0.0,
        duplicate_rate: 0.0,
        late_events: false,
        ..GeneratorConfig::default()
    })
    .unwrap();
    let record = generated.records().nth(n).unwrap();
    let mut tx: serde_json::Value = serde_json::from_slice(&record.data).unwrap();
    tx["event_time"] = event_time.into();
    (record.partition_key, serde_json::to_vec(&tx).unwrap())
}

/// Shard 0 delivers a record of the next day (its watermark passes the first day's end),
/// then shard 1 delivers its first record, of the first day. Returns the late events.
async fn second_shard_first_record(with_directory: bool) -> usize {
    let store = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(EventTime(1_795_478_400_000))); // 2026-11-23
    let processing = ProcessingConfig::new("state", "dead-letters");
    let config = DailyTotalsConfig {
        allowed_lateness_ms: 0,
        ..DailyTotalsConfig::default()
    };
    let mut handler = DailyTotalsHandler::new(Arc::clone(&store), &processing, config, clock);
    if with_directory {
        handler = handler.with_shard_directory(Arc::new(StaticShards::new([
            "shardId-000000000000",
            "shardId-000000000001",
        ])));
    }
    let (pk, next_day) = transaction_at(0, "2026-11-22T12:00:00.000Z");
    let first = kinesis_event_on(
        "shardId-000000000000",
        &[(pk, next_day, 1, 1_795_392_000_000)],
    );
    assert_eq!(handler.process(&first).await.unwrap().first_failure, None);
    let (pk, first_day) = transaction_at(1, "2026-11-21T12:00:00.000Z");
    let second = kinesis_event_on(
        "shardId-000000000001",
        &[(pk, first_day, 2, 1_795_392_000_500)],
    );
    assert_eq!(handler.process(&second).await.unwrap().first_failure, None);
    store.snapshot().late_events.len()
}

#[tokio::test]
async fn a_shard_that_has_not_delivered_yet_holds_the_watermark_back() {
    assert_eq!(
        second_shard_first_record(true).await,
        0,
        "with the stream's shards known, shard 1's first record is on time"
    );
    assert!(
        second_shard_first_record(false).await > 0,
        "without them, shard 0 alone set the watermark and the record was routed late"
    );
}

/// A handler behind the first-seen gate (memory on an in-memory shard log), with the
/// gate's store for a second gate over the same memory.
type GateStore =
    shardwise::shard_log::ShardLogStore<MemoryStateStore, shardwise::shard_log::MemoryShardLog>;

fn gated(
    store: &Arc<MemoryStateStore>,
    clock: &Arc<ManualClock>,
) -> (
    DailyTotalsHandler<MemoryStateStore, GateStore>,
    Arc<GateStore>,
) {
    let gate_store = Arc::new(shardwise::shard_log::ShardLogStore::new(
        Arc::clone(store),
        Arc::new(shardwise::shard_log::MemoryShardLog::default()),
        daily_totals::GATE_OPERATOR,
        shardwise::timer_store::TimerLayout::default(),
        clock.clone(),
    ));
    let config = DailyTotalsConfig {
        dedupe: daily_totals::Dedupe::Account,
        product_buckets: 4,
        ..DailyTotalsConfig::default()
    };
    let handler = DailyTotalsHandler::new(
        Arc::clone(store),
        &ProcessingConfig::new("state", "dead-letters"),
        config,
        clock.clone(),
    )
    .with_gate(Arc::clone(&gate_store));
    (handler, gate_store)
}

#[tokio::test]
async fn when_the_gates_decisions_were_durable_but_the_totals_were_not_the_redelivered_originals_still_count()
 {
    let generated = generate(&GeneratorConfig {
        transactions: 40,
        malformed_rate: 0.0,
        duplicate_rate: 0.0,
        late_events: false,
        ..GeneratorConfig::default()
    })
    .unwrap();
    let mut records = numbered(&generated);
    // The producer re-sends the first two transactions at the end of the batch.
    for n in 0..2 {
        let (pk, data, _, _) = records[n].clone();
        let seq = records.len() as u64 + 1;
        records.push((pk, data, seq, 1_795_305_660_000));
    }
    let event = kinesis_event(&records);
    let clock = Arc::new(ManualClock::new(EventTime(1_795_400_000_000)));

    // Reference: the batch processed once.
    let reference = Arc::new(MemoryStateStore::default());
    let (handler, _) = gated(&reference, &clock);
    assert_eq!(handler.process(&event).await.unwrap().first_failure, None);

    // The gate commits its decisions, then the function dies before any total commits;
    // Lambda re-delivers the whole batch to a warm function.
    let store = Arc::new(MemoryStateStore::default());
    let (handler, gate_store) = gated(&store, &clock);
    let crashed =
        daily_totals::FirstSeenGate::new(gate_store, daily_totals::TxnCodec::new(clock.clone()));
    let admitted = crashed.admit(&event).await.unwrap();
    assert_eq!(admitted.resends, 2);
    assert!(
        store
            .snapshot()
            .states
            .keys()
            .all(|k| !k.starts_with("daily-totals#"))
    );
    assert_eq!(handler.process(&event).await.unwrap().first_failure, None);

    let totals = |s: &MemoryStateStore| {
        s.snapshot()
            .states
            .into_iter()
            .filter(|(k, _)| {
                k.starts_with("daily-totals#merchant#") || k.starts_with("daily-totals#product#")
            })
            .map(|(k, v)| (k, v.body))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let expected = totals(&reference);
    assert!(!expected.is_empty());
    assert_eq!(
        totals(&store),
        expected,
        "each original counted once, no re-send"
    );
}
