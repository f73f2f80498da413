//! The `fraud-detector` operator: keyed by account, one fold per transaction.
//!
//! Per transaction: drop it if its id was seen recently (a duplicate must neither alert
//! twice nor count twice), evaluate the rules against the state *before* it, score,
//! emit an alert at or above the threshold, then fold it into the state. Alerted
//! transactions still enter the windows, the seen ids and the last position (a burst
//! keeps counting), but not the amount profile or the known devices: the baseline should
//! describe the cardholder, not the fraudster.

use monitoring::model::Transaction;
use shardwise::{Context, Error, Operator, RecordMeta};

use crate::alert::Alert;
use crate::config::FraudConfig;
use crate::rules::{Rule, evaluate};
use crate::state::{AccountState, LastSeen, WindowEntry, fnv1a};

/// The operator's name: prefixes its state items, outputs and dead letters.
pub const OPERATOR_NAME: &str = "fraud-detector";
/// Sort key of alert items in the alerts table.
pub const ALERT_SORT_KEY: &str = "alert";

/// Per-account fraud rules with a weighted score.
#[derive(Debug, Clone, Default)]
pub struct FraudDetector {
    config: FraudConfig,
}

impl FraudDetector {
    /// A detector with `config`.
    pub fn new(config: FraudConfig) -> Self {
        Self { config }
    }

    /// Its configuration.
    pub fn config(&self) -> &FraudConfig {
        &self.config
    }

    /// Applies one transaction to its account's state; returns the alert, if any.
    /// (The pure core of `on_event`, for tests and benchmarks without the framework.)
    pub fn apply(&self, state: &mut AccountState, tx: &Transaction) -> Option<Alert> {
        let id = fnv1a(tx.transaction_id.as_str());
        if state.seen(id) {
            return None;
        }
        let fired: Vec<Rule> = evaluate(&self.config, state, tx);
        let score = self.config.score(&fired);
        let alert = (!fired.is_empty() && score >= self.config.score_threshold)
            .then(|| Alert::new(tx, &fired, score));

        let t = tx.event_time.millis();
        let currency = tx.amount.currency.code();
        if state.profile.currency.is_empty() {
            state.profile.currency = currency.to_owned();
        }
        let in_profile = state.profile.currency == currency;
        state.remember(id);
        state.push_window(
            WindowEntry {
                time_ms: t,
                amount_minor: tx.amount.minor,
                in_profile,
            },
            self.config.window_ms,
        );
        state.observe_position(LastSeen {
            time_ms: t,
            lat_micro: tx.location.lat_micro,
            lon_micro: tx.location.lon_micro,
        });
        if alert.is_none() {
            if in_profile {
                // i64 → f64 is exact for any amount below 2^53 minor units.
                state.profile.amounts.add(tx.amount.minor as f64);
            }
            state.use_device(fnv1a(tx.device_id.as_str()), t);
        }
        alert
    }
}

impl Operator for FraudDetector {
    type Event = Transaction;
    type State = AccountState;
    type Output = Alert;

    fn name(&self) -> &str {
        OPERATOR_NAME
    }

    /// The account id: the producer's partition key too, so per-key order holds.
    fn key(&self, event: &Transaction, _record: &RecordMeta) -> Result<String, Error> {
        Ok(event.account_id.as_str().to_owned())
    }

    fn on_event(
        &self,
        _key: &str,
        event: Transaction,
        ctx: &mut Context<'_, AccountState, Alert>,
    ) -> Result<(), Error> {
        if let Some(alert) = self.apply(ctx.state(), &event) {
            // pk = the alert id: a re-delivered or re-folded transaction overwrites its
            // alert in the alerts table instead of adding one.
            ctx.emit_keyed(alert.alert_id.clone(), ALERT_SORT_KEY, alert);
        }
        Ok(())
    }
}
