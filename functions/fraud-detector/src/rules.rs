//! The rules: which fire for a transaction given its account's state *before* it.
//!
//! Pure functions of (config, state, transaction), so every rule is unit-tested without
//! the framework, and a re-fold reaches the same decision.
//!
//! ## Windows and out-of-order events
//! "The trailing 10 minutes" of a transaction at event time `t` is the set of the
//! account's transactions seen so far with event time in `(t − 10 min, t]`, plus itself.
//! For an in-order event that is the usual sliding window. An older event arriving after
//! newer ones is judged on *its own* trailing window: the newer events are in its future
//! and do not count, and its window holds what is still retained (the state keeps ten
//! minutes behind the newest event time, so an event more than ten minutes older than
//! the newest one sees only what is left of its window — late events are judged mostly
//! on the profile rules). Decisions are never revisited: an alert already raised on a
//! newer event is not withdrawn, and a newer event is not re-scored because an older
//! one arrived after it. The older event does enter the window, so later arrivals whose
//! windows cover it count it. Impossible travel compares with the newest event seen so
//! far, using the absolute time difference, so an out-of-order pair is still judged on
//! distance over elapsed time.

use monitoring::model::Transaction;
use serde::{Deserialize, Serialize};

use crate::config::{BURST_WINDOW_MS, FraudConfig};
use crate::state::{AccountState, fnv1a};

/// A rule that can fire; its `name` is what alerts list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// ≥ 5 small amounts within the window.
    CardTesting,
    /// R1: ≥ 3 transactions within the window whose sum exceeds 2,000.00.
    Velocity,
    /// > 500 km from the previous location at > 1,000 km/h.
    ImpossibleTravel,
    /// Amount ≥ 8 × the profile mean.
    AmountOutlier,
    /// Unseen device and amount ≥ 4.5 × the profile mean.
    NewDeviceHighAmount,
    /// More than `FRAUD_VELOCITY_LIMIT` transactions within a minute.
    Burst,
    /// Amount above `FRAUD_HIGH_AMOUNT_MINOR`.
    HighAmount,
}

impl Rule {
    /// Every rule, in the order alerts list them.
    pub const ALL: [Self; 7] = [
        Self::CardTesting,
        Self::Velocity,
        Self::ImpossibleTravel,
        Self::AmountOutlier,
        Self::NewDeviceHighAmount,
        Self::Burst,
        Self::HighAmount,
    ];

    /// The name listed in alerts.
    pub fn name(self) -> &'static str {
        match self {
            Self::CardTesting => "card_testing",
            Self::Velocity => "velocity",
            Self::ImpossibleTravel => "impossible_travel",
            Self::AmountOutlier => "amount_outlier",
            Self::NewDeviceHighAmount => "new_device_high_amount",
            Self::Burst => "burst",
            Self::HighAmount => "high_amount",
        }
    }
}

/// The rules that fire for `tx`, in [`Rule::ALL`] order. `state` must not yet contain it.
pub fn evaluate(config: &FraudConfig, state: &AccountState, tx: &Transaction) -> Vec<Rule> {
    let t = tx.event_time.millis();
    let amount = tx.amount.minor;
    let in_profile =
        state.profile.currency.is_empty() || state.profile.currency == tx.amount.currency.code();
    let mut fired = Vec::new();

    // Window rules: retained entries in (t − window, t], plus this transaction.
    let (mut count, mut small, mut sum) = (1_usize, 0_usize, 0_i64);
    let is_small = |a: i64, p: bool| p && a < config.small_amount_below_minor;
    small += usize::from(is_small(amount, in_profile));
    if in_profile {
        sum = sum.saturating_add(amount);
    }
    for e in state.in_window(t, config.window_ms) {
        count += 1;
        small += usize::from(is_small(e.amount_minor, e.in_profile));
        if e.in_profile {
            sum = sum.saturating_add(e.amount_minor);
        }
    }
    if small >= config.card_testing_min_count {
        fired.push(Rule::CardTesting);
    }
    if count >= config.velocity_min_count && sum > config.velocity_sum_above_minor {
        fired.push(Rule::Velocity);
    }

    if let Some(last) = state.last {
        let prev = monitoring::model::GeoPoint {
            lat_micro: last.lat_micro,
            lon_micro: last.lon_micro,
        };
        let km = prev.distance_km(tx.location);
        // Integer ms → hours; a zero gap makes any distance infinitely fast.
        let hours = (t - last.time_ms).unsigned_abs() as f64 / 3_600_000.0;
        let too_fast = hours == 0.0 || km / hours > config.travel_min_kmh;
        if km > config.travel_min_km && too_fast {
            fired.push(Rule::ImpossibleTravel);
        }
    }

    let profile = &state.profile.amounts;
    if in_profile && profile.count >= config.profile_min_history {
        let ratio = amount as f64 / profile.mean().max(f64::MIN_POSITIVE);
        if ratio >= config.outlier_min_ratio {
            fired.push(Rule::AmountOutlier);
        }
        let unseen = !state.knows_device(fnv1a(tx.device_id.as_str()));
        if unseen && ratio >= config.new_device_min_ratio {
            fired.push(Rule::NewDeviceHighAmount);
        }
    }

    let burst = 1 + state.in_window(t, BURST_WINDOW_MS).count();
    if burst > config.velocity_limit {
        fired.push(Rule::Burst);
    }
    if amount > config.high_amount_minor {
        fired.push(Rule::HighAmount);
    }
    fired
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
