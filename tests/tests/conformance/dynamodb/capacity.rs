//! Consumed capacity as AWS computes it, the metrics totals, and the emulator's knobs
//! (throttling, TTL sweeping on the controllable clock).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    Put, ReturnConsumedCapacity, TimeToLiveSpecification, TransactWriteItem,
};
use shardwise_emulator::Config;
use shardwise_tests::raw_http::request;
use shardwise_tests::{TestEnv, emulator_only, skip_on};

use super::{code, create_table, item, n, no_retry_client, s};

#[tokio::test]
async fn writes_cost_one_unit_per_started_kilobyte_and_eventual_reads_half() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto under-counts capacity");
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    let out = c
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("v", s(&"x".repeat(1500)))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(out.consumed_capacity().unwrap().capacity_units(), Some(2.0));
    let out = c
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(out.consumed_capacity().unwrap().capacity_units(), Some(0.5));
    let out = c
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(out.consumed_capacity().unwrap().capacity_units(), Some(1.0));
}

#[tokio::test]
async fn transactions_cost_double() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto under-counts capacity");
    let t = create_table(&env, None).await;
    let out = env
        .dynamodb()
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&t)
                        .set_item(Some(item(&[("pk", s("a")), ("v", n(1))])))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(out.consumed_capacity()[0].capacity_units(), Some(2.0));
}

#[tokio::test]
async fn metrics_report_capacity_totals_per_table() {
    let env = TestEnv::start().await;
    emulator_only!(env, "/_shardwise/metrics is ours");
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    for i in 0..3 {
        c.put_item()
            .table_name(&t)
            .item("pk", s(&format!("k{i}")))
            .send()
            .await
            .unwrap();
    }
    let r = request(&env.authority(), "GET", "/_shardwise/metrics", &[], b"")
        .await
        .unwrap();
    let m = r.json();
    assert_eq!(m["dynamodb"]["tables"][&t]["write_capacity_units"], 3.0);
    assert_eq!(m["dynamodb"]["tables"][&t]["requests"], 3);
}

#[tokio::test]
async fn throttle_knob_answers_throttling_errors_and_counts_them() {
    let env = TestEnv::start_emulator(Config {
        ddb_throttle_rate: 1.0,
        ..Config::default()
    })
    .await;
    let t = create_table(&env, None).await;
    let err = no_retry_client(&env)
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ThrottlingException");
    let m = env.emulator.as_ref().unwrap().dynamodb.metrics();
    assert_eq!(m["tables"][&t]["throttled_requests"], 1);
}

#[tokio::test]
async fn expired_items_stay_visible_until_the_sweeper_deletes_them() {
    let env = TestEnv::start_emulator(Config {
        ddb_ttl_sweep_delay: Duration::from_secs(3600),
        ..Config::default()
    })
    .await;
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
        .item("pk", s("old"))
        .item("exp", n(now - 10))
        .send()
        .await
        .unwrap();
    c.put_item()
        .table_name(&t)
        .item("pk", s("fresh"))
        .item("exp", n(now + 100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(
        emulator.dynamodb.sweep_expired(),
        0,
        "not yet past the sweep delay"
    );
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("old"))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_some(), "expired but not yet swept");
    emulator
        .clock
        .advance_to(SystemTime::now() + Duration::from_secs(7200));
    assert_eq!(emulator.dynamodb.sweep_expired(), 1);
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("old"))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_none());
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("fresh"))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_some());
}
