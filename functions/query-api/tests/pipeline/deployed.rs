//! The three built binaries under the emulator's Lambda runtime, invoked through the
//! Invoke API with the payloads Lambda sends them (Kinesis event, scheduled event,
//! function URL request): checks `main.rs` wiring — environment names from the
//! template's Globals, path-style S3 through `AWS_ENDPOINT_URL`, response shapes.

use std::collections::BTreeMap;
use std::time::Duration;

use monitoring::generator::{GeneratorConfig, Record, generate};
use reconciler::totals::Amount;
use serde_json::{Value, json};
use shardwise_emulator::lambda::{FunctionConfig, LambdaSettings};
use shardwise_emulator::{Config, Emulator};
use shardwise_tests::{TestEnv, raw_http, workspace_binary};

use crate::support::{DAY, Setup, kinesis_event, put_total, setup_on, url_request};

fn register(emulator: &Emulator, s: &Setup, name: &str) {
    let environment: BTreeMap<String, String> = [
        ("ARCHIVE_BUCKET", s.bucket.as_str()),
        ("OUTPUTS_TABLE", s.outputs.as_str()),
        ("LATE_EVENTS_TABLE", s.late.as_str()),
        ("ALERTS_TABLE", s.alerts.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    emulator.lambda.register(FunctionConfig {
        name: name.to_owned(),
        arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        binary: workspace_binary(name),
        timeout: Duration::from_secs(60),
        memory_mb: 512,
        reserved_concurrency: None,
        environment,
        faults: None,
    });
}

async fn invoke(s: &Setup, name: &str, payload: &Value) -> Value {
    let r = raw_http::request(
        &s.env.authority(),
        "POST",
        &format!("/2015-03-31/functions/{name}/invocations"),
        &[("Content-Type", "application/json")],
        payload.to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-amz-function-error"), None, "{}", r.text());
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_binaries_archive_reconcile_and_answer_under_the_lambda_runtime() {
    let logs = std::env::temp_dir().join(format!(
        "shardwise-batch-layer-{}",
        shardwise_tests::unique_suffix()
    ));
    std::fs::create_dir_all(&logs).unwrap();
    let config = Config {
        lambda: LambdaSettings {
            logs_dir: Some(logs),
            echo_logs: false,
            ..LambdaSettings::default()
        },
        ..Config::default()
    };
    let env = TestEnv::start_emulator(config).await;
    let emulator = env.emulator.clone().unwrap();
    emulator.lambda.set_endpoint(&env.endpoint);
    let s = setup_on(env).await;
    for name in ["archiver", "reconciler", "query-api"] {
        register(&emulator, &s, name);
    }

    let generated = generate(&GeneratorConfig {
        transactions: 500,
        day: DAY.to_owned(),
        ..GeneratorConfig::default()
    })
    .unwrap();
    let truth = generated.ground_truth().clone();
    let records: Vec<Record> = generated.records().collect();
    let refs: Vec<&Record> = records.iter().collect();
    let event = serde_json::to_value(kinesis_event(0, 1, &refs)).unwrap();
    let response = invoke(&s, "archiver", &event).await;
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");

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

    // The nightly schedule's event: reconcile the day before its time.
    let scheduled = json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "000000000000", "time": "2026-11-22T02:15:00Z",
        "region": "us-east-1", "resources": [], "detail": {}});
    let summary = invoke(&s, "reconciler", &scheduled).await;
    assert_eq!(summary["day"], DAY);
    assert_eq!(summary["verdict"], "match", "{summary}");
    assert_eq!(summary["reports"].as_array().unwrap().len(), 4);

    let request = serde_json::to_value(url_request(
        "/totals",
        &[("day", DAY), ("dimension", "merchant")],
    ))
    .unwrap();
    let response = invoke(&s, "query-api", &request).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["source"], "batch");
    assert_eq!(
        body["totals"].as_array().unwrap().len(),
        truth.merchant_totals.len()
    );
    let bad = serde_json::to_value(url_request("/totals", &[("day", "yesterday")])).unwrap();
    let response = invoke(&s, "query-api", &bad).await;
    assert_eq!(response["statusCode"], 400, "{response}");
}
