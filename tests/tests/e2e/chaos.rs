//! The golden chaos test (issue 7, item 5): the WHOLE monitoring pipeline — every stream
//! function of `infra/template.yaml`, the timer dispatcher and the reconciler, debug
//! builds brought up by the demo library on the in-process emulator — streams a small
//! seeded day while the emulator kills function processes mid-batch, delivers batches
//! twice and throttles DynamoDB, and the generator re-sends transactions and mixes in
//! malformed records. The results must equal a from-scratch oracle computed here from
//! the same generated records:
//!
//! - alerts: exactly [`fraud_detector::oracle_alerts`] over the valid records in arrival
//!   order (no duplicate, no missing id, same rules), and precision/recall against the
//!   generator's ground truth at least the demo's bar;
//! - daily totals per merchant and product: to the cent the sum over the de-duplicated
//!   valid transactions of the day, every row final;
//! - the nightly reconciliation: zero differences;
//! - dead letters: every malformed record, with its bytes and its reason, once per
//!   decoding operator; counts per reason equal the generator's; every consumer's lag 0;
//! - sessions: the closed session summaries equal an event-time sessionization of the
//!   de-duplicated valid transactions with the functions' inactivity gap;
//! - the chaos happened: the emulator counted kills, duplicate deliveries and throttles;
//! - fraud-detector ran on the template's state backend (the shard log: its checkpoints
//!   committed batches on every shard), the other stream functions on DynamoDB.
//!   `SHARDWISE_CHAOS_STATE_BACKEND=dynamodb` runs the same test with fraud-detector on
//!   per-key DynamoDB items (the other value of the template's `StateBackend`).
//!
//! Windows and sessions are closed with the demo's forced watermark (the bounded day is
//! consumed, so the timer-driven operators' watermarks are forced to the end of time and
//! the dispatcher is invoked directly) instead of waiting for idle advancement. The
//! generator's hours-late events are off: whether one is dropped as late depends on how
//! far the other shard had progressed — timing, not data — so no oracle could say.
//!
//! ## Golden files
//! `tests/golden/chaos-seed-<seed>/` holds the oracle's expected alerts
//! (`alerts.csv`), daily totals (`daily-totals.csv`), dead letters per reason
//! (`dead-letters.json`) and the shape of the closed sessions (`sessions.json`) for the
//! seeded day, sorted and human-readable. The run is
//! compared with them AND with the oracle, so a change of the generator, the rules or
//! the pipeline shows up as a reviewable diff. They are written by the oracle, never by
//! hand: regenerate them with
//! `SHARDWISE_BLESS=1 cargo test --workspace --test e2e chaos::` and review the diff.

mod golden;
mod oracle;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use monitoring::generator::GeneratorConfig;
use serde_json::Value;
use shardwise::config::ENV_STATE_BACKEND;
use shardwise_demo::stack::{binaries, load_template};
use shardwise_demo::state;
use shardwise_demo::summary::{MIN_PRECISION, MIN_RECALL};
use shardwise_demo::{DemoOptions, Faults, Profile, run_detailed};

use golden::{
    golden, pipeline_sessions, render_alerts, render_reasons, render_sessions, render_totals,
};
use oracle::oracle;

/// Generator seed (names the golden directory).
const SEED: u64 = 7;
/// A fixed past day, so the golden files do not depend on the date of the run.
pub(super) const DAY: &str = "2026-11-20";
/// Distinct valid transactions of the day.
const TRANSACTIONS: u64 = 1_500;
/// Cap on the template's Kinesis batch sizes: ~20 batches per shard and function
/// instead of 2–4, so the faults have many invocations to hit.
const MAX_BATCH: u32 = 50;
/// The sessions' inactivity gap, set on the functions instead of the template's 120 s:
/// a small day spreads an account's transactions over hours, and with two minutes
/// nearly every session would be a single transaction — no merge would be exercised.
const SESSION_GAP_SECONDS: i64 = 3 * 3600;
/// The session tracker's (and dispatcher's) gap setting.
pub(super) const SESSION_TIMEOUT_ENV: &str = "SESSION_TIMEOUT_SECONDS";
/// Overrides the state backend of fraud-detector and session-tracker (`dynamodb` or
/// `shard_log`) for one run instead of the template's default, through the function
/// environment.
const STATE_BACKEND_OVERRIDE_ENV: &str = "SHARDWISE_CHAOS_STATE_BACKEND";
/// The template's `StateBackend` default.
const DEFAULT_STATE_BACKEND: &str = "shard_log";
/// The stream functions the template's `StateBackend` applies to (their state keys are
/// the partition key or begin with it; daily-totals' first-seen gate keys by account);
/// the others are always on DynamoDB.
pub(super) const STATE_BACKEND_FUNCTIONS: [&str; 3] = [
    binaries::FRAUD_DETECTOR,
    binaries::SESSION_TRACKER,
    binaries::DAILY_TOTALS,
];
/// Regenerates the golden files from the oracle when set to `1`.
pub(super) const BLESS_ENV: &str = "SHARDWISE_BLESS";
/// Operators that decode the transactions (the archiver stores raw bytes as they are).
const DECODING_OPERATORS: [&str; 3] = [
    binaries::FRAUD_DETECTOR,
    binaries::DAILY_TOTALS,
    binaries::SESSION_TRACKER,
];

pub(super) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(super) fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("golden/chaos-seed-{SEED}"))
}

/// The faults: every kind the emulator has, at rates that hit a 2,000-transaction day
/// many times without making the retries dominate the run.
fn faults() -> Faults {
    Faults {
        kill_probability: 0.3,
        duplicate_probability: 0.2,
        ddb_throttle_rate: 0.05,
        // Long enough for a kill (at a random point of its first 2 s) to land while a
        // batch still runs.
        ddb_latency: Duration::from_millis(30),
        seed: SEED,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_pipeline_under_chaos_produces_exactly_the_oracles_alerts_totals_sessions_and_dead_letters()
 {
    let out_dir = std::env::temp_dir().join(format!(
        "shardwise-chaos-{}",
        shardwise_tests::unique_suffix()
    ));
    let backend_override = std::env::var(STATE_BACKEND_OVERRIDE_ENV).ok();
    let mut function_env: BTreeMap<String, String> = [(
        SESSION_TIMEOUT_ENV.to_owned(),
        SESSION_GAP_SECONDS.to_string(),
    )]
    .into();
    if let Some(backend) = &backend_override {
        // On every function: daily-totals and the archiver ignore it (their keys are
        // not partition keys), and the timer-dispatcher must agree with session-tracker.
        function_env.insert(ENV_STATE_BACKEND.to_owned(), backend.clone());
    }
    let options = DemoOptions {
        template: root().join("infra/template.yaml"),
        day: Some(DAY.to_owned()),
        transactions: TRANSACTIONS,
        seed: SEED,
        profile: Profile::Dev,
        out_dir: out_dir.clone(),
        drain_timeout: Duration::from_secs(75),
        settle_timeout: Duration::from_secs(60),
        reconcile_timeout: Duration::from_secs(60),
        faults: faults(),
        generator: GeneratorConfig {
            late_events: false,
            // Ten times the defaults: ~40 re-sent transactions and ~20 malformed
            // records of most kinds, instead of ~10 and ~2.
            duplicate_rate: 0.02,
            malformed_rate: 0.01,
            ..GeneratorConfig::default()
        },
        function_env,
        force_watermarks: true,
        max_batch_size: Some(MAX_BATCH),
        ..DemoOptions::default()
    };
    let oracle = oracle(&options);
    let golden_alerts = golden(
        "alerts.csv",
        &render_alerts(oracle.alerts.values().map(|a| {
            (
                a.alert_id.as_str(),
                a.account.as_str(),
                a.transaction_id.as_str(),
                a.rules.join("+"),
            )
        })),
    );
    let golden_totals = golden("daily-totals.csv", &render_totals(&oracle.totals));
    let mut expected_reasons = BTreeMap::new();
    for reason in oracle.malformed.values() {
        *expected_reasons
            .entry(reason.code().to_owned())
            .or_insert(0_u64) += 1;
    }
    let golden_reasons = golden("dead-letters.json", &render_reasons(&expected_reasons));
    let golden_sessions = golden("sessions.json", &render_sessions(&oracle.sessions));

    let (summary, details) = run_detailed(&options).await.unwrap();
    eprintln!("{}", summary.render());
    eprintln!(
        "faults injected: {:?}; late events: {}",
        details.faults, details.late_events
    );

    // Every function of the template ran, the whole day went out and was consumed.
    assert!(
        summary.functions_missing.is_empty(),
        "{:?}",
        summary.functions_missing
    );
    assert_eq!(summary.load.records, summary.records, "every record stored");
    assert_eq!(
        summary.records,
        oracle.valid.len() as u64 + oracle.malformed.len() as u64
    );
    assert!(summary.not_drained.is_empty(), "{:?}", summary.not_drained);
    assert!(
        details.lag.values().all(|l| *l == 0) && !details.lag.is_empty(),
        "stalled: {:?}",
        details.lag
    );
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);

    // The chaos happened (otherwise this test proves nothing).
    let f = &details.faults;
    assert!(f.total_kills() > 0, "no process was killed: {f:?}");
    assert!(
        f.total_duplicate_deliveries() > 0,
        "no batch was delivered twice: {f:?}"
    );
    assert!(f.ddb_throttles > 0, "DynamoDB never throttled: {f:?}");

    // fraud-detector's and session-tracker's state, and daily-totals' gate, went through the
    // backend they were given, and on the shard log every shard checkpointed.
    let expected_backend = backend_override.as_deref().unwrap_or(DEFAULT_STATE_BACKEND);
    let template = load_template(&options.template).unwrap();
    let transactions = template
        .streams
        .iter()
        .find(|s| s.logical_id == "TransactionsStream");
    let shards = u64::from(transactions.unwrap().shard_count);
    for (function, s) in &summary.state_backends {
        if !STATE_BACKEND_FUNCTIONS.contains(&function.as_str()) {
            assert_eq!(s.backend, state::DYNAMODB, "{function}: {s:?}");
            continue;
        }
        assert_eq!(s.backend, expected_backend, "{function}: {s:?}");
        if s.backend == state::SHARD_LOG {
            assert_eq!(
                s.shards,
                Some(shards),
                "{function}: every shard checkpointed"
            );
            assert!(s.commits > Some(0), "{function}: {s:?}");
        }
    }

    // Alerts: exactly the oracle's, once each.
    let alert_rows: Vec<(String, String, String, String)> = details
        .alerts
        .iter()
        .map(|j| {
            let text = |k: &str| j[k].as_str().unwrap_or_default().to_owned();
            let rules: Vec<&str> = j["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            (
                text("pk"),
                text("account"),
                text("transaction_id"),
                rules.join("+"),
            )
        })
        .collect();
    let ids: BTreeSet<&str> = alert_rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids.len(), alert_rows.len(), "duplicate alert items");
    let expected_ids: BTreeSet<&str> = oracle.alerts.keys().map(String::as_str).collect();
    assert_eq!(
        ids.difference(&expected_ids).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "alerts the oracle does not raise"
    );
    assert_eq!(
        expected_ids.difference(&ids).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "missing alerts"
    );
    let run_alerts = render_alerts(
        alert_rows
            .iter()
            .map(|(id, a, t, r)| (id.as_str(), a.as_str(), t.as_str(), r.clone())),
    );
    assert_eq!(
        run_alerts, golden_alerts,
        "alerts differ from the golden file"
    );
    let score = summary.alerts.as_ref().expect("alerts scored");
    assert_eq!(score.duplicate_alerts, 0, "{score:?}");
    assert!(score.precision >= MIN_PRECISION, "{score:?}");
    assert!(score.recall >= MIN_RECALL, "{score:?}");

    // Daily totals: to the cent, every row final.
    assert!(
        details.total_rows.iter().all(|r| r.is_final),
        "windows not closed"
    );
    let run_totals: BTreeMap<(String, String, String), (i64, u64)> = details
        .total_rows
        .iter()
        .map(|r| {
            (
                (r.dimension.clone(), r.id.clone(), r.currency.clone()),
                (r.revenue_minor, r.count),
            )
        })
        .collect();
    assert_eq!(run_totals.len(), details.total_rows.len());
    assert_eq!(
        run_totals, oracle.totals,
        "daily totals differ from the oracle"
    );
    assert_eq!(render_totals(&run_totals), golden_totals);

    // The nightly reconciliation finds nothing to explain.
    let r = summary
        .reconciliation
        .as_ref()
        .expect("a reconciliation report");
    assert_eq!(r.differences, 0, "{r:?}");

    // Dead letters: every malformed record with its bytes and reason, per decoding
    // operator, and nothing else.
    for operator in DECODING_OPERATORS {
        let items: Vec<_> = details
            .dead_letters
            .iter()
            .filter(|d| d.operator == operator)
            .collect();
        let mut by_record: BTreeMap<(&str, &str), &[u8]> = BTreeMap::new();
        for d in &items {
            by_record.insert((&d.shard_id, &d.sequence_number), &d.data);
            let reason = oracle
                .malformed
                .get(&d.data)
                .unwrap_or_else(|| panic!("{operator} dead-lettered a valid record: {d:?}"));
            let text = format!("{}: {reason}", reason.code());
            assert!(d.error.contains(&text), "{operator}: {d:?} lacks `{text}`");
        }
        let bytes: BTreeSet<&[u8]> = by_record.values().copied().collect();
        let expected: BTreeSet<&[u8]> = oracle.malformed.keys().map(Vec::as_slice).collect();
        assert_eq!(bytes, expected, "{operator}'s dead letters");
        assert_eq!(
            by_record.len(),
            expected.len(),
            "{operator}: one item per record"
        );
    }
    let d = &summary.dead_letters;
    assert_eq!(d.by_reason, expected_reasons, "{d:?}");
    assert_eq!(render_reasons(&d.by_reason), golden_reasons);

    // Sessions: every closed summary equals the oracle's sessionization.
    assert_eq!(details.late_events, 0, "nothing is late in this day");
    let run_sessions = pipeline_sessions(&details);
    assert_eq!(run_sessions.len(), details.closed_sessions.len());
    let extra: Vec<_> = run_sessions.difference(&oracle.sessions).take(5).collect();
    let missing: Vec<_> = oracle.sessions.difference(&run_sessions).take(5).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "sessions differ: {} vs {} oracle; extra {extra:?}, missing {missing:?}",
        run_sessions.len(),
        oracle.sessions.len()
    );
    assert_eq!(render_sessions(&run_sessions), golden_sessions);

    let _ = std::fs::remove_dir_all(&out_dir);
}
