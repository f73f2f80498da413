//! The batch layer end to end against the in-process emulator: a generated day goes
//! through the archiver's handler into S3, daily totals matching the generator's ground
//! truth go into the outputs table, the reconciler finds zero differences, a removed
//! transaction shows up as differences with both amounts, a late-event item explains
//! them, and query-api answers from the stream layer before the report exists and from
//! the batch report after.

use std::collections::HashMap;

use archiver::Archiver;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use monitoring::generator::{GeneratorConfig, Record, RecordKind, generate};
use query_api::QueryApi;
use reconciler::compare::{Explanation, Verdict};
use reconciler::totals::Amount;
use reconciler::{Reconciler, ReconcilerConfig};
use serde_json::{Value, json};
use shardwise_tests::TestEnv;

const DAY: &str = "2026-11-21";
/// 2026-11-22T01:00:00Z: every generated event time is in the past at arrival.
const ARRIVAL_S: f64 = 1_795_309_200.0;
const SHARDS: usize = 2;
const BATCH: usize = 400;

struct Setup {
    env: TestEnv,
    bucket: String,
    outputs: String,
    late: String,
    alerts: String,
}

async fn create_table(env: &TestEnv, name: &str, by_day_index: bool) {
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

async fn setup() -> Setup {
    let env = TestEnv::start().await;
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
fn kinesis_event(shard: usize, first_seq: u64, records: &[&Record]) -> KinesisEvent {
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

fn total_item(sk: &str, body: &Value) -> HashMap<String, AttributeValue> {
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

async fn put_total(s: &Setup, dimension: &str, id: &str, currency: &str, a: Amount) {
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

fn url_request(path: &str, query: &[(&str, &str)]) -> LambdaFunctionUrlRequest {
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

async fn get_json(s: &Setup, key: &str) -> Vec<u8> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_day_reconciles_to_the_cent_and_query_api_switches_source() {
    let s = setup().await;
    let generated = generate(&GeneratorConfig {
        transactions: 2_000,
        day: DAY.to_owned(),
        ..GeneratorConfig::default()
    })
    .unwrap();
    let truth = generated.ground_truth().clone();
    let records: Vec<Record> = generated.records().collect();
    assert!(records.iter().any(|r| r.kind == RecordKind::Duplicate));
    assert!(records.iter().any(|r| r.kind == RecordKind::Malformed));

    // Archive through the handler: records split over shards by account, in batches;
    // the first batch of shard 0 is delivered twice, the second time split differently.
    let archiver = Archiver::new(s.env.s3(), &s.bucket);
    for shard in 0..SHARDS {
        let mine: Vec<&Record> = records
            .iter()
            .filter(|r| r.partition_key.bytes().map(usize::from).sum::<usize>() % SHARDS == shard)
            .collect();
        for (b, chunk) in mine.chunks(BATCH).enumerate() {
            let event = kinesis_event(shard, (b * BATCH) as u64, chunk);
            let response = archiver.handle(&event).await.unwrap();
            assert!(response.batch_item_failures.is_empty());
        }
        if shard == 0 {
            let retry = kinesis_event(shard, 100, &mine[100..BATCH + 50]);
            assert!(
                archiver
                    .handle(&retry)
                    .await
                    .unwrap()
                    .batch_item_failures
                    .is_empty()
            );
        }
    }

    // The stream layer's totals = the ground truth; plus items that are not totals.
    for m in &truth.merchant_totals {
        let a = Amount {
            revenue_minor: m.revenue_minor,
            count: m.count,
        };
        put_total(&s, "merchant", m.merchant_id.as_str(), m.currency.code(), a).await;
    }
    for p in &truth.product_totals {
        let a = Amount {
            revenue_minor: p.revenue_minor,
            count: p.count,
        };
        put_total(&s, "product", p.product_id.as_str(), p.currency.code(), a).await;
    }
    for (sk, body) in [
        ("sample", json!({"transactions": ["t"]})),
        ("distinct#m-00001", json!({"distinct_accounts": 3})),
    ] {
        s.env
            .dynamodb()
            .put_item()
            .table_name(&s.outputs)
            .set_item(Some(total_item(sk, &body)))
            .send()
            .await
            .unwrap();
    }
    let alert = HashMap::from([
        ("pk".to_owned(), AttributeValue::S("alert-1".into())),
        ("sk".to_owned(), AttributeValue::S("fraud-detector".into())),
        ("day".to_owned(), AttributeValue::S(DAY.into())),
        (
            "event_time".to_owned(),
            AttributeValue::S(format!("{DAY}T13:05:00.000Z")),
        ),
    ]);
    s.env
        .dynamodb()
        .put_item()
        .table_name(&s.alerts)
        .set_item(Some(alert))
        .send()
        .await
        .unwrap();

    let reconciler = Reconciler::new(
        s.env.s3(),
        s.env.dynamodb(),
        ReconcilerConfig {
            bucket: s.bucket.clone(),
            outputs_table: s.outputs.clone(),
            late_events_table: Some(s.late.clone()),
            alerts_table: Some(s.alerts.clone()),
        },
    );
    let api = QueryApi::new(s.env.s3(), s.env.dynamodb(), &s.bucket, &s.outputs);

    // Before any report: query-api answers from the stream layer.
    let resp = api
        .handle(&url_request(
            "/totals",
            &[("day", DAY), ("dimension", "merchant")],
        ))
        .await;
    assert_eq!(resp.status_code, 200);
    let body: Value = serde_json::from_str(resp.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["source"], "stream");
    assert_eq!(
        body["totals"].as_array().unwrap().len(),
        truth.merchant_totals.len()
    );

    // 1. Zero differences.
    let r = reconciler.reconcile(DAY).await.unwrap();
    assert_eq!(r.verdict, Verdict::Match, "{:?}", r.differences);
    assert_eq!(r.counts.batch.transactions, truth.counts.transactions);
    assert_eq!(
        r.counts.batch.duplicate_transactions,
        truth.counts.duplicates
    );
    assert!(
        r.counts.batch.duplicate_records >= 1,
        "the re-delivered batch overlapped"
    );
    assert_eq!(r.counts.alerts, 1);
    assert_eq!(r.alerts_per_hour[13], 1);
    assert_eq!(
        r.hourly_transactions.iter().sum::<u64>(),
        truth.counts.transactions
    );
    assert_eq!(r.counts.stream_totals, r.counts.batch_totals);

    // The scheduled run writes the reports, deterministically.
    let summary = reconciler
        .handle(&json!({"time": "2026-11-22T02:00:00Z", "detail": {}}))
        .await
        .unwrap();
    assert_eq!(summary.day, DAY);
    assert_eq!(summary.reports.len(), 4);
    let json_key = format!("reports/dt={DAY}/reconciliation.json");
    let first = get_json(&s, &json_key).await;
    let parquet_first = get_json(&s, &format!("reports/dt={DAY}/totals.parquet")).await;
    reconciler
        .handle(&json!({"detail": {"day": DAY}}))
        .await
        .unwrap();
    assert_eq!(get_json(&s, &json_key).await, first);
    assert_eq!(
        get_json(&s, &format!("reports/dt={DAY}/totals.parquet")).await,
        parquet_first
    );
    let html =
        String::from_utf8(get_json(&s, &format!("reports/dt={DAY}/report.html")).await).unwrap();
    assert!(html.contains("Verdict: match"));

    // After the report: query-api answers from the batch report.
    let resp = api
        .handle(&url_request(
            "/totals",
            &[("day", DAY), ("dimension", "product")],
        ))
        .await;
    let body: Value = serde_json::from_str(resp.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["source"], "batch");
    assert_eq!(body["verdict"], "match");
    assert_eq!(
        body["totals"].as_array().unwrap().len(),
        truth.product_totals.len()
    );
    assert!(
        body["totals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["dimension"] == "product")
    );
    let resp = api
        .handle(&url_request("/totals", &[("day", "2026-11-31")]))
        .await;
    assert_eq!(resp.status_code, 400);
    let resp = api.handle(&url_request("/health", &[])).await;
    assert_eq!(resp.status_code, 200);

    // 2. The stream layer misses one transaction: two differences with both amounts.
    let missing = records
        .iter()
        .find(|r| r.kind == RecordKind::Valid)
        .map(|r| serde_json::from_slice::<Value>(&r.data).unwrap())
        .unwrap();
    let (merchant, product) = (
        missing["merchant_id"].as_str().unwrap(),
        missing["product_id"].as_str().unwrap(),
    );
    let (currency, amount) = (
        missing["currency"].as_str().unwrap(),
        missing["amount_minor"].as_i64().unwrap(),
    );
    let m = truth
        .merchant_totals
        .iter()
        .find(|t| t.merchant_id.as_str() == merchant)
        .unwrap();
    let p = truth
        .product_totals
        .iter()
        .find(|t| t.product_id.as_str() == product)
        .unwrap();
    let m_full = Amount {
        revenue_minor: m.revenue_minor,
        count: m.count,
    };
    let p_full = Amount {
        revenue_minor: p.revenue_minor,
        count: p.count,
    };
    let less = |a: Amount| Amount {
        revenue_minor: a.revenue_minor - amount,
        count: a.count - 1,
    };
    put_total(&s, "merchant", merchant, currency, less(m_full)).await;
    put_total(&s, "product", product, currency, less(p_full)).await;
    let r = reconciler.reconcile(DAY).await.unwrap();
    assert_eq!(r.verdict, Verdict::Mismatch);
    assert_eq!(r.differences.len(), 2, "{:?}", r.differences);
    let d = r.differences.iter().find(|d| d.id == merchant).unwrap();
    assert_eq!((d.batch, d.stream), (Some(m_full), Some(less(m_full))));
    assert_eq!((d.revenue_delta_minor, d.count_delta), (amount, 1));
    assert_eq!(d.explanation, Explanation::Unexplained);

    // 3. The late side output holds exactly that transaction (twice: re-delivered): explained.
    for sk in ["shardId-000000000000#1", "shardId-000000000000#2"] {
        let item = HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("daily-totals#{DAY}")),
            ),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
            // The side output's envelope, as `Context::emit_late` writes it.
            (
                "body".to_owned(),
                AttributeValue::S(json!({"reason": "late", "event": missing}).to_string()),
            ),
            (
                "reason".to_owned(),
                AttributeValue::S("beyond allowed lateness".into()),
            ),
        ]);
        s.env
            .dynamodb()
            .put_item()
            .table_name(&s.late)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let r = reconciler.reconcile(DAY).await.unwrap();
    assert_eq!(r.verdict, Verdict::Explained, "{:?}", r.differences);
    assert_eq!(r.counts.late_events, 1);
    assert!(
        r.differences
            .iter()
            .all(|d| d.explanation == Explanation::LateEvents)
    );
    assert_eq!(r.counts.explained, 2);
}

#[tokio::test]
async fn an_s3_failure_fails_the_batch_from_its_first_record() {
    let s = setup().await;
    let generated = generate(&GeneratorConfig {
        transactions: 500,
        ..GeneratorConfig::default()
    })
    .unwrap();
    let records: Vec<Record> = generated.records().take(20).collect();
    let refs: Vec<&Record> = records.iter().collect();
    let event = kinesis_event(0, 700, &refs);
    let broken = Archiver::new(s.env.s3(), "no-such-bucket-for-the-archiver");
    let response = broken.handle(&event).await.unwrap();
    let failures: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(failures, [format!("4959{:052}", 700)]);
    // The same batch against the real bucket succeeds and is read back in full.
    let ok = Archiver::new(s.env.s3(), &s.bucket);
    assert!(
        ok.handle(&event)
            .await
            .unwrap()
            .batch_item_failures
            .is_empty()
    );
    let keys = reconciler::archive::list_keys(&s.env.s3(), &s.bucket, "raw/")
        .await
        .unwrap();
    let mut lines = 0;
    for key in &keys {
        let bytes = get_json(&s, key).await;
        lines += archiver::format::decode_object(&bytes).unwrap().len();
    }
    assert_eq!(lines, 20);
}
