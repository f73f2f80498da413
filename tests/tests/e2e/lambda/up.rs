//! Template-driven start: `up` loads the fixture template, builds the fixture with
//! cargo, registers it with references resolved, and lists what it does not emulate.

use std::collections::BTreeMap;
use std::path::Path;

use shardwise_emulator::lambda::FaultSettings;
use shardwise_emulator::template::{Deployment, Template, TemplateError};
use shardwise_emulator::up::{UpOptions, up};
use shardwise_tests::raw_http;

use super::support::{emulator, fixture_binary, scratch};

fn fixture_template() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/template.yaml")
}

#[tokio::test]
async fn up_builds_and_runs_the_templates_function_with_resolved_environment() {
    fixture_binary(); // one cargo build at a time; `up` then finds it up to date
    let dir = scratch("up");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    let overrides: BTreeMap<String, String> = [(
        "RecordFile".to_owned(),
        dir.join("rec").display().to_string(),
    )]
    .into();
    let template = Template::load(&fixture_template(), &overrides, &Deployment::default()).unwrap();
    assert!(
        template
            .not_emulated
            .iter()
            .any(|n| n.contains("Notifications (AWS::SNS::Topic)")),
        "{:?}",
        template.not_emulated
    );
    let stack = up(&em, template, &UpOptions::default()).await.unwrap();
    let r = raw_http::request(
        &env.authority(),
        "POST",
        "/2015-03-31/functions/fixture-recorder-test/invocations",
        &[],
        b"{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["custom"],
        "fixture-state-test|fixture-failed-test|arn:aws:kinesis:us-east-1:000000000000:stream/fixture-events-test"
    );
    assert_eq!(stack.schedules.next_firings().len(), 1);
    assert_eq!(stack.mappings.mappings().len(), 1);
    assert_eq!(stack.mappings.mappings()[0].spec.batch_size, 10);

    // The template's nightly cron fires when the clock is advanced past 02:00 UTC.
    let now = em
        .clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let next_two_am = (now / 86_400) * 86_400 + 2 * 3_600;
    let next_two_am = if next_two_am <= now {
        next_two_am + 86_400
    } else {
        next_two_am
    };
    let advance = next_two_am - now + 1;
    let r = raw_http::request(
        &env.authority(),
        "POST",
        "/_shardwise/clock",
        &[],
        format!("{{\"advance_seconds\": {advance}}}").as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let rec = dir.join("rec");
    let fired = super::support::eventually(std::time::Duration::from_secs(20), || {
        super::support::recorded(&rec)
            .iter()
            .any(|l| l["event"]["detail-type"] == "Scheduled Event")
    })
    .await;
    assert!(fired, "{:?}", super::support::recorded(&rec));

    let metrics = raw_http::request(&env.authority(), "GET", "/_shardwise/metrics", &[], b"")
        .await
        .unwrap()
        .json();
    assert!(
        metrics["lambda"]["fixture-recorder-test"]["invocations"]
            .as_u64()
            .unwrap()
            >= 2,
        "{metrics}"
    );
    let schedules = &metrics["lambda_layer"]["schedules"];
    assert_eq!(
        schedules["fixture-recorder-test-Nightly"]["fired"], 1,
        "{metrics}"
    );
    let mappings = &metrics["lambda_layer"]["event_source_mappings"];
    assert_eq!(
        mappings[0]["function"], "fixture-recorder-test",
        "{metrics}"
    );
    stack.stop(&em);
}

#[tokio::test]
async fn an_unsupported_template_feature_produces_a_clear_start_up_message() {
    let text = std::fs::read_to_string(fixture_template())
        .unwrap()
        .replace(
            "Destination: !GetAtt FailedBatches.Arn",
            "Destination: arn:aws:sqs:us-east-1:000000000000:dlq",
        );
    let err = Template::parse(&text, &BTreeMap::new(), &Deployment::default()).unwrap_err();
    assert!(matches!(&err, TemplateError::Unsupported(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("OnFailure destination arn:aws:sqs"),
        "{message}"
    );
    assert!(message.contains("SQS and SNS are not"), "{message}");

    let text = std::fs::read_to_string(fixture_template())
        .unwrap()
        .replace(
            "BatchSize: 10",
            "BatchSize: 10\n            FilterCriteria: {Filters: []}",
        );
    let err = Template::parse(&text, &BTreeMap::new(), &Deployment::default()).unwrap_err();
    assert!(err.to_string().contains("property FilterCriteria"), "{err}");
}

#[test]
fn the_dry_run_plan_lists_every_resource_mapping_and_schedule() {
    let template = Template::load(
        &fixture_template(),
        &BTreeMap::new(),
        &Deployment::default(),
    )
    .unwrap();
    let plan = shardwise_emulator::up::plan(&template).unwrap();
    for expected in [
        "stream   fixture-events-test (2 shards",
        "table    fixture-state-test",
        "bucket   fixture-failed-test",
        "function fixture-recorder-test (binary fixture-recorder",
        "kinesis Stream <- fixture-events-test (TrimHorizon, batch 10",
        "schedule fixture-recorder-test-Nightly -> fixture-recorder-test cron(0 2 * * ? *)",
    ] {
        assert!(plan.contains(expected), "missing {expected:?} in\n{plan}");
    }
}

#[tokio::test]
async fn up_wires_the_templates_stream_to_its_function_end_to_end() {
    fixture_binary();
    let dir = scratch("upwired");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    let overrides: BTreeMap<String, String> =
        [("RecordFile".to_owned(), rec.display().to_string())].into();
    let template = Template::load(&fixture_template(), &overrides, &Deployment::default()).unwrap();
    let options = UpOptions {
        esm: shardwise_emulator::esm::EsmOptions::fast(),
        ..UpOptions::default()
    };
    let stack = up(&em, template, &options).await.unwrap();
    if !stack.warnings.iter().all(|w| !w.contains("Kinesis")) {
        eprintln!(
            "SKIPPED: this build has no Kinesis service: {:?}",
            stack.warnings
        );
        return;
    }
    // The template's table (with TTL) and bucket exist, through the real services.
    let ttl = env
        .dynamodb()
        .describe_time_to_live()
        .table_name("fixture-state-test")
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    env.s3()
        .head_bucket()
        .bucket("fixture-failed-test")
        .send()
        .await
        .unwrap();
    let kinesis = env.kinesis();
    for i in 0..30 {
        kinesis
            .put_record()
            .stream_name("fixture-events-test")
            .partition_key(format!("key{}", i % 5))
            .data(aws_smithy_types::Blob::new(format!("key{}-{i:02}", i % 5)))
            .send()
            .await
            .unwrap();
    }
    let delivered = super::support::eventually(std::time::Duration::from_secs(30), || {
        super::support::batches(&rec).concat().len() >= 30
    })
    .await;
    let batches = super::support::batches(&rec);
    assert!(delivered, "{batches:?}");
    assert!(
        batches.iter().all(|b| b.len() <= 10),
        "BatchSize 10 honoured: {batches:?}"
    );
    let all = batches.concat();
    for k in 0..5 {
        let seen: Vec<&String> = all
            .iter()
            .filter(|d| d.starts_with(&format!("key{k}-")))
            .collect();
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(seen, sorted, "per-key order");
    }
    let m = &stack.mappings.mappings()[0].metrics_json();
    assert_eq!(m["records_succeeded"], 30, "{m}");
    assert_eq!(m["shards"].as_object().unwrap().len(), 2, "{m}");
    stack.stop(&em);
}

#[tokio::test]
async fn a_function_that_cannot_be_built_fails_up_with_cargos_reason_unless_allowed() {
    fixture_binary();
    let dir = scratch("upmissing");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let text = std::fs::read_to_string(fixture_template())
        .unwrap()
        .replace("Binary: fixture-recorder", "Binary: no-such-binary");
    let mut template = Template::parse(&text, &BTreeMap::new(), &Deployment::default()).unwrap();
    template.base_dir = fixture_template().parent().unwrap().to_path_buf();
    let err = up(&em, template.clone(), &UpOptions::default())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cannot build function fixture-recorder-test"),
        "{message}"
    );
    assert!(message.contains("no-such-binary"), "{message}");

    let options = UpOptions {
        allow_missing_functions: true,
        ..UpOptions::default()
    };
    let stack = up(&em, template, &options).await.unwrap();
    assert!(
        stack
            .warnings
            .iter()
            .any(|w| w.contains("function not started")),
        "{:?}",
        stack.warnings
    );
    assert!(em.lambda.function("fixture-recorder-test").is_none());
    stack.stop(&em);
}
