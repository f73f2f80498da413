//! The rules: which fire for a transaction given its account's state *before* it.
//!
//! Pure functions of (config, state, transaction), so every rule is unit-tested without
//! the framework, and a re-fold reaches the same decision.
//!
//! ## Windows and out-of-order events
//! A window rule asks whether some 10-minute span of event time holds a suspicious set
//! of the account's transactions. For an in-order transaction at `t` that is the usual
//! trailing window `(t − 10 min, t]` of everything seen so far plus itself. An older
//! transaction arriving after newer ones belongs to several such spans: its own trailing
//! window, and the trailing windows of the newer events less than 10 minutes after it.
//! It is judged on all of them, so the transaction that *completes* a suspicious set
//! raises the alert whatever order the set arrived in (judging it on its own window
//! only would miss a velocity trio whose newest member arrived first). Decisions are
//! never revisited: an alert already raised is not withdrawn, and no second alert is
//! raised for a newer event. The state keeps ten minutes behind the newest event time,
//! so an event more than ten minutes older than the newest sees only what is left of
//! its windows: hours-late events are judged essentially on the profile rules.
//! Impossible travel compares with the newest event seen so far using the absolute time
//! difference, so an out-of-order pair is still judged on distance over elapsed time.

use monitoring::model::Transaction;
use serde::{Deserialize, Serialize};

use crate::config::{BURST_WINDOW_MS, FraudConfig};
use crate::state::{AccountState, WindowEntry, fnv1a};

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

    // Window rules, over every trailing window that contains this transaction.
    let this = WindowEntry {
        time_ms: t,
        amount_minor: amount,
        in_profile,
    };
    let windows = window_stats(state, this, config.window_ms, config);
    if windows
        .iter()
        .any(|w| w.small >= config.card_testing_min_count)
    {
        fired.push(Rule::CardTesting);
    }
    if windows
        .iter()
        .any(|w| w.count >= config.velocity_min_count && w.sum > config.velocity_sum_above_minor)
    {
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

    let bursts = window_stats(state, this, BURST_WINDOW_MS, config);
    if bursts.iter().any(|w| w.count > config.velocity_limit) {
        fired.push(Rule::Burst);
    }
    if amount > config.high_amount_minor {
        fired.push(Rule::HighAmount);
    }
    fired
}

/// Counts of one trailing window.
#[derive(Debug, Clone, Copy, Default)]
struct WindowStats {
    count: usize,
    small: usize,
    sum: i64,
}

/// Stats of every window `(end − span, end]` that contains `this`, with `this` added:
/// the one ending at `this` and, for an out-of-order event, those ending at each later
/// retained event less than `span` after it. For an in-order event that is one window.
fn window_stats(
    state: &AccountState,
    this: WindowEntry,
    span: i64,
    config: &FraudConfig,
) -> Vec<WindowStats> {
    let add = |w: &mut WindowStats, e: &WindowEntry| {
        w.count += 1;
        if e.in_profile {
            w.small += usize::from(e.amount_minor < config.small_amount_below_minor);
            w.sum = w.sum.saturating_add(e.amount_minor);
        }
    };
    let later_ends = state
        .window
        .iter()
        .map(|e| e.time_ms)
        .filter(|&u| u > this.time_ms && u < this.time_ms.saturating_add(span));
    std::iter::once(this.time_ms)
        .chain(later_ends)
        .map(|end| {
            let mut w = WindowStats::default();
            add(&mut w, &this);
            state.in_window(end, span).for_each(|e| add(&mut w, e));
            w
        })
        .collect()
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
