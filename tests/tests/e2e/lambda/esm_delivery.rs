//! Kinesis mapping delivery semantics with the real fixture binary, reading from the
//! in-memory shard log (`esm::memory::MemoryStream`) so they are pinned independently
//! of the Kinesis service: batching, blocking on errors, bisection, partial-batch
//! responses, OnFailure, crash/timeout re-delivery, duplicate-delivery faults.

use std::sync::Arc;
use std::time::Duration;

use shardwise_emulator::esm::memory::MemoryStream;
use shardwise_emulator::lambda::FaultSettings;
use shardwise_emulator::template::KinesisEventSpec;
use shardwise_emulator::template::events::OnFailure;

use super::support::{
    emulator, kinesis_spec, names, now_secs, put_all, recorded, recorder, scratch,
    start_mapping as start, wait_for_batches,
};

#[tokio::test]
async fn batch_size_is_honoured_and_records_arrive_in_order() {
    let dir = scratch("batchsize");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let stream = Arc::new(MemoryStream::new(1));
    let data = names("r", 25);
    put_all(
        &stream,
        "k",
        &data.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            batch_size: 10,
            ..kinesis_spec()
        },
    );
    let got = wait_for_batches(&rec, 3).await;
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    assert_eq!(got.concat(), data);
    let metrics = m.metrics_json();
    assert_eq!(metrics["records_succeeded"], 25);
    assert_eq!(
        metrics["shards"]["shardId-000000000000"]["checkpoint"]
            .as_str()
            .unwrap()
            .len(),
        56
    );
    m.stop();
}

#[tokio::test]
async fn the_batching_window_gathers_records_that_arrive_within_it() {
    let dir = scratch("window");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let stream = Arc::new(MemoryStream::new(1));
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            maximum_batching_window_secs: 2,
            ..kinesis_spec()
        },
    );
    for d in ["a", "b", "c"] {
        stream.put("k", d.as_bytes(), now_secs());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let got = wait_for_batches(&rec, 1).await;
    assert_eq!(
        got,
        [["a", "b", "c"]],
        "one invocation after the window, not three"
    );
    m.stop();
}

#[tokio::test]
async fn a_batch_that_fills_the_6_mb_payload_is_delivered_without_waiting_out_the_window() {
    let dir = scratch("window-full");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let stream = Arc::new(MemoryStream::new(1));
    // 16 records of 512 KiB: 8 fit in one 6 MB payload (as base64, ~683 KiB each), far
    // below the batch size. The window is 300 s: only the payload limit can trigger this batch
    // within the wait.
    let big: Vec<String> = (0..16)
        .map(|i| format!("{i:02}{}", "x".repeat(512 * 1024)))
        .collect();
    put_all(
        &stream,
        "k",
        &big.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            batch_size: 10_000,
            maximum_batching_window_secs: 300,
            ..kinesis_spec()
        },
    );
    let got = wait_for_batches(&rec, 1).await;
    assert_eq!(got.len(), 1, "the rest waits for its window");
    assert_eq!(got[0].len(), 8);
    assert_eq!(got[0], big[..8]);
    m.stop();
}

#[tokio::test]
async fn a_function_error_blocks_the_shard_and_order_is_preserved() {
    let dir = scratch("blocks");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(
        &em,
        "f",
        &rec,
        &[("FAIL_ON_DATA", "r5"), ("FAIL_TIMES", "2")],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    let data = names("r", 10);
    put_all(
        &stream,
        "k",
        &data.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            batch_size: 3,
            ..kinesis_spec()
        },
    );
    let got = wait_for_batches(&rec, 6).await;
    let expected: Vec<Vec<&str>> = vec![
        vec!["r0", "r1", "r2"],
        vec!["r3", "r4", "r5"],
        vec!["r3", "r4", "r5"],
        vec!["r3", "r4", "r5"],
        vec!["r6", "r7", "r8"],
        vec!["r9"],
    ];
    assert_eq!(got, expected);
    assert_eq!(m.metrics_json()["function_errors"], 2);
    assert_eq!(m.metrics_json()["retries"], 2);
    m.stop();
}

#[tokio::test]
async fn bisection_splits_a_failing_batch_until_the_poison_record_is_isolated() {
    let dir = scratch("bisect");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(
        &em,
        "f",
        &rec,
        &[("FAIL_ON_DATA", "r2")],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["r0", "r1", "r2", "r3"]);
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            bisect_on_error: true,
            maximum_retry_attempts: 1,
            ..kinesis_spec()
        },
    );
    let got = wait_for_batches(&rec, 6).await;
    let expected: Vec<Vec<&str>> = vec![
        vec!["r0", "r1", "r2", "r3"],
        vec!["r0", "r1"],
        vec!["r2", "r3"],
        vec!["r2"],
        vec!["r2"],
        vec!["r3"],
    ];
    assert_eq!(got, expected);
    let metrics = m.metrics_json();
    assert_eq!(metrics["bisections"], 2);
    assert_eq!(metrics["records_discarded"], 1);
    assert_eq!(metrics["records_succeeded"], 3);
    m.stop();
}

#[tokio::test]
async fn report_batch_item_failures_resumes_from_the_lowest_failed_record_and_never_skips_one() {
    let dir = scratch("partial");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(
        &em,
        "f",
        &rec,
        &[
            ("FAIL_ON_DATA", "r2"),
            ("FAIL_TIMES", "1"),
            ("REPORT_FAILURES", "1"),
        ],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["r0", "r1", "r2", "r3", "r4"]);
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            report_batch_item_failures: true,
            ..kinesis_spec()
        },
    );
    let got = wait_for_batches(&rec, 2).await;
    let expected: Vec<Vec<&str>> = vec![vec!["r0", "r1", "r2", "r3", "r4"], vec!["r2", "r3", "r4"]];
    assert_eq!(got, expected);
    assert_eq!(m.metrics_json()["partial_failures"], 1);
    m.stop();
}

#[tokio::test]
async fn a_malformed_item_identifier_fails_the_whole_batch() {
    let dir = scratch("malformed");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    recorder(
        &em,
        "f",
        &rec,
        &[
            ("FAIL_ON_DATA", "r2"),
            ("FAIL_TIMES", "1"),
            ("REPORT_FAILURES", "1"),
            ("MALFORMED_FAILURES", "1"),
        ],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["r0", "r1", "r2", "r3"]);
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            report_batch_item_failures: true,
            ..kinesis_spec()
        },
    );
    let got = wait_for_batches(&rec, 2).await;
    assert_eq!(got[0], got[1], "the whole batch is re-delivered");
    assert_eq!(got.len(), 2);
    m.stop();
}

#[tokio::test]
async fn on_failure_is_used_after_maximum_retry_attempts_and_the_shard_moves_on() {
    let dir = scratch("onfailure");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    let s3 = env.s3();
    let s3_works = s3.create_bucket().bucket("failed").send().await.is_ok();
    let rec = dir.join("rec");
    recorder(
        &em,
        "f",
        &rec,
        &[("FAIL_ON_DATA", "r1")],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["r0", "r1", "r2", "r3"]);
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            batch_size: 2,
            maximum_retry_attempts: 2,
            on_failure: Some(OnFailure::S3Bucket("failed".into())),
            ..kinesis_spec()
        },
    );
    let got = wait_for_batches(&rec, 4).await;
    let expected: Vec<Vec<&str>> = vec![
        vec!["r0", "r1"],
        vec!["r0", "r1"],
        vec!["r0", "r1"],
        vec!["r2", "r3"],
    ];
    assert_eq!(got, expected, "1 try + 2 retries, then the shard moves on");
    let metrics = m.metrics_json();
    assert_eq!(metrics["records_discarded"], 2);
    // The failure record goes to S3 through the S3 service (written, or counted as a
    // write error while this build's S3 is a placeholder).
    let sent = metrics["on_failure_sent"].as_u64().unwrap();
    let errors = metrics["on_failure_errors"].as_u64().unwrap();
    assert_eq!(sent + errors, 1, "{metrics}");
    if s3_works {
        assert_eq!(sent, 1, "{metrics}");
        let listed = s3.list_objects_v2().bucket("failed").send().await.unwrap();
        let key = listed.contents()[0].key().unwrap().to_owned();
        assert!(key.starts_with("aws/lambda/"), "{key}");
        let body = s3
            .get_object()
            .bucket("failed")
            .key(&key)
            .send()
            .await
            .unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            record["requestContext"]["condition"],
            "RetryAttemptsExhausted"
        );
        assert_eq!(record["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(record["KinesisBatchInfo"]["batchSize"], 2);
        let payload: serde_json::Value =
            serde_json::from_str(record["payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload["Records"].as_array().unwrap().len(), 2);
    } else {
        eprintln!("SKIPPED (S3 part): this build's S3 service cannot create buckets yet");
    }
    m.stop();
}

#[tokio::test]
async fn a_killed_process_is_replaced_and_its_batch_redelivered() {
    let dir = scratch("killed");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    let f = recorder(
        &em,
        "f",
        &rec,
        &[("EXIT_ON_DATA", "r3")],
        Duration::from_secs(5),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["r0", "r1", "r2", "r3", "r4"]);
    let m = start(&em, &stream, kinesis_spec());
    let got = wait_for_batches(&rec, 2).await;
    assert_eq!(got[0], got[1]);
    assert_eq!(got.len(), 2);
    let pids: Vec<_> = recorded(&rec).iter().map(|l| l["pid"].clone()).collect();
    assert_ne!(pids[0], pids[1], "re-delivered to a new process");
    assert_eq!(f.counter("process_exits"), 1);
    assert_eq!(m.metrics_json()["function_errors"], 1);
    m.stop();
}

#[tokio::test]
async fn a_timeout_kills_the_invocation_and_the_batch_is_retried() {
    let dir = scratch("esmtimeout");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let rec = dir.join("rec");
    let f = recorder(
        &em,
        "f",
        &rec,
        &[("SLEEP_ON_DATA", "r1"), ("SLEEP_MS", "5000")],
        Duration::from_secs(1),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["r0", "r1", "r2"]);
    let m = start(&em, &stream, kinesis_spec());
    let got = wait_for_batches(&rec, 2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], got[1]);
    assert_eq!(f.counter("timeouts"), 1);
    m.stop();
}

#[tokio::test]
async fn injected_duplicate_deliveries_are_counted() {
    let dir = scratch("dupes");
    let faults = FaultSettings {
        duplicate_probability: 1.0,
        ..FaultSettings::default()
    };
    let (_env, em) = emulator(&dir, faults).await;
    let rec = dir.join("rec");
    recorder(&em, "f", &rec, &[], Duration::from_secs(5), None);
    let stream = Arc::new(MemoryStream::new(1));
    put_all(&stream, "k", &["r0", "r1"]);
    let m = start(&em, &stream, kinesis_spec());
    let got = wait_for_batches(&rec, 2).await;
    assert_eq!(got, vec![vec!["r0", "r1"], vec!["r0", "r1"]]);
    assert_eq!(m.metrics_json()["duplicates_injected"], 1);
    assert_eq!(em.lambda.metrics()["f"]["faults"]["duplicates"], 1);
    m.stop();
}

#[tokio::test]
async fn seeded_process_kills_during_batches_cause_redelivery_until_every_record_succeeds() {
    let dir = scratch("esmkills");
    let faults = FaultSettings {
        kill_probability: 1.0,
        ..FaultSettings::default()
    };
    let (_env, em) = emulator(&dir, faults).await;
    let rec = dir.join("rec");
    // A 3 s timeout caps the kill moment at 2 s; a 1 s handler is killed when the
    // seeded moment falls inside it (about half the time) and survives otherwise.
    let f = recorder(
        &em,
        "f",
        &rec,
        &[("SLEEP_MS", "1000")],
        Duration::from_secs(3),
        None,
    );
    let stream = Arc::new(MemoryStream::new(1));
    let data = names("r", 6);
    put_all(
        &stream,
        "k",
        &data.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let m = start(
        &em,
        &stream,
        KinesisEventSpec {
            batch_size: 2,
            ..kinesis_spec()
        },
    );
    let done = super::support::eventually(Duration::from_secs(90), || {
        m.metrics_json()["records_succeeded"] == 6
    })
    .await;
    let metrics = m.metrics_json();
    assert!(done, "{metrics}");
    let kills = em.lambda.metrics()["f"]["faults"]["kills"]
        .as_u64()
        .unwrap();
    assert!(kills > 0, "the seeded run injected no kill");
    assert_eq!(
        metrics["function_errors"].as_u64().unwrap(),
        kills,
        "{metrics}"
    );
    assert_eq!(f.counter("process_exits"), kills);
    // Every delivery, killed or not, was a prefix-ordered batch of the shard.
    let delivered = super::support::batches(&rec);
    assert_eq!(delivered.len() as u64, 3 + kills);
    m.stop();
}
