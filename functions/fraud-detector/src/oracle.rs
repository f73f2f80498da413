//! The from-scratch oracle: which alerts a correct deployment must have produced.
//!
//! End-to-end tests (the chaos test above all) compare the alerts table with this: the
//! operator folded in memory with [`shardwise::Harness`] over the valid transactions in
//! the order the stream delivers them per account (the partition key), re-sent
//! duplicates included — the detector itself must drop them, as it must in production.
//! No commits, no retries, no re-deliveries: whatever the deployed pipeline does under
//! process kills, throttling and duplicate batches, its alerts must equal this set.

use std::collections::BTreeMap;

use monitoring::model::Transaction;
use shardwise::{Error, Harness};

use crate::alert::Alert;
use crate::config::FraudConfig;
use crate::detector::FraudDetector;

/// The alerts `config`'s detector raises over `transactions` (in arrival order; only the
/// order within each account matters), by alert id.
pub fn oracle_alerts(
    config: FraudConfig,
    transactions: impl IntoIterator<Item = Transaction>,
) -> Result<BTreeMap<String, Alert>, Error> {
    let mut harness = Harness::new(FraudDetector::new(config));
    for tx in transactions {
        harness.process(tx)?;
    }
    Ok(harness
        .outputs
        .into_iter()
        .map(|(_, _, alert)| (alert.alert_id.clone(), alert))
        .collect())
}

#[cfg(test)]
mod tests {
    use monitoring::generator::{GeneratorConfig, generate};
    use monitoring::validate::Validator;

    use super::*;

    fn day_transactions(seed: u64) -> Vec<Transaction> {
        let generated = generate(&GeneratorConfig {
            seed,
            transactions: 3_000,
            ..GeneratorConfig::default()
        })
        .unwrap();
        let validator = Validator::default();
        generated
            .records()
            .filter_map(|r| validator.validate(&r.data, i64::MAX / 2).ok())
            .collect()
    }

    #[test]
    fn the_oracle_raises_each_alert_once_even_for_re_sent_transactions() {
        let txs = day_transactions(5);
        let alerts = oracle_alerts(FraudConfig::default(), txs.clone()).unwrap();
        assert!(!alerts.is_empty(), "a day with fraud cases raises alerts");
        // Sending every transaction twice more changes nothing: the detector drops ids
        // it has seen.
        let tripled = txs.iter().flat_map(|t| [t.clone(), t.clone(), t.clone()]);
        assert_eq!(
            oracle_alerts(FraudConfig::default(), tripled).unwrap(),
            alerts
        );
    }
}
