//! The detector over the real AWS wire protocols (the in-process emulator): state and
//! alerts in DynamoDB through `DynamoStateStore`, alerts published to a Kinesis stream.
//! Checks the contract the reconciler and the demo rely on: one item per alert keyed
//! pk = alert id, sk = `alert`, found through the `by-day` index (`day`, `event_time`
//! flattened from the alert), and every alert on the alerts stream under the id
//! `<alert id>#alert` (the framework's id of a keyed output) —
//! the same alerts as the in-memory run, under chaotic re-delivery.

// Shared with the detection tests, which use the parts this binary does not.
#[allow(dead_code)]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use aws_sdk_kinesis::types::ShardIteratorType;
use fraud_detector::{ALERT_SORT_KEY, FraudConfig, FraudDetector};
use harness::{Delivery, batches, by_id, run, shard_records};
use monitoring::codec::TransactionCodec;
use monitoring::generator::{GeneratorConfig, generate};
use monitoring::validate::Validator;
use shardwise::sinks::KinesisSink;
use shardwise::{DynamoStateStore, EventTime, ManualClock, ProcessingConfig, Processor};
use shardwise_tests::TestEnv;

const BY_DAY: &str = "by-day";

/// The alerts table as the template declares it: pk/sk plus the `by-day` GSI.
async fn create_alerts_table(env: &TestEnv, name: &str) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, k: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
            .unwrap()
    };
    env.dynamodb()
        .create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("day"))
        .attribute_definitions(attr("event_time"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(BY_DAY)
                .key_schema(key("day", KeyType::Hash))
                .key_schema(key("event_time", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

/// Every alert item of `day`, through the `by-day` index (paginated).
async fn alerts_of_day(
    env: &TestEnv,
    table: &str,
    day: &str,
) -> Vec<BTreeMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = env
            .dynamodb()
            .query()
            .table_name(table)
            .index_name(BY_DAY)
            .key_condition_expression("#d = :d")
            .expression_attribute_names("#d", "day")
            .expression_attribute_values(":d", AttributeValue::S(day.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(
            page.items()
                .iter()
                .map(|i| i.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        );
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

/// The `id` of every record on the stream's shard.
async fn published_ids(env: &TestEnv, stream: &str) -> Vec<String> {
    let kinesis = env.kinesis();
    let shards = kinesis
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for shard in shards.shards() {
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        while let Some(it) = iterator {
            let page = kinesis
                .get_records()
                .shard_iterator(&it)
                .send()
                .await
                .unwrap();
            for r in page.records() {
                let v: serde_json::Value = serde_json::from_slice(r.data().as_ref()).unwrap();
                ids.push(v["id"].as_str().unwrap().to_owned());
            }
            if page.records().is_empty() {
                break;
            }
            iterator = page.next_shard_iterator().map(str::to_owned);
        }
    }
    ids
}

#[tokio::test]
async fn alerts_land_once_in_the_alerts_table_by_day_and_on_the_alerts_stream() {
    let env = TestEnv::start().await;
    let (state, dlq, alerts, stream) = (
        env.unique_name("state"),
        env.unique_name("dlq"),
        env.unique_name("alerts"),
        env.unique_name("alerts-stream"),
    );
    env.create_keyed_table(&state).await.unwrap();
    env.create_keyed_table(&dlq).await.unwrap();
    create_alerts_table(&env, &alerts).await;
    env.create_active_stream(&stream, 1).await;

    let g = generate(&GeneratorConfig {
        seed: 4,
        transactions: 2_000,
        fraud_account_ratio: 0.1,
        ..GeneratorConfig::default()
    })
    .unwrap();
    let shards = shard_records(&g, |_| true);
    let expected = by_id(
        &run(&shards, FraudConfig::default(), Delivery::Clean)
            .await
            .alerts,
    );
    assert!(expected.len() > 20, "{} alerts", expected.len());

    let clock = Arc::new(ManualClock::new(EventTime(harness::NOW_MS)));
    let mut config = ProcessingConfig::new(&state, &dlq);
    config.output_table = Some(alerts.clone());
    let store = DynamoStateStore::new(env.dynamodb(), &state, Some(&alerts), &dlq);
    let processor = Processor::new(
        Arc::new(FraudDetector::default()),
        Arc::new(store),
        TransactionCodec::new(Validator::default(), clock.clone()),
        config,
        clock,
    )
    .with_publisher(KinesisSink::new(env.kinesis(), &stream));
    for batch in batches(&shards, Delivery::Chaotic(4)) {
        let report = processor.process(&batch).await.unwrap();
        assert_eq!(report.first_failure, None, "{:?}", report.metrics);
    }

    let items = alerts_of_day(&env, &alerts, &g.ground_truth().config.day).await;
    let s = |item: &BTreeMap<String, AttributeValue>, name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    let mut stored = BTreeMap::new();
    for item in &items {
        assert_eq!(s(item, "sk"), ALERT_SORT_KEY);
        assert_eq!(s(item, "pk"), s(item, "alert_id"));
        let alert: fraud_detector::Alert = serde_json::from_str(&s(item, "body")).unwrap();
        assert_eq!(s(item, "event_time"), alert.event_time);
        assert!(item.get("score").is_some_and(|v| v.as_n().is_ok()));
        assert!(stored.insert(alert.alert_id.clone(), alert).is_none());
    }
    assert_eq!(stored, expected, "alerts table vs in-memory run");

    // At least once on the stream (a re-delivered batch may publish again), every
    // alert and nothing else, under the record id `<pk>#<sk>` of its keyed output.
    let published: BTreeSet<String> = published_ids(&env, &stream).await.into_iter().collect();
    let ids: BTreeSet<String> = expected
        .keys()
        .map(|id| format!("{id}#{ALERT_SORT_KEY}"))
        .collect();
    assert_eq!(published, ids);
}
