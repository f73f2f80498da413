//! The one-command demo on a tiny day (2,000 transactions) with debug-built functions:
//! the summary accounts for every function of the template (running or missing, never
//! silently absent), the day was streamed completely, and — for the functions that exist
//! on this branch — their results meet the demo's own bar: alerts scored against the
//! ground truth, totals present, every malformed record dead-lettered with its reason,
//! and a reconciliation with no unexplained difference whose report was copied locally.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use shardwise_demo::stack::binaries;
use shardwise_demo::state;
use shardwise_demo::summary::{MIN_PRECISION, MIN_RECALL};
use shardwise_demo::{DemoOptions, Profile, run};

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_streams_a_tiny_day_and_accounts_for_every_function_in_its_summary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out_dir = std::env::temp_dir().join(format!(
        "shardwise-demo-{}",
        shardwise_tests::unique_suffix()
    ));
    let options = DemoOptions {
        template: root.join("infra/template.yaml"),
        transactions: 2_000,
        seed: 3,
        profile: Profile::Dev,
        out_dir: out_dir.clone(),
        drain_timeout: Duration::from_secs(40),
        // A tiny day: close its windows 5 s after the stream goes quiet (default 60 s);
        // the first timer-dispatcher run is a minute after start-up (rate(1 minute)).
        settle_timeout: Duration::from_secs(90),
        reconcile_timeout: Duration::from_secs(30),
        function_env: [("WATERMARK_IDLE_TIMEOUT_MS".to_owned(), "5000".to_owned())].into(),
        ..DemoOptions::default()
    };
    let summary = run(&options).await.unwrap();
    eprintln!("{}", summary.render());

    // Structure: the whole day went out, every function is accounted for.
    assert_eq!(summary.transactions, 2_000);
    assert_eq!(summary.load.records, summary.records, "every record stored");
    let all: BTreeSet<&str> = [
        binaries::FRAUD_DETECTOR,
        binaries::DAILY_TOTALS,
        binaries::SESSION_TRACKER,
        binaries::ARCHIVER,
        binaries::TIMER_DISPATCHER,
        binaries::RECONCILER,
        binaries::QUERY_API,
    ]
    .into();
    let accounted: BTreeSet<&str> = summary
        .functions_running
        .iter()
        .chain(summary.functions_missing.keys())
        .map(String::as_str)
        .collect();
    assert_eq!(accounted, all);
    for missing in summary.functions_missing.keys() {
        assert!(
            summary
                .failures
                .iter()
                .any(|f| f.contains(missing.as_str())),
            "a missing {missing} fails the demo: {:?}",
            summary.failures
        );
    }
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(written["day"], summary.day.as_str());
    assert!(out_dir.join("ground-truth.jsonl").exists());
    assert!(summary.not_drained.is_empty(), "{:?}", summary.not_drained);

    // Results of the functions that exist.
    let runs = |b: &str| summary.functions_running.iter().any(|r| r == b);
    match &summary.alerts {
        Some(score) => {
            assert!(runs(binaries::FRAUD_DETECTOR));
            assert!(score.precision >= MIN_PRECISION, "{score:?}");
            assert!(score.recall >= MIN_RECALL, "{score:?}");
            assert_eq!(score.duplicate_alerts, 0);
        }
        None => assert!(!runs(binaries::FRAUD_DETECTOR)),
    }
    // fraud-detector and session-tracker on the template's default state backend, the
    // shard log, which committed batches; the other stream functions on DynamoDB.
    for (function, s) in &summary.state_backends {
        if !super::chaos::STATE_BACKEND_FUNCTIONS.contains(&function.as_str()) {
            assert_eq!(s.backend, state::DYNAMODB, "{function}: {s:?}");
            continue;
        }
        assert_eq!(s.backend, state::SHARD_LOG, "{function}: {s:?}");
        assert!(
            s.shards > Some(0) && s.commits > Some(0),
            "{function}: {s:?}"
        );
        assert!(
            summary
                .render()
                .contains(&format!("{function} shard_log ("))
        );
    }
    match &summary.totals {
        Some(t) => assert!(t.merchants > 0 && t.products > 0, "{t:?}"),
        None => assert!(!runs(binaries::DAILY_TOTALS)),
    }
    let d = &summary.dead_letters;
    if runs(binaries::FRAUD_DETECTOR) || runs(binaries::DAILY_TOTALS) {
        assert_eq!(d.by_reason, d.expected_by_reason, "{d:?}");
    } else if !runs(binaries::SESSION_TRACKER) && !runs(binaries::ARCHIVER) {
        assert_eq!(d.records, 0, "nothing consumes the stream");
    }
    if runs(binaries::RECONCILER) && runs(binaries::ARCHIVER) && runs(binaries::DAILY_TOTALS) {
        let r = summary.reconciliation.as_ref().expect("a reconciliation");
        assert_eq!(r.unexplained, 0, "{r:?}");
        assert!(r.local_dir.join("report.html").exists(), "{r:?}");
    }
    if summary.functions_missing.is_empty() {
        assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    }
    let _ = std::fs::remove_dir_all(&out_dir);
}
