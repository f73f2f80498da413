//! R1 in `r1-hop` mode against the Flink benchmark's reference (phase 1's Rust model of
//! Flink's HOP windows and watermark), on the benchmark's 2,000-event smoke day, driven
//! through `shardwise::Harness` with the watermark Flink would have on each record.

use std::collections::BTreeSet;

use monitoring::codec::TransactionCodec;
use monitoring::generator::{GeneratorConfig, generate};
use monitoring::model::Transaction;
use shardwise::operator::Placement;
use shardwise::{Codec, EventTime, Harness};
use shardwise_tests::bench::flink::compare::{describe, diff};
use shardwise_tests::bench::flink::input::{Event, parse_line};
use shardwise_tests::bench::flink::reference::{self, R1Alert};

use crate::hop::{
    HopVelocity, R1_PK_PREFIX, R1_SIZE_MS, R1_SLIDE_MS, R1_WATERMARK_OUT_OF_ORDERNESS_MS,
    r1_hop_selected,
};

/// Flink SQL's watermark delay in the benchmark.
const FLINK_DELAY_MS: i64 = 10_000;

/// The smoke day as the benchmark writes it, parsed both ways.
fn day(late: bool) -> Vec<(Event, Transaction)> {
    let config = GeneratorConfig {
        seed: 7,
        transactions: 2_000,
        duplicate_rate: 0.0,
        malformed_rate: 0.0,
        late_events: late,
        late_rate: 0.01,
        ..GeneratorConfig::default()
    };
    let mut jsonl = Vec::new();
    generate(&config)
        .unwrap()
        .write_records_jsonl(&mut jsonl)
        .unwrap();
    let codec = TransactionCodec::default();
    String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| (parse_line(l).unwrap(), codec.decode(l.as_bytes()).unwrap()))
        .collect()
}

/// Runs R1 with the per-record watermark `max(event time so far) - bound`, then closes
/// every window; returns the alert rows and the late transaction ids.
fn run(events: &[(Event, Transaction)]) -> (Vec<R1Alert>, BTreeSet<String>) {
    let mut h = Harness::new(HopVelocity::new());
    let mut max = None::<i64>;
    for (e, tx) in events {
        if let Some(m) = max {
            h.advance_watermark(EventTime(m - R1_WATERMARK_OUT_OF_ORDERNESS_MS))
                .unwrap();
        }
        h.process(tx.clone()).unwrap();
        max = Some(max.map_or(e.event_time_ms, |m| m.max(e.event_time_ms)));
    }
    // One timer per account: at its earliest unfired window end.
    let mut keys_with_timers = BTreeSet::new();
    for (_, key) in h.timers() {
        assert!(keys_with_timers.insert(key.clone()), "{key} has two timers");
    }
    h.advance_watermark(EventTime::MAX).unwrap();
    assert_eq!(h.timers().count(), 0, "every window timer fired");

    let mut keys = BTreeSet::new();
    let mut alerts: Vec<R1Alert> = h
        .outputs
        .iter()
        .map(|(key, placement, a)| {
            let Placement::Keyed { pk, sk } = placement else {
                panic!("R1 rows are keyed: {placement:?}");
            };
            assert!(pk.starts_with(R1_PK_PREFIX));
            assert!(
                keys.insert((pk.clone(), sk.clone())),
                "{pk}/{sk} emitted twice"
            );
            assert_eq!(key, &a.account_id);
            R1Alert {
                account_id: a.account_id.clone(),
                currency: a.currency.clone(),
                window_start_ms: a.window_start_ms,
                window_end_ms: a.window_end_ms,
                count: a.count,
                sum_minor: a.sum_minor,
            }
        })
        .collect();
    alerts.sort();
    let late = h
        .late
        .iter()
        .map(|l| {
            let body: serde_json::Value = serde_json::from_str(&l.body).unwrap();
            body["event"]["transaction_id"].as_str().unwrap().to_owned()
        })
        .collect();
    (alerts, late)
}

fn assert_same(expected: &[R1Alert], actual: &[R1Alert]) {
    let d = diff(expected, actual);
    assert!(d.is_empty(), "{}", describe("R1", &d, 10).join("\n"));
}

#[test]
fn r1_hop_alerts_equal_flinks_reference_with_late_events_off() {
    let events = day(false);
    let reference = reference::compute(
        &events.iter().map(|(e, _)| e.clone()).collect::<Vec<_>>(),
        Some(FLINK_DELAY_MS),
    );
    assert!(
        !reference.r1.is_empty(),
        "the smoke day has velocity alerts"
    );
    assert!(reference.late.is_empty());
    let (alerts, late) = run(&events);
    assert_same(&reference.r1, &alerts);
    assert!(late.is_empty(), "{late:?}");
}

#[test]
fn r1_hop_alerts_equal_flinks_reference_and_late_records_go_to_the_side_output() {
    let events = day(true);
    let plain: Vec<Event> = events.iter().map(|(e, _)| e.clone()).collect();
    let reference = reference::compute(&plain, Some(FLINK_DELAY_MS));
    let windows_per_record = u32::try_from(R1_SIZE_MS / R1_SLIDE_MS).unwrap();
    // Records dropped from every R1 window are what Flink drops and Shardwise routes to
    // its late output; a record dropped from only some windows counts in the others.
    let dropped: BTreeSet<String> = reference
        .late
        .iter()
        .filter(|l| l.r1_windows_dropped == windows_per_record)
        .map(|l| l.transaction_id.clone())
        .collect();
    assert!(!dropped.is_empty(), "the late day has late records");
    let (alerts, late) = run(&events);
    assert_same(&reference.r1, &alerts);
    assert_eq!(late, dropped);
}

#[test]
fn the_mode_is_selected_only_by_fraud_rules_r1_hop() {
    assert!(r1_hop_selected(
        |n| (n == "FRAUD_RULES").then(|| "r1-hop".into())
    ));
    assert!(!r1_hop_selected(|_| None));
    assert!(!r1_hop_selected(
        |n| (n == "FRAUD_RULES").then(|| "default".into())
    ));
}
