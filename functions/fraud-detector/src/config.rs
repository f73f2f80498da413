//! `FraudConfig`: the detector's thresholds and rule weights.
//!
//! Three knobs come from the environment the SAM template sets (`FRAUD_SCORE_THRESHOLD`,
//! `FRAUD_VELOCITY_LIMIT`, `FRAUD_HIGH_AMOUNT_MINOR`, read through an injectable lookup
//! like `shardwise::ProcessingConfig::from_lookup`); the per-pattern thresholds default
//! to `monitoring::rules`, the values for which the generator's guarantees separate every
//! injected pattern from normal traffic.
//!
//! ## How the template's knobs map onto the rules
//! - `FRAUD_SCORE_THRESHOLD` (0–1, default 0.7): an alert is raised when the weighted
//!   score reaches it.
//! - `FRAUD_VELOCITY_LIMIT` (default 5): "transactions per account per minute above which
//!   the velocity rule fires" — the `burst` rule (more than this many transactions in the
//!   trailing 60 s of event time). The 10-minute count-and-sum rule R1 (`velocity`) keeps
//!   its `monitoring::rules` thresholds.
//! - `FRAUD_HIGH_AMOUNT_MINOR` (default 200,000 = 2,000.00 EUR): the `high_amount` signal,
//!   deliberately weighted below any threshold on its own: big but in-profile purchases
//!   are normal; it only tips an otherwise borderline score.

use monitoring::rules;
use shardwise::{Error, ProcessingConfig};

use crate::rules::Rule;

/// Env var: the score at or above which an alert is raised (0–1).
pub const ENV_SCORE_THRESHOLD: &str = "FRAUD_SCORE_THRESHOLD";
/// Env var: transactions per account per minute above which `burst` fires.
pub const ENV_VELOCITY_LIMIT: &str = "FRAUD_VELOCITY_LIMIT";
/// Env var: amount (minor units) above which `high_amount` fires.
pub const ENV_HIGH_AMOUNT_MINOR: &str = "FRAUD_HIGH_AMOUNT_MINOR";

/// Env var: the alerts table, where the detector's outputs go (required).
pub const ENV_ALERTS_TABLE: &str = "ALERTS_TABLE";
/// Env var: the alerts stream every alert is also published to (optional).
pub const ENV_ALERTS_STREAM: &str = "ALERTS_STREAM";

/// The framework configuration of the function: `ProcessingConfig::from_lookup` with
/// the outputs table set to `ALERTS_TABLE` and the output stream to `ALERTS_STREAM`
/// (alerts are written to the alerts table and published for downstream blocking).
pub fn processing_config(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ProcessingConfig, Error> {
    let mut config = ProcessingConfig::from_lookup(&lookup)?;
    let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    config.output_table = Some(
        set(ENV_ALERTS_TABLE)
            .ok_or_else(|| Error::Config(format!("{ENV_ALERTS_TABLE} is not set")))?,
    );
    config.output_stream = set(ENV_ALERTS_STREAM);
    Ok(config)
}

/// Default score threshold (the template's default).
pub const DEFAULT_SCORE_THRESHOLD: f64 = 0.7;
/// Default burst limit (the template's default).
pub const DEFAULT_VELOCITY_LIMIT: usize = 5;
/// Default high-amount limit (the template's default, 2,000.00 EUR).
pub const DEFAULT_HIGH_AMOUNT_MINOR: i64 = 200_000;
/// The `burst` rule's window: one minute of event time.
pub const BURST_WINDOW_MS: i64 = 60_000;

/// Thresholds and weights of every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FraudConfig {
    /// Alert when the score is at least this.
    pub score_threshold: f64,
    /// `burst`: more than this many transactions within [`BURST_WINDOW_MS`].
    pub velocity_limit: usize,
    /// `high_amount`: amount above this (minor units, any currency).
    pub high_amount_minor: i64,
    /// Trailing event-time window of the count rules.
    pub window_ms: i64,
    /// `card_testing`: home-currency amounts below this are "small" …
    pub small_amount_below_minor: i64,
    /// … and this many of them within the window fire.
    pub card_testing_min_count: usize,
    /// `velocity` (R1): at least this many transactions within the window …
    pub velocity_min_count: usize,
    /// … whose home-currency sum exceeds this.
    pub velocity_sum_above_minor: i64,
    /// `impossible_travel`: further than this from the previous location (km) …
    pub travel_min_km: f64,
    /// … at more than this speed (km/h).
    pub travel_min_kmh: f64,
    /// Profile rules need this many earlier in-profile amounts.
    pub profile_min_history: u64,
    /// `amount_outlier`: amount ≥ this × the profile mean.
    pub outlier_min_ratio: f64,
    /// `new_device_high_amount`: unseen device and amount ≥ this × the profile mean.
    pub new_device_min_ratio: f64,
}

impl Default for FraudConfig {
    fn default() -> Self {
        Self {
            score_threshold: DEFAULT_SCORE_THRESHOLD,
            velocity_limit: DEFAULT_VELOCITY_LIMIT,
            high_amount_minor: DEFAULT_HIGH_AMOUNT_MINOR,
            window_ms: rules::WINDOW_MS,
            small_amount_below_minor: rules::SMALL_AMOUNT_BELOW_MINOR,
            card_testing_min_count: rules::CARD_TESTING_MIN_COUNT,
            velocity_min_count: rules::VELOCITY_MIN_COUNT,
            velocity_sum_above_minor: rules::VELOCITY_SUM_ABOVE_MINOR,
            travel_min_km: rules::TRAVEL_MIN_KM,
            travel_min_kmh: rules::TRAVEL_MIN_KMH,
            profile_min_history: rules::PROFILE_MIN_HISTORY as u64,
            outlier_min_ratio: rules::OUTLIER_MIN_RATIO,
            new_device_min_ratio: rules::NEW_DEVICE_MIN_RATIO,
        }
    }
}

impl FraudConfig {
    /// Reads the three template knobs from the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the three template knobs through `lookup` (env var name → value); absent or
    /// empty values keep their defaults, invalid ones are a configuration error.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut config = Self::default();
        if let Some(t) = parse::<f64>(&lookup, ENV_SCORE_THRESHOLD)? {
            if !(0.0..=1.0).contains(&t) {
                return Err(Error::Config(format!(
                    "{ENV_SCORE_THRESHOLD} must be between 0 and 1, not {t}"
                )));
            }
            config.score_threshold = t;
        }
        if let Some(n) = parse::<usize>(&lookup, ENV_VELOCITY_LIMIT)? {
            if n == 0 {
                return Err(Error::Config(format!("{ENV_VELOCITY_LIMIT} must be ≥ 1")));
            }
            config.velocity_limit = n;
        }
        if let Some(n) = parse::<i64>(&lookup, ENV_HIGH_AMOUNT_MINOR)? {
            if n < 1 {
                return Err(Error::Config(format!(
                    "{ENV_HIGH_AMOUNT_MINOR} must be ≥ 1"
                )));
            }
            config.high_amount_minor = n;
        }
        Ok(config)
    }

    /// A rule's weight in the score. Each pattern rule alone clears the default threshold;
    /// the two template signals do not (`burst` does: more than five payments a minute is
    /// a pattern of its own, and normal accounts pay at most every five minutes).
    pub fn weight(&self, rule: Rule) -> f64 {
        match rule {
            Rule::CardTesting | Rule::ImpossibleTravel => 0.9,
            Rule::Velocity | Rule::AmountOutlier => 0.85,
            Rule::NewDeviceHighAmount => 0.8,
            Rule::Burst => 0.75,
            Rule::HighAmount => 0.3,
        }
    }

    /// The score of a set of fired rules: `1 − Π(1 − wᵢ)` (independent evidence; stays in
    /// 0–1, grows with every extra rule, equals the weight for one rule), rounded to four
    /// decimals so outputs print stably.
    pub fn score(&self, fired: &[Rule]) -> f64 {
        let miss: f64 = fired.iter().map(|r| 1.0 - self.weight(*r)).product();
        ((1.0 - miss) * 10_000.0).round() / 10_000.0
    }
}

fn parse<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<T>, Error> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .map(|text| {
            text.trim()
                .parse()
                .map_err(|_| Error::Config(format!("{name} must be a number, not {text:?}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn config_defaults_match_the_template_and_the_reference_rules() {
        let c = FraudConfig::from_lookup(|_| None).unwrap();
        assert_eq!(c, FraudConfig::default());
        assert_eq!(c.score_threshold, 0.7);
        assert_eq!(c.velocity_limit, 5);
        assert_eq!(c.high_amount_minor, 200_000);
        assert_eq!(c.window_ms, rules::WINDOW_MS);
    }

    #[test]
    fn config_reads_the_three_knobs_and_refuses_nonsense() {
        let c = FraudConfig::from_lookup(lookup(&[
            (ENV_SCORE_THRESHOLD, "0.5"),
            (ENV_VELOCITY_LIMIT, " 8 "),
            (ENV_HIGH_AMOUNT_MINOR, "5000"),
        ]))
        .unwrap();
        assert_eq!(
            (c.score_threshold, c.velocity_limit, c.high_amount_minor),
            (0.5, 8, 5000)
        );
        for bad in [
            &[(ENV_SCORE_THRESHOLD, "1.5")][..],
            &[(ENV_SCORE_THRESHOLD, "high")],
            &[(ENV_VELOCITY_LIMIT, "0")],
            &[(ENV_HIGH_AMOUNT_MINOR, "-1")],
        ] {
            let pairs: &'static [(&str, &str)] = bad;
            assert!(matches!(
                FraudConfig::from_lookup(lookup(pairs)),
                Err(Error::Config(_))
            ));
        }
    }

    #[test]
    fn alerts_go_to_the_alerts_table_and_stream_not_the_outputs_table() {
        let env: &'static [(&str, &str)] = &[
            ("STATE_TABLE", "state"),
            ("DEAD_LETTER_TABLE", "dlq"),
            ("OUTPUTS_TABLE", "outputs"),
            (ENV_ALERTS_TABLE, "alerts"),
            (ENV_ALERTS_STREAM, "alerts-stream"),
        ];
        let c = processing_config(lookup(env)).unwrap();
        assert_eq!(c.state_table, "state");
        assert_eq!(c.output_table.as_deref(), Some("alerts"));
        assert_eq!(c.output_stream.as_deref(), Some("alerts-stream"));
        let c = processing_config(lookup(&env[..4])).unwrap();
        assert_eq!(c.output_stream, None);
        assert!(matches!(
            processing_config(lookup(&env[..3])),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn every_pattern_rule_alone_reaches_the_default_threshold_and_high_amount_does_not() {
        let c = FraudConfig::default();
        for rule in Rule::ALL {
            let alone = c.score(&[rule]);
            assert_eq!(
                alone >= c.score_threshold,
                rule != Rule::HighAmount,
                "{rule:?}"
            );
        }
        let both = c.score(&[Rule::AmountOutlier, Rule::HighAmount]);
        assert!(both > c.score(&[Rule::AmountOutlier]) && both <= 1.0);
        assert_eq!(c.score(&[]), 0.0);
    }
}
