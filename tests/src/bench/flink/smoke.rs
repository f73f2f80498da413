//! The benchmark's cheap smoke test (runs with `cargo test`): a small generated day through
//! the reference, checked against the generator's ground truth (an oracle that knows
//! nothing of windows), and Flink-shaped result files through the comparison. Flink itself
//! only runs in `scripts/bench-flink.sh` (installing it and starting a JVM takes minutes).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use monitoring::generator::{FraudPattern, GeneratorConfig, GroundTruth, generate};

use super::compare::diff;
use super::input::{Event, read_events};
use super::reference::{R1Alert, R2Total, compute};
use super::results::{parse_r1, parse_r2, read_dir};

const WATERMARK_DELAY_MS: i64 = 10_000;

/// A generated day as the benchmark writes it (JSON Lines, arrival order), parsed back.
fn day(transactions: u64, late: bool) -> (Vec<Event>, GroundTruth) {
    let config = GeneratorConfig {
        seed: 7,
        transactions,
        duplicate_rate: 0.0,
        malformed_rate: 0.0,
        late_events: late,
        late_rate: 0.01,
        ..GeneratorConfig::default()
    };
    let generated = generate(&config).unwrap();
    let mut jsonl = Vec::new();
    generated.write_records_jsonl(&mut jsonl).unwrap();
    let events = read_events(jsonl.as_slice()).unwrap();
    (events, generated.ground_truth().clone())
}

fn truth_totals(truth: &GroundTruth) -> Vec<R2Total> {
    truth
        .merchant_totals
        .iter()
        .map(|t| R2Total {
            merchant_id: t.merchant_id.as_str().to_owned(),
            currency: t.currency.code().to_owned(),
            day: t.day.clone(),
            revenue_minor: t.revenue_minor,
            count: t.count,
        })
        .collect()
}

#[test]
fn the_reference_alerts_exactly_the_accounts_of_the_velocity_cases() {
    let (events, truth) = day(2_000, false);
    assert_eq!(events.len(), 2_000);
    let r = compute(&events, Some(WATERMARK_DELAY_MS));
    let alerted: BTreeSet<&str> = r.r1.iter().map(|a| a.account_id.as_str()).collect();
    let velocity: BTreeSet<&str> = truth
        .fraud
        .iter()
        .filter(|c| c.pattern == FraudPattern::VelocitySpike)
        .map(|c| c.account_id.as_str())
        .collect();
    assert!(!velocity.is_empty());
    assert_eq!(alerted, velocity);
    assert!(r.late.is_empty(), "no late events: {:?}", &r.late[..1]);
    assert_eq!(
        r,
        compute(&events, None),
        "nothing is late, so streaming = batch"
    );
}

#[test]
fn the_reference_daily_totals_equal_the_generators_ground_truth() {
    let (events, truth) = day(2_000, false);
    let r = compute(&events, Some(WATERMARK_DELAY_MS));
    let d = diff(&truth_totals(&truth), &r.r2);
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn with_late_events_on_the_watermark_drops_exactly_the_generators_late_records() {
    let (events, truth) = day(2_000, true);
    let streaming = compute(&events, Some(WATERMARK_DELAY_MS));
    let batch = compute(&events, None);
    assert!(truth.late.len() >= 10, "{}", truth.late.len());
    // Hours late: dropped from all ten R1 windows; nothing on time is dropped anywhere.
    let dropped: BTreeSet<&str> = streaming
        .late
        .iter()
        .map(|l| l.transaction_id.as_str())
        .collect();
    let late: BTreeSet<&str> = truth.late.iter().map(|t| t.as_str()).collect();
    assert_eq!(dropped, late);
    assert!(streaming.late.iter().all(|l| l.r1_windows_dropped == 10));
    // Batch R2 is the ground truth (late records belong to their event day) …
    assert!(diff(&truth_totals(&truth), &batch.r2).is_empty());
    // … and streaming R2 differs by exactly the records whose day had fired.
    let by_id: BTreeMap<&str, &Event> = events
        .iter()
        .map(|e| (e.transaction_id.as_str(), e))
        .collect();
    let mut explained: BTreeMap<(String, String), (i64, u64)> = streaming
        .r2
        .iter()
        .map(|t| {
            (
                (t.merchant_id.clone(), t.day.clone()),
                (t.revenue_minor, t.count),
            )
        })
        .collect();
    for l in streaming.late.iter().filter(|l| l.r2_dropped) {
        let e = by_id[l.transaction_id.as_str()];
        let day = super::reference::day_string(e.event_time_ms.div_euclid(86_400_000));
        let t = explained.entry((e.merchant_id.clone(), day)).or_default();
        t.0 += e.amount_minor;
        t.1 += 1;
    }
    let batch_totals: BTreeMap<(String, String), (i64, u64)> = batch
        .r2
        .iter()
        .map(|t| {
            (
                (t.merchant_id.clone(), t.day.clone()),
                (t.revenue_minor, t.count),
            )
        })
        .collect();
    assert_eq!(explained, batch_totals);
}

fn flink_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000).unwrap();
    format!(
        "{} {:02}:{:02}:{:02}",
        super::reference::day_string(ms.div_euclid(86_400_000)),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn flink_r1_line(a: &R1Alert) -> String {
    serde_json::json!({
        "account_id": a.account_id, "currency": a.currency,
        "window_start": flink_time(a.window_start_ms), "window_end": flink_time(a.window_end_ms),
        "tx_count": a.count, "sum_minor": a.sum_minor,
    })
    .to_string()
}

fn flink_r2_line(t: &R2Total) -> String {
    serde_json::json!({
        "merchant_id": t.merchant_id, "currency": t.currency, "day": t.day,
        "revenue_minor": t.revenue_minor, "tx_count": t.count,
    })
    .to_string()
}

/// Writes lines as two Flink part files (two subtasks), like the filesystem sink does.
fn write_parts(dir: &PathBuf, lines: &[String]) {
    fs::create_dir_all(dir).unwrap();
    let (a, b) = lines.split_at(lines.len() / 2);
    fs::write(dir.join("part-x-0-0"), a.join("\n") + "\n").unwrap();
    fs::write(dir.join("part-x-1-0"), b.join("\n") + "\n").unwrap();
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flink-smoke-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn flink_shaped_results_equal_to_the_reference_compare_clean_and_a_wrong_row_is_caught() {
    let (events, _) = day(2_000, false);
    let r = compute(&events, Some(WATERMARK_DELAY_MS));
    let r1_dir = scratch("r1");
    let r2_dir = scratch("r2");
    write_parts(
        &r1_dir,
        &r.r1.iter().rev().map(flink_r1_line).collect::<Vec<_>>(),
    );
    write_parts(&r2_dir, &r.r2.iter().map(flink_r2_line).collect::<Vec<_>>());
    let r1 = read_dir(&r1_dir, parse_r1).unwrap();
    let r2 = read_dir(&r2_dir, parse_r2).unwrap();
    assert!(diff(&r.r1, &r1).is_empty());
    assert!(diff(&r.r2, &r2).is_empty());

    // One alert lost, one total off by a cent: both reported, nothing else.
    let mut wrong_r1 = r1.clone();
    let lost = wrong_r1.pop().unwrap();
    let mut wrong_r2 = r2.clone();
    wrong_r2[0].revenue_minor += 1;
    let d1 = diff(&r.r1, &wrong_r1);
    assert_eq!((d1.missing, d1.unexpected.len()), (vec![lost], 0));
    let d2 = diff(&r.r2, &wrong_r2);
    assert_eq!((d2.missing.len(), d2.unexpected.len()), (1, 1));

    // An uncommitted part file means the job did not finish: an error, not a skip.
    fs::write(r1_dir.join(".part-y-0-1.inprogress.5e0c"), "").unwrap();
    assert!(read_dir(&r1_dir, parse_r1).is_err());
    let _ = fs::remove_dir_all(&r1_dir);
    let _ = fs::remove_dir_all(&r2_dir);
}
