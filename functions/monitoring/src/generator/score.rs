//! Scoring a detector's alerts against the ground truth (precision and recall), so the
//! demo, the benchmarks and the tests all count the same way.
//!
//! An alert names an account and the transaction it fired on. It is a true alert when
//! that transaction belongs to a fraud case of that account; a case is detected when at
//! least one alert fired on one of its transactions. Alerts are de-duplicated by
//! (account, transaction) first, so a detector that alerts twice on one transaction is
//! not rewarded (use [`Score::duplicate_alerts`] to check exactly-once delivery).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::fraud::FraudPattern;
use super::truth::GroundTruth;
use crate::model::{AccountId, TransactionId};

/// Per-pattern detection counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternScore {
    /// Cases of the pattern.
    pub cases: u64,
    /// Of which detected.
    pub detected: u64,
}

/// The outcome of scoring.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Distinct (account, transaction) alerts.
    pub alerts: u64,
    /// Alerts repeated for the same (account, transaction).
    pub duplicate_alerts: u64,
    /// Alerts on a transaction of one of the account's fraud cases.
    pub true_alerts: u64,
    /// Fraud cases.
    pub cases: u64,
    /// Cases with at least one true alert.
    pub detected_cases: u64,
    /// true_alerts / alerts (1.0 when there are no alerts).
    pub precision: f64,
    /// detected_cases / cases (1.0 when there are no cases).
    pub recall: f64,
    /// Detection per pattern.
    pub per_pattern: BTreeMap<FraudPattern, PatternScore>,
}

/// Scores `alerts` (account, transaction fired on) against `truth`.
pub fn score_alerts<I>(truth: &GroundTruth, alerts: I) -> Score
where
    I: IntoIterator<Item = (AccountId, TransactionId)>,
{
    let case_of: HashMap<(&AccountId, &TransactionId), usize> = truth
        .fraud
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.transaction_ids
                .iter()
                .map(move |t| ((&c.account_id, t), i))
        })
        .collect();
    let mut seen = HashSet::new();
    let mut score = Score::default();
    let mut detected = HashSet::new();
    for (account, tx) in alerts {
        if !seen.insert((account.clone(), tx.clone())) {
            score.duplicate_alerts += 1;
            continue;
        }
        score.alerts += 1;
        if let Some(&case) = case_of.get(&(&account, &tx)) {
            score.true_alerts += 1;
            detected.insert(case);
        }
    }
    for (i, c) in truth.fraud.iter().enumerate() {
        let p = score.per_pattern.entry(c.pattern).or_default();
        p.cases += 1;
        p.detected += u64::from(detected.contains(&i));
    }
    score.cases = truth.fraud.len() as u64;
    score.detected_cases = detected.len() as u64;
    score.precision = ratio(score.true_alerts, score.alerts);
    score.recall = ratio(score.detected_cases, score.cases);
    score
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}
