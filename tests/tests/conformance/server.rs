//! The front door: introspection, unknown targets, and resilience to garbage.

use shardwise_tests::raw_http::{aws_json, request};
use shardwise_tests::{TestEnv, emulator_only};

#[tokio::test]
async fn health_endpoint_reports_ok_and_lists_services() {
    let env = TestEnv::start().await;
    emulator_only!(env, "/_shardwise/health is ours");
    let r = request(&env.authority(), "GET", "/_shardwise/health", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["status"], "ok");
    assert!(body["services"].as_array().unwrap().len() >= 3);
}

#[tokio::test]
async fn unknown_json_target_is_a_400_with_aws_error_shape() {
    let env = TestEnv::start().await;
    emulator_only!(env, "other endpoints answer unknown targets their own way");
    let r = aws_json(
        &env.authority(),
        "Nonsense_20990101.DoThing",
        "application/x-amz-json-1.1",
        b"{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["__type"], "UnknownOperationException");
}

#[tokio::test]
async fn metrics_count_requests_and_errors_per_operation() {
    let env = TestEnv::start().await;
    emulator_only!(env, "/_shardwise/metrics is ours");
    for _ in 0..3 {
        aws_json(
            &env.authority(),
            "Nonsense_1.Op",
            "application/x-amz-json-1.1",
            b"{}",
        )
        .await
        .unwrap();
    }
    let r = request(&env.authority(), "GET", "/_shardwise/metrics", &[], b"")
        .await
        .unwrap();
    let m = r.json();
    assert_eq!(m["requests"]["unknown"]["operations"]["Op"]["requests"], 3);
    assert_eq!(m["requests"]["unknown"]["operations"]["Op"]["errors"], 3);
}

#[tokio::test]
async fn reset_clears_metrics() {
    let env = TestEnv::start().await;
    emulator_only!(env, "/_shardwise/reset is ours");
    aws_json(
        &env.authority(),
        "Nonsense_1.Op",
        "application/x-amz-json-1.1",
        b"{}",
    )
    .await
    .unwrap();
    let r = request(&env.authority(), "POST", "/_shardwise/reset", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let m = request(&env.authority(), "GET", "/_shardwise/metrics", &[], b"")
        .await
        .unwrap()
        .json();
    assert!(m["requests"].as_object().unwrap().is_empty(), "{m}");
}
