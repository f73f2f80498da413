//! The real framework path end to end, in memory: a generated day delivered in Kinesis
//! batches to the three processors over a `MemoryStateStore` (the watermark fed by the
//! events' times, read at each batch's start), and the timer dispatcher advancing idle
//! watermarks and firing the day's event-time timers between batches, then at the end of
//! the input (watermark forced to +∞), with some batches delivered twice. What lands in the outputs and late-events tables
//! equals the ground truth minus exactly the late side output.

use std::collections::BTreeMap;
use std::sync::Arc;

use daily_totals::{
    DailyTotals, DailyTotalsHandler, Dedupe, Dimension, GATE_OPERATOR, OPERATOR_NAME,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shardwise::shard_log::{MemoryShardLog, ShardLogStore};
use shardwise::timer_store::TimerLayout;
use shardwise::{
    Clock, Dispatcher, DispatcherConfig, EventTime, ManualClock, MemoryStateStore,
    ProcessingConfig, StateStore, force_watermark,
};

use crate::framework::kinesis_event;
use crate::scenario::Scenario;

fn split(items: &BTreeMap<String, String>) -> BTreeMap<(String, String), String> {
    items
        .iter()
        .filter_map(|(k, v)| {
            let (pk, sk) = k.split_once('|')?;
            Some(((pk.to_owned(), sk.to_owned()), v.clone()))
        })
        .collect()
}

#[tokio::test]
async fn a_generated_day_through_processors_watermarks_and_the_dispatcher_matches_ground_truth() {
    let processing = ProcessingConfig::new("state", "dead-letters");
    let s = Scenario::new(11, 2_500, processing.watermark.out_of_orderness_ms);
    let store = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(EventTime(s.day_start)));
    let handler = DailyTotalsHandler::new(Arc::clone(&store), &processing, s.config, clock.clone());
    generated_day(&s, &processing, &store, &clock, &handler).await;
}

/// The template's shard-log configuration: re-sends dropped per account by the gate (its
/// memory on an in-memory shard log), product and merchant keys in buckets (a merchant
/// bucket keeping each merchant's sketch); the same outputs, distinct accounts included.
#[tokio::test]
async fn with_the_first_seen_gate_and_buckets_a_generated_day_matches_ground_truth() {
    let processing = ProcessingConfig::new("state", "dead-letters");
    let mut s = Scenario::new(11, 2_500, processing.watermark.out_of_orderness_ms);
    s.config.dedupe = Dedupe::Account;
    s.config.product_buckets = 8;
    s.config.merchant_buckets = 4;
    let store = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(EventTime(s.day_start)));
    let gate_store = ShardLogStore::new(
        Arc::clone(&store),
        Arc::new(MemoryShardLog::default()),
        GATE_OPERATOR,
        TimerLayout::default(),
        clock.clone(),
    );
    let handler = DailyTotalsHandler::new(Arc::clone(&store), &processing, s.config, clock.clone())
        .with_gate(Arc::new(gate_store));
    generated_day(&s, &processing, &store, &clock, &handler).await;
    let states = store.snapshot().states;
    for dimension in ["product", "merchant"] {
        let prefix = format!("daily-totals#{dimension}#");
        let keys: Vec<_> = states.keys().filter(|k| k.starts_with(&prefix)).collect();
        assert!(
            !keys.is_empty() && keys.iter().all(|k| k.contains("#bucket~")),
            "{keys:?}"
        );
    }
    assert!(
        states
            .iter()
            .filter(|(k, _)| k.starts_with("daily-totals#merchant#"))
            .all(|(_, v)| !v.body.contains("\"d\":")),
        "no key keeps a recent-ids list"
    );
}

/// Delivers `s` in batches (some twice) to `handler`, firing timers between them, and
/// checks the outputs against the ground truth.
async fn generated_day<G: StateStore>(
    s: &Scenario,
    processing: &ProcessingConfig,
    store: &Arc<MemoryStateStore>,
    clock: &Arc<ManualClock>,
    handler: &DailyTotalsHandler<MemoryStateStore, G>,
) {
    // Any instance fires any daily-totals key (the dimension is the key's prefix).
    let dispatcher = Dispatcher::new(
        Arc::clone(store),
        clock.clone(),
        DispatcherConfig::from_processing(processing),
    )
    .register(DailyTotals::new(Dimension::Merchant, s.config));

    let (mut fired, mut redelivered) = (0, 0);
    let mut rng = SmallRng::seed_from_u64(5);
    for batch in s.batches(&mut rng.clone()) {
        let at = s.arrival[batch.start].max(s.day_start);
        clock.advance((at - clock.now().0).max(0));
        fired += dispatcher.poll_once().await.unwrap().fired;
        let records: Vec<_> = batch
            .map(|n| {
                let r = &s.records[n];
                let arrival = s.arrival[n].max(s.day_start);
                (
                    r.partition_key.clone(),
                    r.data.clone(),
                    n as u64 + 1,
                    arrival,
                )
            })
            .collect();
        let event = kinesis_event(&records);
        let report = handler.process(&event).await.unwrap();
        assert_eq!(report.first_failure, None);
        // Lambda re-delivers some batches whole (timeouts, retries): no effect twice.
        if rng.random_bool(0.3) {
            handler.process(&event).await.unwrap();
            redelivered += 1;
        }
    }
    assert!(
        fired > 0,
        "the idle watermark passed the day's end between batches"
    );
    force_watermark(&**store, OPERATOR_NAME, EventTime::MAX)
        .await
        .unwrap();
    clock.advance(60_000);
    while dispatcher.poll_once().await.unwrap().fired > 0 {}

    let tables = store.snapshot();
    assert!(
        tables.timers.is_empty(),
        "every timer fired: {:?}",
        tables.timers.len()
    );
    let mut dead: Vec<(u64, String)> = tables
        .dead_letters
        .values()
        .map(|d| {
            (
                d.sequence.as_str().parse::<u64>().unwrap() - 1,
                d.error.clone(),
            )
        })
        .collect();
    dead.sort();
    let late = s.check(&split(&tables.outputs), &split(&tables.late_events), &dead);
    println!(
        "framework path: late (side output) {late}, timers fired before the end {fired}, batches re-delivered {redelivered}"
    );
}
