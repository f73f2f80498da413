//! Fixtures for the batch-layer pipeline test: emulator resources, Kinesis events and
//! function URL requests built the way Lambda delivers them, daily-totals items.

use std::collections::HashMap;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use monitoring::generator::Record;
use reconciler::totals::Amount;
use serde_json::{Value, json};
use shardwise_tests::TestEnv;

pub const DAY: &str = "2026-11-21";
/// 2026-11-22T01:00:00Z: every generated event time is in the past at arrival.
pub const ARRIVAL_S: f64 = 1_795_309_200.0;
pub const SHARDS: usize = 2;
pub const BATCH: usize = 400;

/// An emulator with the bucket and tables the batch layer uses (unique names).
pub struct Setup {
    pub env: TestEnv,
    pub bucket: String,
    pub outputs: String,
    pub late: String,
    pub alerts: String,
}

pub async fn create_table(env: &TestEnv, name: &str, by_day_index: bool) {
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    let mut req = env
        .dynamodb()
        .create_table()
        .table_name(name)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest);
    if by_day_index {
        req = req
            .attribute_definitions(attr("day"))
            .attribute_definitions(attr("event_time"))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name("by-day")
                    .key_schema(key("day", KeyType::Hash))
                    .key_schema(key("event_time", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            );
    }
    req.send().await.unwrap();
}

pub async fn setup() -> Setup {
    setup_on(TestEnv::start().await).await
}

/// The bucket and tables on `env`.
pub async fn setup_on(env: TestEnv) -> Setup {
    let s = Setup {
        bucket: env.unique_name("archive"),
        outputs: env.unique_name("outputs"),
        late: env.unique_name("late"),
        alerts: env.unique_name("alerts"),
        env,
    };
    s.env
        .s3()
        .create_bucket()
        .bucket(&s.bucket)
        .send()
        .await
        .unwrap();
    create_table(&s.env, &s.outputs, false).await;
    create_table(&s.env, &s.late, false).await;
    create_table(&s.env, &s.alerts, true).await;
    s
}

/// A Lambda Kinesis event for `records` on `shard`, sequence numbers from `first_seq`.
pub fn kinesis_event(shard: usize, first_seq: u64, records: &[&Record]) -> KinesisEvent {
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let seq = format!("4959{:052}", first_seq + i as u64);
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r.partition_key,
                    "sequenceNumber": seq, "data": B64.encode(&r.data),
                    "approximateArrivalTimestamp": ARRIVAL_S + (first_seq + i as u64) as f64 / 1000.0},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-{shard:012}:{seq}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::000000000000:role/archiver", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/transactions"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

pub fn total_item(sk: &str, body: &Value) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "pk".to_owned(),
            AttributeValue::S(format!("daily-totals#{DAY}")),
        ),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        (
            "operator".to_owned(),
            AttributeValue::S("daily-totals".to_owned()),
        ),
        ("body".to_owned(), AttributeValue::S(body.to_string())),
    ])
}

pub async fn put_total(s: &Setup, dimension: &str, id: &str, currency: &str, a: Amount) {
    let body = json!({"day": DAY, "dimension": dimension, "id": id, "currency": currency,
        "revenue_minor": a.revenue_minor, "count": a.count, "final": true});
    let sk = format!("{dimension}#{id}#{currency}");
    s.env
        .dynamodb()
        .put_item()
        .table_name(&s.outputs)
        .set_item(Some(total_item(&sk, &body)))
        .send()
        .await
        .unwrap();
}

pub fn url_request(path: &str, query: &[(&str, &str)]) -> LambdaFunctionUrlRequest {
    let params: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    serde_json::from_value(json!({
        "version": "2.0", "rawPath": path, "rawQueryString": "", "headers": {},
        "queryStringParameters": params, "isBase64Encoded": false,
        "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1", "userAgent": "test"}, "timeEpoch": 0}
    }))
    .unwrap()
}

pub async fn get_object_bytes(s: &Setup, key: &str) -> Vec<u8> {
    let out = s
        .env
        .s3()
        .get_object()
        .bucket(&s.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}
