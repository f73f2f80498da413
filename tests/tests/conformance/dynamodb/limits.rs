//! Page and batch limits, index capacity, and the latency/throttle/TTL knobs in motion:
//! the 1 MB page rule, UnprocessedKeys under partial throttling, per-index write units,
//! UPDATED_OLD, the background TTL sweeper and the added latency.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    BillingMode, GlobalSecondaryIndex, KeyType, KeysAndAttributes, Projection, ProjectionType,
    ReturnConsumedCapacity, ReturnValue, ScalarAttributeType, TimeToLiveSpecification,
};
use shardwise_emulator::Config;
use shardwise_tests::{TestEnv, skip_on};

use super::{Item, attr, create_table, item, key, n, no_retry_client, s};

#[tokio::test]
async fn a_query_page_stops_at_one_megabyte_before_filtering() {
    let env = TestEnv::start().await;
    let t = create_table(&env, Some(ScalarAttributeType::N)).await;
    let c = env.dynamodb();
    let big = "x".repeat(350 * 1024);
    for i in 0..4 {
        c.put_item()
            .table_name(&t)
            .set_item(Some(item(&[
                ("pk", s("p")),
                ("sk", n(i)),
                ("body", s(&big)),
            ])))
            .send()
            .await
            .unwrap();
    }
    let q = c
        .query()
        .table_name(&t)
        .key_condition_expression("pk = :p")
        .filter_expression("attribute_not_exists(body)")
        .expression_attribute_values(":p", s("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(q.count(), 0, "the filter removes everything");
    assert!(q.scanned_count() < 4, "the page ended at 1 MB");
    assert!(
        q.last_evaluated_key().is_some(),
        "an empty page still carries LastEvaluatedKey"
    );
}

#[tokio::test]
async fn partial_throttling_leaves_some_keys_unprocessed_and_returns_the_rest() {
    let env = TestEnv::start_emulator(Config {
        ddb_throttle_rate: 0.5,
        seed: 42,
        ..Config::default()
    })
    .await;
    let t = create_table(&env, None).await;
    // Writes through the emulator directly so the throttle knob does not interfere.
    let emulator = env.emulator.clone().unwrap();
    for i in 0..40 {
        let body = serde_json::json!({"TableName": t, "Item": {"pk": {"S": format!("k{i}")}}});
        let _ = emulator
            .call_json("DynamoDB_20120810.PutItem", body.to_string().as_bytes())
            .await;
    }
    let stored = emulator.dynamodb.metrics();
    let keys: Vec<Item> = (0..40)
        .map(|i| item(&[("pk", s(&format!("k{i}")))]))
        .collect();
    let r = no_retry_client(&env)
        .batch_get_item()
        .request_items(
            &t,
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = r.responses().unwrap().get(&t).map_or(0, Vec::len);
    let left = r
        .unprocessed_keys()
        .and_then(|u| u.get(&t))
        .map_or(0, |k| k.keys().len());
    assert!(left > 0, "some keys throttled ({stored})");
    assert!(got > 0, "some keys served");
    assert!(got + left <= 40);
}

#[tokio::test]
async fn index_writes_are_counted_per_index() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto under-counts capacity");
    let name = env.unique_name("ddb");
    let c = env.dynamodb();
    c.create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("g", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi")
                .key_schema(key("g", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let out = c
        .put_item()
        .table_name(&name)
        .item("pk", s("a"))
        .item("g", s("x"))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let cc = out.consumed_capacity().unwrap();
    assert_eq!(
        cc.capacity_units(),
        Some(2.0),
        "one for the table, one for the index"
    );
    assert_eq!(cc.table().and_then(|t| t.capacity_units()), Some(1.0));
    assert_eq!(
        cc.global_secondary_indexes().unwrap()["gsi"].capacity_units(),
        Some(1.0)
    );
    let out = c
        .put_item()
        .table_name(&name)
        .item("pk", s("b"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.consumed_capacity().unwrap().capacity_units(),
        Some(1.0),
        "not in the sparse index"
    );
}

#[tokio::test]
async fn updated_old_returns_only_the_updated_attributes() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("x", n(1))
        .item("y", n(2))
        .send()
        .await
        .unwrap();
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("a"))
        .update_expression("SET x = :v")
        .expression_attribute_values(":v", n(5))
        .return_values(ReturnValue::UpdatedOld)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().unwrap();
    assert_eq!(attrs.len(), 1);
    assert_eq!(attrs.get("x"), Some(&n(1)));
}

#[tokio::test]
async fn the_background_sweeper_deletes_expired_items() {
    let env = TestEnv::start_emulator(Config::default()).await;
    let emulator = env.emulator.clone().unwrap();
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.update_time_to_live()
        .table_name(&t)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("exp")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let now = emulator
        .clock
        .now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    c.put_item()
        .table_name(&t)
        .item("pk", s("soon"))
        .item("exp", n(now + 60))
        .send()
        .await
        .unwrap();
    emulator
        .clock
        .advance_to(SystemTime::now() + Duration::from_secs(120));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = c
            .get_item()
            .table_name(&t)
            .key("pk", s("soon"))
            .send()
            .await
            .unwrap();
        if got.item().is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sweeper never deleted the item"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn latency_knob_delays_every_request() {
    let env = TestEnv::start_emulator(Config {
        ddb_latency: Duration::from_millis(150),
        ..Config::default()
    })
    .await;
    let t = create_table(&env, None).await;
    let started = Instant::now();
    env.dynamodb()
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}
