//! The framework path over the real AWS wire protocol (the in-process emulator's
//! DynamoDB through `DynamoStateStore`): state, timers, outputs, late events and dead
//! letters in pk+sk tables as the template declares them. Checks the items the
//! reconciler and query-api read — pk `daily-totals#<day>`, the contract's sort keys,
//! `final`, `revenue_minor` and `count` flattened as BOOL and N — against ground truth.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use daily_totals::{DailyTotals, DailyTotalsHandler, Dimension, OPERATOR_NAME};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use shardwise::{
    Clock, Dispatcher, DispatcherConfig, DynamoStateStore, EventTime, ManualClock,
    ProcessingConfig, force_watermark,
};
use shardwise_tests::TestEnv;

use crate::framework::kinesis_event;
use crate::scenario::Scenario;

type Item = HashMap<String, AttributeValue>;

async fn scan(env: &TestEnv, table: &str) -> Vec<Item> {
    let (mut items, mut start) = (Vec::new(), None);
    loop {
        let page = env
            .dynamodb()
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn by_key(items: &[Item]) -> BTreeMap<(String, String), String> {
    items
        .iter()
        .map(|i| ((text(i, "pk"), text(i, "sk")), text(i, "body")))
        .collect()
}

#[tokio::test]
async fn a_generated_day_over_dynamodb_writes_the_contract_items_equal_to_ground_truth() {
    let env = TestEnv::start().await;
    let [state, dlq, outputs, late, timers] =
        ["state", "dlq", "outputs", "late", "timers"].map(|p| env.unique_name(p));
    for table in [&state, &dlq, &outputs, &late, &timers] {
        env.create_keyed_table(table).await.unwrap();
    }
    let mut processing = ProcessingConfig::new(&state, &dlq);
    processing.output_table = Some(outputs.clone());
    processing.late_events_table = Some(late.clone());
    processing.timers_table = Some(timers.clone());
    let s = Scenario::new(11, 1_500, processing.watermark.out_of_orderness_ms);
    let store = Arc::new(
        DynamoStateStore::new(env.dynamodb(), &state, Some(&outputs), &dlq)
            .with_late_events_table(Some(&late))
            .with_timers_table(Some(&timers)),
    );
    let clock = Arc::new(ManualClock::new(EventTime(s.day_start)));
    let handler = DailyTotalsHandler::new(Arc::clone(&store), &processing, s.config, clock.clone());
    let dispatcher = Dispatcher::new(
        Arc::clone(&store),
        clock.clone(),
        DispatcherConfig::from_processing(&processing),
    )
    .register(DailyTotals::new(Dimension::Product, s.config));

    for batch in s.batches(&mut SmallRng::seed_from_u64(9)) {
        let at = s.arrival[batch.start].max(s.day_start);
        clock.advance((at - clock.now().0).max(0));
        dispatcher.poll_once().await.unwrap();
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
        let report = handler.process(&kinesis_event(&records)).await.unwrap();
        assert_eq!(report.first_failure, None, "{:?}", report.metrics);
    }
    force_watermark(&*store, OPERATOR_NAME, EventTime::MAX)
        .await
        .unwrap();
    clock.advance(60_000);
    while dispatcher.poll_once().await.unwrap().fired > 0 {}

    let out_items = scan(&env, &outputs).await;
    for item in out_items
        .iter()
        .filter(|i| text(i, "sk").starts_with("merchant#"))
    {
        assert_eq!(text(item, "day"), s.day);
        assert_eq!(item.get("final"), Some(&AttributeValue::Bool(true)));
        assert!(item.get("revenue_minor").is_some_and(|v| v.as_n().is_ok()));
        assert!(item.get("count").is_some_and(|v| v.as_n().is_ok()));
    }
    let mut dead: Vec<(u64, String)> = scan(&env, &dlq)
        .await
        .iter()
        .map(|i| {
            let seq = i
                .get("sequence_number")
                .and_then(|v| v.as_s().ok())
                .unwrap();
            (seq.parse::<u64>().unwrap() - 1, text(i, "error"))
        })
        .collect();
    dead.sort();
    let late_count = s.check(
        &by_key(&out_items),
        &by_key(&scan(&env, &late).await),
        &dead,
    );
    println!(
        "emulator: {} output items, {late_count} late events",
        out_items.len()
    );
}
