//! The chaos test's oracle: everything computed from scratch from the generated records
//! — validation, de-duplication, totals, alerts (the detector folded in memory) and an
//! event-time sessionization — with cross-checks against the generator's ground truth.

use std::collections::{BTreeMap, BTreeSet};

use fraud_detector::{Alert, FraudConfig, oracle_alerts};
use monitoring::format_event_time;
use monitoring::generator::generate;
use monitoring::model::Transaction;
use monitoring::validate::{RejectReason, Validator};
use shardwise_demo::stack::{binaries, load_template};
use shardwise_demo::{DemoOptions, generator_config};

use super::{DAY, SESSION_TIMEOUT_ENV, root};

/// What the oracle derives from the generated records.
pub(super) struct Oracle {
    /// Valid records in arrival order (re-sent duplicates included).
    pub(super) valid: Vec<Transaction>,
    /// Malformed records: bytes → expected reason.
    pub(super) malformed: BTreeMap<Vec<u8>, RejectReason>,
    /// (dimension, id, currency) → (revenue minor, count), de-duplicated, for the day.
    pub(super) totals: BTreeMap<(String, String, String), (i64, u64)>,
    /// Alerts by id.
    pub(super) alerts: BTreeMap<String, Alert>,
    /// Closed sessions.
    pub(super) sessions: BTreeSet<SessionRow>,
}

/// A closed session as compared: account, device, start, end (RFC 3339), transactions,
/// amount per currency.
pub(super) type SessionRow = (String, String, String, String, u64, BTreeMap<String, i64>);

fn template_env(binary: &str) -> BTreeMap<String, String> {
    let template = load_template(&root().join("infra/template.yaml")).unwrap();
    template
        .functions
        .iter()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("the template has no {binary}"))
        .environment
        .clone()
}

pub(super) fn oracle(options: &DemoOptions) -> Oracle {
    let generated = generate(&generator_config(options, DAY)).unwrap();
    let validator = Validator::default();
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let mut valid = Vec::new();
    let mut malformed = BTreeMap::new();
    for record in generated.records() {
        match validator.validate(&record.data, now_ms) {
            Ok(tx) => valid.push(tx),
            Err(reason) => {
                malformed.insert(record.data.clone(), reason);
            }
        }
    }
    // The validator agrees with the generator about what is malformed and why.
    let truth = generated.ground_truth();
    let expected: BTreeMap<Vec<u8>, String> = truth
        .malformed
        .iter()
        .map(|m| (m.data.as_bytes().to_vec(), m.reason.code().to_owned()))
        .collect();
    let found: BTreeMap<Vec<u8>, String> = malformed
        .iter()
        .map(|(d, r)| (d.clone(), r.code().to_owned()))
        .collect();
    assert_eq!(found, expected, "validator and generator disagree");

    let mut seen = BTreeSet::new();
    let distinct: Vec<&Transaction> = valid
        .iter()
        .filter(|t| seen.insert(t.transaction_id.as_str().to_owned()))
        .collect();
    let mut totals = BTreeMap::new();
    for t in distinct
        .iter()
        .filter(|t| format_event_time(t.event_time.millis()).starts_with(DAY))
    {
        let currency = t.amount.currency.code().to_owned();
        for (dimension, id) in [
            ("merchant", t.merchant_id.as_str()),
            ("product", t.product_id.as_str()),
        ] {
            let e = totals
                .entry((dimension.to_owned(), id.to_owned(), currency.clone()))
                .or_insert((0_i64, 0_u64));
            e.0 += t.amount.minor;
            e.1 += 1;
        }
    }
    // …and about the day's totals (computed independently, from its own plan).
    for m in &truth.merchant_totals {
        let key = (
            "merchant".to_owned(),
            m.merchant_id.as_str().to_owned(),
            m.currency.code().to_owned(),
        );
        assert_eq!(
            totals.get(&key),
            Some(&(m.revenue_minor, m.count)),
            "{key:?}"
        );
    }

    let fraud_env = template_env(binaries::FRAUD_DETECTOR);
    let config = FraudConfig::from_lookup(|k| fraud_env.get(k).cloned()).unwrap();
    let alerts = oracle_alerts(config, valid.iter().cloned()).unwrap();

    let gap_ms: i64 = options.function_env[SESSION_TIMEOUT_ENV]
        .parse::<i64>()
        .unwrap()
        * 1000;
    let sessions = sessionize(&distinct, gap_ms);
    Oracle {
        valid,
        malformed,
        totals,
        alerts,
        sessions,
    }
}

/// Event-time sessions per (account, device): maximal runs whose consecutive event
/// times are less than `gap_ms` apart.
pub(super) fn sessionize(distinct: &[&Transaction], gap_ms: i64) -> BTreeSet<SessionRow> {
    let mut by_device: BTreeMap<(String, String), Vec<&Transaction>> = BTreeMap::new();
    for t in distinct {
        by_device
            .entry((
                t.account_id.as_str().to_owned(),
                t.device_id.as_str().to_owned(),
            ))
            .or_default()
            .push(t);
    }
    let mut out = BTreeSet::new();
    for ((account, device), mut txs) in by_device {
        txs.sort_by_key(|t| t.event_time.millis());
        let mut runs: Vec<Vec<&Transaction>> = Vec::new();
        for t in txs {
            match runs.last_mut() {
                Some(run)
                    if t.event_time.millis()
                        < run.last().map_or(i64::MIN, |l| l.event_time.millis()) + gap_ms =>
                {
                    run.push(t);
                }
                _ => runs.push(vec![t]),
            }
        }
        for run in runs {
            let mut amounts = BTreeMap::new();
            for t in &run {
                *amounts
                    .entry(t.amount.currency.code().to_owned())
                    .or_insert(0) += t.amount.minor;
            }
            let start = run.first().map_or(0, |t| t.event_time.millis());
            let end = run.last().map_or(0, |t| t.event_time.millis());
            out.insert((
                account.clone(),
                device.clone(),
                format_event_time(start),
                format_event_time(end),
                run.len() as u64,
                amounts,
            ));
        }
    }
    out
}
