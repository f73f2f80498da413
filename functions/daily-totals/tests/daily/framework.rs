//! Batches through the real framework path: three `Processor`s over a
//! `MemoryStateStore`, re-delivery, dead letters.

use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine;
use daily_totals::{DailyTotalsConfig, DailyTotalsHandler};
use monitoring::generator::{GeneratorConfig, RecordKind, generate};
use shardwise::{EventTime, ManualClock, MemoryStateStore, ProcessingConfig};

fn kinesis_event(records: &[(String, Vec<u8>)], first_sequence: u64) -> KinesisEvent {
    let records: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(i, (pk, data))| {
            let seq = (first_sequence + i as u64).to_string();
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": pk, "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_795_305_600.0 + i as f64},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/r", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/transactions"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

#[tokio::test]
async fn batches_commit_every_dimension_once_and_redelivery_changes_nothing() {
    let generated = generate(&GeneratorConfig {
        transactions: 600,
        malformed_rate: 0.02,
        ..GeneratorConfig::default()
    })
    .unwrap();
    let records: Vec<(String, Vec<u8>)> = generated
        .records()
        .map(|r| (r.partition_key, r.data))
        .collect();
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
    let event = kinesis_event(&records, 1);
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
