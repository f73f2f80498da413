//! The generator checked from the outside: only emitted bytes and the ground truth are
//! used, and every expectation is recomputed from the records, never taken from the
//! generator's own bookkeeping.

use std::collections::{BTreeMap, HashMap, HashSet};

use monitoring::generator::{
    FraudPattern, Generated, GeneratorConfig, GroundTruth, MALFORMED_DEFECT_KINDS, RecordKind,
    generate, score_alerts,
};
use monitoring::model::{AccountId, Transaction, TransactionId};
use monitoring::rules::*;
use monitoring::validate::Validator;

fn config(seed: u64, transactions: u64) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        transactions,
        ..GeneratorConfig::default()
    }
}

/// Processing time late enough for every record of the day (late ones arrive ≤ 6 h after
/// midnight of the next day at worst).
fn processing_time(day_start_ms: i64) -> i64 {
    day_start_ms + 36 * 3_600_000
}

const DAY_START_MS: i64 = 1_795_219_200_000; // 2026-11-21T00:00:00Z

fn all_bytes(g: &Generated) -> Vec<u8> {
    let mut out = Vec::new();
    for r in g.records() {
        out.extend_from_slice(r.partition_key.as_bytes());
        out.push(0);
        out.extend_from_slice(&r.data);
        out.push(b'\n');
    }
    g.ground_truth().write_jsonl(&mut out).unwrap();
    out
}

/// Valid, de-duplicated transactions in arrival order (first copy wins).
fn valid_transactions(g: &Generated) -> Vec<Transaction> {
    let v = Validator::default();
    let now = processing_time(DAY_START_MS);
    let mut seen = HashSet::new();
    g.records()
        .filter_map(|r| v.validate(&r.data, now).ok())
        .filter(|t| seen.insert(t.transaction_id.clone()))
        .collect()
}

#[test]
fn the_same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let a = all_bytes(&generate(&config(42, 5_000)).unwrap());
    let b = all_bytes(&generate(&config(42, 5_000)).unwrap());
    let c = all_bytes(&generate(&config(43, 5_000)).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn the_output_is_pinned_so_platform_or_library_drift_is_noticed() {
    // FNV-1a of the first 200 records of seed 7; computed once on x86_64 Linux. If this
    // changes, the generator's bytes changed: every stored ground truth is invalidated.
    let g = generate(&config(7, 2_000)).unwrap();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for r in g.records().take(200) {
        for b in r.partition_key.bytes().chain(r.data.iter().copied()) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let first = String::from_utf8(g.records().next().unwrap().data).unwrap();
    assert!(
        first.starts_with("{\"transaction_id\":\"tx-20261121-"),
        "{first}"
    );
    assert_eq!(
        hash, PINNED_HASH,
        "generator output changed (first record {first})"
    );
}

const PINNED_HASH: u64 = 5_574_200_179_406_052_522;

#[test]
fn every_malformed_record_is_rejected_with_its_stated_reason() {
    let g = generate(&GeneratorConfig {
        malformed_rate: 0.01,
        ..config(3, 5_000)
    })
    .unwrap();
    let truth = g.ground_truth();
    assert!(truth.malformed.len() >= MALFORMED_DEFECT_KINDS * 3);
    let records: Vec<_> = g.records().collect();
    let v = Validator::default();
    let now = processing_time(DAY_START_MS);
    let mut codes = HashSet::new();
    for m in &truth.malformed {
        let r = &records[m.record_index as usize];
        assert_eq!(r.kind, RecordKind::Malformed);
        assert_eq!(r.data, m.data.as_bytes());
        assert_eq!(r.partition_key, m.partition_key);
        let got = v.validate(&r.data, now).unwrap_err();
        assert_eq!(got, m.reason, "record {}: {}", m.record_index, m.data);
        codes.insert(got.code());
    }
    assert_eq!(codes.len(), 13, "every reason code appears: {codes:?}");
    let flagged = records
        .iter()
        .filter(|r| r.kind == RecordKind::Malformed)
        .count();
    assert_eq!(flagged, truth.malformed.len());
}

#[test]
fn every_other_record_validates_and_duplicates_are_byte_identical() {
    let g = generate(&config(4, 5_000)).unwrap();
    let v = Validator::default();
    let now = processing_time(DAY_START_MS);
    let mut first_bytes: HashMap<TransactionId, Vec<u8>> = HashMap::new();
    let mut dups = Vec::new();
    for r in g.records().filter(|r| r.kind != RecordKind::Malformed) {
        let t = v
            .validate(&r.data, now)
            .unwrap_or_else(|e| panic!("{e}: {:?}", r));
        assert_eq!(t.account_id.as_str(), r.partition_key);
        match first_bytes.get(&t.transaction_id) {
            Some(bytes) => {
                assert_eq!(bytes, &r.data);
                assert_eq!(r.kind, RecordKind::Duplicate);
                dups.push(t.transaction_id.clone());
            }
            None => {
                assert_ne!(r.kind, RecordKind::Duplicate);
                first_bytes.insert(t.transaction_id.clone(), r.data.clone());
            }
        }
    }
    let truth = g.ground_truth();
    assert_eq!(first_bytes.len() as u64, truth.counts.transactions);
    assert_eq!(truth.counts.transactions, 5_000);
    dups.sort();
    let mut stated = truth.duplicates.clone();
    stated.sort();
    assert_eq!(dups, stated);
}

#[test]
fn ground_truth_totals_equal_a_recomputation_from_the_records() {
    let g = generate(&config(5, 20_000)).unwrap();
    let txs = valid_transactions(&g);
    let mut merchants: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    let mut products: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for t in &txs {
        let m = merchants.entry(t.merchant_id.to_string()).or_default();
        m.0 += t.amount.minor;
        m.1 += 1;
        let p = products.entry(t.product_id.to_string()).or_default();
        p.0 += t.amount.minor;
        p.1 += 1;
    }
    let truth = g.ground_truth();
    let stated: BTreeMap<String, (i64, u64)> = truth
        .merchant_totals
        .iter()
        .map(|t| (t.merchant_id.to_string(), (t.revenue_minor, t.count)))
        .collect();
    assert_eq!(stated, merchants);
    let stated: BTreeMap<String, (i64, u64)> = truth
        .product_totals
        .iter()
        .map(|t| (t.product_id.to_string(), (t.revenue_minor, t.count)))
        .collect();
    assert_eq!(stated, products);
    assert!(truth.merchant_totals.iter().all(|t| t.day == "2026-11-21"));
}

#[test]
fn patterns_late_events_and_duplicates_come_in_the_stated_proportions() {
    let cfg = config(6, 50_000);
    let g = generate(&cfg).unwrap();
    let truth = g.ground_truth();
    let accounts = cfg.transactions / 10;
    let cases = (cfg.fraud_account_ratio * accounts as f64).round() as usize;
    assert_eq!(truth.fraud.len(), cases);
    let mut per_pattern: BTreeMap<FraudPattern, usize> = BTreeMap::new();
    for c in &truth.fraud {
        *per_pattern.entry(c.pattern).or_default() += 1;
    }
    assert_eq!(per_pattern.len(), FraudPattern::ALL.len());
    let (lo, hi) = (
        per_pattern.values().min().unwrap(),
        per_pattern.values().max().unwrap(),
    );
    assert!(hi - lo <= 1, "{per_pattern:?}");
    let n = cfg.transactions as f64;
    assert_eq!(
        truth.duplicates.len(),
        (cfg.duplicate_rate * n).round() as usize
    );
    assert_eq!(truth.late.len(), (cfg.late_rate * n).round() as usize);
    assert_eq!(
        truth.malformed.len(),
        (cfg.malformed_rate * n).round() as usize
    );
    let fraud_accounts: HashSet<_> = truth.fraud.iter().map(|c| c.account_id.clone()).collect();
    assert_eq!(
        fraud_accounts.len(),
        truth.fraud.len(),
        "one case per account"
    );

    let no_late = generate(&GeneratorConfig {
        late_events: false,
        ..cfg
    })
    .unwrap();
    assert!(no_late.ground_truth().late.is_empty());
    assert!(no_late.records().all(|r| r.kind != RecordKind::Late));
}

#[test]
fn late_events_arrive_hours_late_and_other_records_within_the_disorder_bound() {
    let g = generate(&config(8, 20_000)).unwrap();
    let v = Validator::default();
    let now = processing_time(DAY_START_MS);
    let late: HashSet<_> = g.ground_truth().late.iter().cloned().collect();
    // Event times of on-time records, to know what must have arrived before a late one.
    let mut on_time: Vec<i64> = g
        .records()
        .filter(|r| r.kind == RecordKind::Valid)
        .map(|r| v.validate(&r.data, now).unwrap().event_time.millis())
        .collect();
    on_time.sort_unstable();
    let mut max_seen = i64::MIN;
    let mut last_per_account: HashMap<String, i64> = HashMap::new();
    let mut late_seen = 0;
    for r in g.records() {
        let Ok(t) = v.validate(&r.data, now) else {
            continue;
        };
        let ms = t.event_time.millis();
        if late.contains(&t.transaction_id) && r.kind == RecordKind::Late {
            // Arrival ≥ event + 1 h, and on-time records arrive ≤ 3 s after their event
            // time: everything on time up to event + 1 h − 3 s came first.
            let bound = ms + 3_600_000 - 3_000;
            let must_precede = on_time[..on_time.partition_point(|&e| e <= bound)].last();
            assert!(must_precede.is_none_or(|&e| max_seen >= e), "late by ≥ 1 h");
            late_seen += 1;
            continue;
        }
        if r.kind == RecordKind::Duplicate {
            continue;
        }
        let behind = max_seen.saturating_sub(ms);
        assert!(behind <= 3_000, "disorder bound: {behind} ms");
        max_seen = max_seen.max(ms);
        let prev = last_per_account.insert(r.partition_key.clone(), ms);
        assert!(prev.is_none_or(|p| p < ms), "per-account order");
    }
    assert_eq!(late_seen, late.len());
}

#[test]
fn the_ground_truth_round_trips_through_json_lines() {
    let g = generate(&config(9, 3_000)).unwrap();
    let mut out = Vec::new();
    g.ground_truth().write_jsonl(&mut out).unwrap();
    let back = GroundTruth::read_jsonl(out.as_slice()).unwrap();
    assert_eq!(&back, g.ground_truth());
}

// ---------------------------------------------------------------------------------------
// A trivial rule-based reference detector: shows the patterns are detectable with the
// documented thresholds and that normal traffic stays clean.

#[derive(Default)]
struct AccountState {
    history: Vec<Transaction>,
    devices: HashSet<String>,
}

/// Which rules fire on `t` given the account's earlier transactions (event-time order).
fn rules(state: &AccountState, t: &Transaction) -> Vec<FraudPattern> {
    let ms = t.event_time.millis();
    let recent: Vec<&Transaction> = state
        .history
        .iter()
        .filter(|h| ms - h.event_time.millis() < WINDOW_MS)
        .chain(std::iter::once(t))
        .collect();
    let mut fired = Vec::new();
    if recent
        .iter()
        .filter(|h| h.amount.minor < SMALL_AMOUNT_BELOW_MINOR)
        .count()
        >= CARD_TESTING_MIN_COUNT
    {
        fired.push(FraudPattern::CardTesting);
    }
    let sum: i64 = recent.iter().map(|h| h.amount.minor).sum();
    if recent.len() >= VELOCITY_MIN_COUNT && sum > VELOCITY_SUM_ABOVE_MINOR {
        fired.push(FraudPattern::VelocitySpike);
    }
    if let Some(prev) = state.history.last() {
        let km = prev.location.distance_km(t.location);
        let hours = (ms - prev.event_time.millis()) as f64 / 3_600_000.0;
        if km > TRAVEL_MIN_KM && km / hours.max(1e-9) > TRAVEL_MIN_KMH {
            fired.push(FraudPattern::ImpossibleTravel);
        }
    }
    if state.history.len() >= PROFILE_MIN_HISTORY {
        let mean = state.history.iter().map(|h| h.amount.minor).sum::<i64>() as f64
            / state.history.len() as f64;
        let amount = t.amount.minor as f64;
        if amount >= OUTLIER_MIN_RATIO * mean {
            fired.push(FraudPattern::AmountOutlier);
        }
        if !state.devices.contains(t.device_id.as_str()) && amount >= NEW_DEVICE_MIN_RATIO * mean {
            fired.push(FraudPattern::NewDeviceHighAmount);
        }
    }
    fired
}

#[test]
fn a_simple_rule_detector_finds_the_injected_fraud_and_little_else() {
    let g = generate(&config(10, 100_000)).unwrap();
    let truth = g.ground_truth();
    let mut txs = valid_transactions(&g);
    txs.sort_by_key(|t| (t.account_id.clone(), t.event_time));
    let mut state: HashMap<String, AccountState> = HashMap::new();
    // (account, tx id, pattern) of every firing
    let mut alerts: Vec<(AccountId, TransactionId, FraudPattern)> = Vec::new();
    for t in &txs {
        let s = state.entry(t.account_id.to_string()).or_default();
        for p in rules(s, t) {
            alerts.push((t.account_id.clone(), t.transaction_id.clone(), p));
        }
        s.devices.insert(t.device_id.to_string());
        s.history.push(t.clone());
    }
    let score = score_alerts(truth, alerts.iter().map(|a| (a.0.clone(), a.1.clone())));
    eprintln!("reference detector: {score:?}");
    // The issue asks for ≥ 0.9; the generator's guarantees (see `generator` docs) make
    // both exact, so anything less means a guarantee broke.
    assert_eq!(score.precision, 1.0, "precision");
    assert_eq!(score.recall, 1.0, "recall");
    assert_eq!(score.cases, truth.fraud.len() as u64);
    assert!(
        score
            .per_pattern
            .values()
            .all(|p| p.detected == p.cases && p.cases > 0)
    );
    // Each case's own rule first fires exactly at its stated first-detectable transaction.
    for c in &truth.fraud {
        let first = alerts
            .iter()
            .find(|a| a.2 == c.pattern && a.0 == c.account_id)
            .map(|a| a.1.clone());
        assert_eq!(first.as_ref(), Some(&c.first_detectable), "{c:?}");
    }
}

#[test]
fn scoring_counts_false_and_repeated_alerts() {
    let g = generate(&config(12, 3_000)).unwrap();
    let truth = g.ground_truth();
    let case = &truth.fraud[0];
    let hit = (case.account_id.clone(), case.first_detectable.clone());
    let miss = (AccountId::new("acc-nobody"), TransactionId::new("tx-none"));
    let score = score_alerts(truth, [hit.clone(), hit, miss]);
    assert_eq!(score.alerts, 2);
    assert_eq!(score.duplicate_alerts, 1);
    assert_eq!(score.true_alerts, 1);
    assert_eq!(score.precision, 0.5);
    assert_eq!(score.detected_cases, 1);
    assert_eq!(score.recall, 1.0 / truth.fraud.len() as f64);
}

/// The committed golden day (`tests/golden/`): fixtures for other crates' golden
/// scenarios, and a readable pin of the generator's bytes.
fn golden_config() -> GeneratorConfig {
    GeneratorConfig {
        seed: 1,
        transactions: 500,
        fraud_account_ratio: 0.1,
        malformed_rate: 0.03,
        duplicate_rate: 0.01,
        late_rate: 0.01,
        ..GeneratorConfig::default()
    }
}

#[test]
fn the_committed_golden_day_is_reproduced_byte_for_byte() {
    let g = generate(&golden_config()).unwrap();
    let mut records = Vec::new();
    g.write_records_jsonl(&mut records).unwrap();
    let mut truth = Vec::new();
    g.ground_truth().write_jsonl(&mut truth).unwrap();
    assert!(
        records == include_bytes!("golden/seed1-500.records.jsonl"),
        "records differ"
    );
    assert!(
        truth == include_bytes!("golden/seed1-500.truth.jsonl"),
        "ground truth differs"
    );
    let t = g.ground_truth();
    assert_eq!(t.fraud.len(), 5);
    assert_eq!(t.malformed.len(), 15);
}
