//! The `daily-totals` operator: one type, instantiated once per [`Dimension`].
//!
//! Each instance keys events by its dimension (`merchant#<id>`, `product#<id>`,
//! `day#<YYYY-MM-DD>`) and keeps, per key, a daily tumbling [`WindowState`] and the
//! recently seen transaction ids. All instances share the operator name and state type,
//! and `on_timer` reads the dimension from the key's prefix, so whichever instance the
//! timer dispatcher holds can fire any daily-totals key.
//!
//! Late events (the day's end + allowed lateness ≤ watermark) go to the late side output
//! with partition = the event's day, from the merchant and product instances: both write
//! the same item (pk `daily-totals#<day>`, sk `<shard>#<sequence>#0`), so it exists once.
//! The day instance neither routes them nor dedupes (the bottom-k sample is idempotent:
//! a duplicate id changes nothing), which keeps its hot per-day key small.

use serde::{Deserialize, Serialize};
use shardwise::window::{Added, Assigner, WindowResult, WindowState, Windows};
use shardwise::{Context, Error, EventTime, KeyedState, Operator, RecordMeta, Timer};

use crate::aggregate::{DayAcc, DayAggregate, Dimension, DimensionSet};
use crate::dedupe::RecentIds;
use crate::output::{
    DISTINCT_SK_PREFIX, DailyOutput, DaySample, DimensionTotal, DistinctAccounts, OPERATOR_NAME,
    SAMPLE_SK, day_pk,
};
use crate::txn::{Txn, day_of};

/// Env var: allowed lateness in seconds (from the template's Globals).
pub const ENV_ALLOWED_LATENESS_SECONDS: &str = "ALLOWED_LATENESS_SECONDS";
/// Allowed lateness when the variable is unset (the template's default).
pub const DEFAULT_ALLOWED_LATENESS_SECONDS: i64 = 300;
/// Env var: the dimensions to compute, comma-separated (`merchant,product,day`, the
/// default when unset or empty).
pub const ENV_DIMENSIONS: &str = "DAILY_TOTALS_DIMENSIONS";

/// Settings of the daily totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyTotalsConfig {
    /// Events up to this long after their day's end still update it.
    pub allowed_lateness_ms: i64,
    /// HyperLogLog precision for distinct accounts (12 → ≈ 1.6 %).
    pub hll_precision: u8,
    /// Transactions sampled per day.
    pub sample_size: usize,
    /// The dimensions computed (one processor each).
    pub dimensions: DimensionSet,
}

impl Default for DailyTotalsConfig {
    fn default() -> Self {
        Self {
            allowed_lateness_ms: DEFAULT_ALLOWED_LATENESS_SECONDS * 1000,
            hll_precision: shardwise::sketch::hll::DEFAULT_PRECISION,
            sample_size: shardwise::sketch::reservoir::DEFAULT_SAMPLE_SIZE,
            dimensions: DimensionSet::default(),
        }
    }
}

impl DailyTotalsConfig {
    /// Reads [`ENV_ALLOWED_LATENESS_SECONDS`] and [`ENV_DIMENSIONS`] through `lookup` (defaults otherwise).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut config = Self::default();
        if let Some(text) = lookup(ENV_ALLOWED_LATENESS_SECONDS).filter(|t| !t.is_empty()) {
            let seconds: i64 = text.trim().parse().map_err(|_| {
                Error::Config(format!(
                    "{ENV_ALLOWED_LATENESS_SECONDS} must be a whole number of seconds, not {text:?}"
                ))
            })?;
            if seconds < 0 {
                return Err(Error::Config(format!(
                    "{ENV_ALLOWED_LATENESS_SECONDS} must not be negative"
                )));
            }
            config.allowed_lateness_ms = seconds.saturating_mul(1000);
        }
        if let Some(text) = lookup(ENV_DIMENSIONS).filter(|t| !t.trim().is_empty()) {
            config.dimensions = DimensionSet::parse(&text)
                .map_err(|why| Error::Config(format!("{ENV_DIMENSIONS}: {why}")))?;
        }
        Ok(config)
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// One key's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TotalsState {
    /// Daily windows (normally today's, plus yesterday's until its lateness passes).
    #[serde(rename = "w", default)]
    pub windows: WindowState<DayAcc>,
    /// Recently seen transaction ids (merchant and product keys).
    #[serde(rename = "d", default, skip_serializing_if = "RecentIds::is_empty")]
    pub seen: RecentIds,
}

impl KeyedState for TotalsState {}

/// The daily-totals operator for one dimension.
#[derive(Debug, Clone)]
pub struct DailyTotals {
    dimension: Dimension,
    config: DailyTotalsConfig,
}

impl DailyTotals {
    /// The operator keyed by `dimension`.
    pub fn new(dimension: Dimension, config: DailyTotalsConfig) -> Self {
        Self { dimension, config }
    }

    /// The instance to register with the timer dispatcher, configured through `lookup`
    /// (env var name → value) like the stream function: any instance fires any
    /// daily-totals key, so one registration serves all three processors.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(Self::new(
            Dimension::Merchant,
            DailyTotalsConfig::from_lookup(lookup)?,
        ))
    }

    /// The dimension it keys by.
    pub fn dimension(&self) -> Dimension {
        self.dimension
    }

    fn windows(&self, dimension: Dimension) -> Windows<DayAggregate> {
        let aggregate = DayAggregate {
            dimension,
            hll_precision: self.config.hll_precision,
            sample_size: self.config.sample_size,
        };
        Windows::new(Assigner::DAILY, aggregate)
            .with_allowed_lateness(self.config.allowed_lateness_ms)
    }
}

impl Operator for DailyTotals {
    type Event = Txn;
    type State = TotalsState;
    type Output = DailyOutput;

    fn name(&self) -> &str {
        OPERATOR_NAME
    }

    fn key(&self, event: &Txn, _: &RecordMeta) -> Result<String, Error> {
        Ok(match self.dimension {
            Dimension::Merchant => self.dimension.key(&event.merchant_id),
            Dimension::Product => self.dimension.key(&event.product_id),
            Dimension::Day => self.dimension.key(&event.day()),
        })
    }

    fn event_time(&self, event: &Txn) -> Option<EventTime> {
        Some(event.event_time())
    }

    fn on_event(
        &self,
        key: &str,
        event: Txn,
        ctx: &mut Context<'_, TotalsState, DailyOutput>,
    ) -> Result<(), Error> {
        let windows = self.windows(self.dimension);
        if self.dimension == Dimension::Day {
            if windows.is_late(event.event_time(), ctx.watermark()) {
                return Ok(());
            }
        } else {
            let arrival = ctx.record().map_or(ctx.now().0, |r| r.arrival.0);
            if !ctx.state().seen.first_time(&event.transaction_id, arrival) {
                return Ok(());
            }
        }
        let id = Dimension::parse_key(key).map_or(key, |(_, id)| id);
        let day = event.day();
        let added = windows.add(
            ctx,
            |s| &mut s.windows,
            event.event_time(),
            &event,
            &day,
            &event,
        )?;
        if let Added::Accepted(results) = added {
            results
                .iter()
                .for_each(|r| emit(ctx, self.dimension, id, r));
        }
        Ok(())
    }

    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, TotalsState, DailyOutput>,
    ) -> Result<(), Error> {
        let Some((dimension, id)) = Dimension::parse_key(key) else {
            return Ok(());
        };
        let results = self.windows(dimension).fire(ctx, |s| &mut s.windows, timer);
        results.iter().for_each(|r| emit(ctx, dimension, id, r));
        Ok(())
    }
}

/// Emits a day's result as the contract's items.
fn emit(
    ctx: &mut Context<'_, TotalsState, DailyOutput>,
    dimension: Dimension,
    id: &str,
    r: &WindowResult<DayAcc>,
) {
    let day = day_of(r.window.start);
    let pk = day_pk(&day);
    for (currency, total) in &r.result.totals {
        let sk = format!("{}#{id}#{currency}", dimension.as_str());
        let out = DimensionTotal {
            day: day.clone(),
            dimension: dimension.as_str().to_owned(),
            id: id.to_owned(),
            currency: currency.clone(),
            revenue_minor: total.revenue_minor,
            count: total.count,
            is_final: r.is_final,
        };
        ctx.emit_keyed(pk.clone(), sk, DailyOutput::Total(out));
    }
    if let Some(accounts) = &r.result.accounts {
        let out = DistinctAccounts {
            day: day.clone(),
            merchant: id.to_owned(),
            distinct_accounts: accounts.estimate(),
            is_final: r.is_final,
        };
        let sk = format!("{DISTINCT_SK_PREFIX}#{id}");
        ctx.emit_keyed(pk.clone(), sk, DailyOutput::Distinct(out));
    }
    if let Some(sample) = &r.result.sample {
        let out = DaySample {
            day,
            transactions: sample.ids().to_vec(),
            is_final: r.is_final,
        };
        ctx.emit_keyed(pk, SAMPLE_SK, DailyOutput::Sample(out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_lateness_comes_from_the_environment_in_seconds() {
        let config = DailyTotalsConfig::from_lookup(|name| {
            (name == ENV_ALLOWED_LATENESS_SECONDS).then(|| "90".to_owned())
        })
        .unwrap();
        assert_eq!(config.allowed_lateness_ms, 90_000);
        let default = DailyTotalsConfig::from_lookup(|_| None).unwrap();
        assert_eq!(default.allowed_lateness_ms, 300_000);
        assert!(DailyTotalsConfig::from_lookup(|_| Some("-1".into())).is_err());
        assert!(DailyTotalsConfig::from_lookup(|_| Some("soon".into())).is_err());
    }

    #[test]
    fn dimensions_default_to_all_and_can_be_narrowed_by_name() {
        let all: Vec<Dimension> = DailyTotalsConfig::default().dimensions.iter().collect();
        assert_eq!(all, Dimension::ALL);
        let lookup = |value: &'static str| {
            move |name: &str| (name == ENV_DIMENSIONS).then(|| value.to_owned())
        };
        let merchant = DailyTotalsConfig::from_lookup(lookup(" merchant ")).unwrap();
        assert_eq!(
            merchant.dimensions.iter().collect::<Vec<_>>(),
            [Dimension::Merchant]
        );
        let two = DailyTotalsConfig::from_lookup(lookup("day,merchant")).unwrap();
        assert_eq!(
            two.dimensions.iter().collect::<Vec<_>>(),
            [Dimension::Merchant, Dimension::Day]
        );
        assert!(DailyTotalsConfig::from_lookup(lookup("merchant,shop")).is_err());
        assert!(DailyTotalsConfig::from_lookup(lookup(",")).is_err());
    }

    #[test]
    fn keys_name_their_dimension_so_any_instance_fires_any_key() {
        assert_eq!(Dimension::Product.key("p-1"), "product#p-1");
        assert_eq!(
            Dimension::parse_key("merchant#m-00001"),
            Some((Dimension::Merchant, "m-00001"))
        );
        assert_eq!(Dimension::parse_key("unknown#x"), None);
        let op = DailyTotals::from_lookup(|_| None).unwrap();
        assert_eq!(op.name(), OPERATOR_NAME);
    }
}
