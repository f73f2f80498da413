//! Error shapes for requests an SDK would not send: malformed JSON, wrong member types,
//! missing members, unknown operations — always a 400 with `__type`, never a 500.

use shardwise_tests::raw_http::{RawResponse, aws_json};
use shardwise_tests::{TestEnv, skip_on};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

async fn call(env: &TestEnv, operation: &str, body: &[u8]) -> RawResponse {
    aws_json(
        &env.authority(),
        &format!("Kinesis_20131202.{operation}"),
        CONTENT_TYPE,
        body,
    )
    .await
    .unwrap()
}

/// The error code, read like the SDKs do (ignoring any `namespace#` prefix).
fn error_type(r: &RawResponse) -> String {
    let body = r.json();
    let t = body["__type"].as_str().unwrap_or_default();
    t.rsplit('#').next().unwrap_or(t).to_owned()
}

#[tokio::test]
async fn malformed_json_is_a_400_serialization_exception() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto answers a malformed JSON body with HTTP 500"
    );
    let r = call(&env, "ListStreams", b"{\"Limit\": ").await;
    assert_eq!(r.status, 400);
    assert_eq!(error_type(&r), "SerializationException");
}

#[tokio::test]
async fn a_member_of_the_wrong_type_is_a_400_serialization_exception() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto does not type-check members");
    let r = call(
        &env,
        "CreateStream",
        br#"{"StreamName":"typed","ShardCount":"two"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_type(&r), "SerializationException");
}

#[tokio::test]
async fn a_missing_required_member_is_a_400_validation_exception() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto does not validate required members");
    let r = call(&env, "PutRecord", br#"{"PartitionKey":"k","Data":"eA=="}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(error_type(&r), "ValidationException");
    let r = call(&env, "CreateStream", br#"{"ShardCount":1}"#).await;
    assert_eq!(r.status, 400);
    assert_eq!(error_type(&r), "ValidationException");
    assert!(r.text().contains("streamName"), "{}", r.text());
}

#[tokio::test]
async fn an_unknown_operation_is_a_400_unknown_operation_exception() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto answers an unknown Kinesis action with its own 404 page"
    );
    let r = call(&env, "MakeCoffee", b"{}").await;
    assert_eq!(r.status, 400);
    assert_eq!(error_type(&r), "UnknownOperationException");
}

#[tokio::test]
async fn a_garbage_iterator_over_raw_http_is_a_400_and_the_server_keeps_serving() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto answers a garbage shard iterator with HTTP 500"
    );
    for garbage in [
        r#"{"ShardIterator":"%%%"}"#,
        r#"{"ShardIterator":"c3drMXx4fDF8Mnwz"}"#,
        r#"{"ShardIterator":"c3drMXxub3BlfDk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5fDB8MHww"}"#,
    ] {
        let r = call(&env, "GetRecords", garbage.as_bytes()).await;
        assert_eq!(r.status, 400, "{garbage}: {}", r.text());
    }
    let ok = call(&env, "ListStreams", b"{}").await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn errors_carry_the_aws_json_shape_and_content_type() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto picks the service of an unsigned raw request from its SigV4 scope"
    );
    let r = call(
        &env,
        "DescribeStreamSummary",
        format!(r#"{{"StreamName":"{}"}}"#, env.unique_name("nope")).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(error_type(&r), "ResourceNotFoundException");
    assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/x-amz-json-1.1"))
    );
}
