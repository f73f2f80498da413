//! daily-totals' settings, read from the environment the template sets.
//!
//! - `ALLOWED_LATENESS_SECONDS` — events up to this long after their day's end still
//!   update it (the template's Globals; 300 s when unset).
//! - `DAILY_TOTALS_DIMENSIONS` — which processors run (`merchant,product,day`, the
//!   default).
//! - `DAILY_TOTALS_DEDUPE` — how a transaction re-sent by the producer is counted once:
//!   `account` (the default with `SHARDWISE_STATE_BACKEND=shard_log`: the first-seen gate
//!   remembers ids per account on the shard log, [`crate::gate`]), `recent_ids` (the
//!   default otherwise: per merchant and product key, [`crate::dedupe`]), or `off` (every
//!   record counts).
//! - `DAILY_TOTALS_DISTINCT_ACCOUNTS` — `hll` (the default: a HyperLogLog of accounts
//!   per merchant and day, and its `distinct#…` output) or `off`.
//! - `DAILY_TOTALS_MERCHANT_BUCKETS` — 0 (the default: one state key per merchant) or N:
//!   merchants hashed into N state keys ([`DailyTotalsConfig::merchant_buckets`]).
//! - `DAILY_TOTALS_PRODUCT_BUCKETS` — the same for products (the template: 16 on the
//!   shard-log backend). Buckets need dedupe `account` or `off`.
//!
//! ## Why the last two can be switched off
//! Both live in the merchant key's state item, which the framework rewrites whole with
//! every commit, and DynamoDB bills a write by the item's size (1 WCU per KB): the
//! recent-ids list reaches ~200 KB on a busy merchant and the sketch ~4 KB, while the
//! totals themselves are a few dozen bytes. A deployment that needs neither — the Flink
//! benchmark's R2 counts every record, as Flink SQL's `SUM`/`COUNT` do, and reports no
//! distinct accounts — pays for them on every write. The application keeps both (the
//! defaults): its producer does re-send transactions, and the query API serves the
//! distinct counts.
//!
//! Merchant buckets attack the same per-item cost from the other side: a batch touches
//! most merchants (hundreds to thousands), and each merchant item costs at least 1 WCU
//! however little changed in it; N bucket items hold the same totals in a few KB each.
//! The output rows are the same (one per merchant). Measured on the Flink benchmark's R2
//! (release, 2 shards, 2M events): 16 buckets cut write units per event from 0.31 to
//! 0.04, and the drain got 2.6x faster (fewer, larger commits). It pays while a batch
//! touches more than ~5 % of the merchants (a bucket write bills all of its merchants'
//! ~45-byte totals, per KB); with few merchants per batch among very many, one key per
//! merchant is cheaper. A bucket must also stay under the state budget (350 KB: ~7,000
//! merchant-currency totals, or ~80 busy merchants with their distinct-account sketches,
//! up to ~4 KB each). With sketches, buckets still pay in requests: on the pipeline
//! benchmark (300,000 events, 750 merchants) 32 buckets cut daily-totals' UpdateItem from
//! 0.11 to 0.008 per event and the pipeline's CPU per million records from ~128 to ~104.
//!
//! Switching dedupe off on a running deployment drops a key's stored list on its next
//! event (so the item shrinks); switching distinct accounts off stops adding to the
//! sketch, so a day already holding one keeps it until that day's window is gone.

use shardwise::Error;

use crate::aggregate::DimensionSet;

/// Env var: allowed lateness in seconds (from the template's Globals).
pub const ENV_ALLOWED_LATENESS_SECONDS: &str = "ALLOWED_LATENESS_SECONDS";
/// Allowed lateness when the variable is unset (the template's default).
pub const DEFAULT_ALLOWED_LATENESS_SECONDS: i64 = 300;
/// Env var: the dimensions to compute, comma-separated (`merchant,product,day`, the
/// default when unset or empty).
pub const ENV_DIMENSIONS: &str = "DAILY_TOTALS_DIMENSIONS";
/// Env var: how re-sent transaction ids are treated ([`Dedupe`]).
pub const ENV_DEDUPE: &str = "DAILY_TOTALS_DEDUPE";
/// Env var: whether merchants count distinct accounts ([`DistinctAccounts`]).
pub const ENV_DISTINCT_ACCOUNTS: &str = "DAILY_TOTALS_DISTINCT_ACCOUNTS";
/// Env var: merchant keys are hashed into this many buckets, one state item each
/// (unset or 0: one key per merchant, the default). See [`DailyTotalsConfig::merchant_buckets`].
pub const ENV_MERCHANT_BUCKETS: &str = "DAILY_TOTALS_MERCHANT_BUCKETS";
/// Env var: product keys are hashed into this many buckets (as merchant buckets).
pub const ENV_PRODUCT_BUCKETS: &str = "DAILY_TOTALS_PRODUCT_BUCKETS";
/// Most buckets of a dimension.
pub const MAX_BUCKETS: u32 = 4096;
/// The value that switches an optional feature off.
const OFF: &str = "off";

/// How daily-totals treats a transaction the producer re-sent (same id, new record).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dedupe {
    /// Count a re-sent id once, remembering ids per merchant and product key
    /// ([`crate::dedupe::RecentIds`] in the key's state). The default on the DynamoDB
    /// backend.
    #[default]
    RecentIds,
    /// Count a re-sent id once, remembering ids per account in the first-seen gate on the
    /// shard log ([`crate::gate`]), before any key sees the record. The default when
    /// `SHARDWISE_STATE_BACKEND=shard_log`; needs that backend's bucket.
    Account,
    /// Count every record: nothing is remembered.
    Off,
}

impl Dedupe {
    /// The env value (`recent_ids`, `account`, `off`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecentIds => "recent_ids",
            Self::Account => "account",
            Self::Off => OFF,
        }
    }

    /// Parses an env value (surrounding spaces ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        [Self::RecentIds, Self::Account, Self::Off]
            .into_iter()
            .find(|d| d.as_str() == text.trim())
            .ok_or_else(|| format!("{text:?} is none of \"recent_ids\", \"account\", \"off\""))
    }
}

/// Whether merchant keys estimate their distinct accounts per day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AccountSketch {
    /// A HyperLogLog per merchant and day, written as the `distinct#<merchant>` output.
    #[default]
    Hll,
    /// No sketch and no `distinct#…` output.
    Off,
}

impl AccountSketch {
    /// The env value (`hll`, `off`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hll => "hll",
            Self::Off => OFF,
        }
    }

    /// Parses an env value (surrounding spaces ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        [Self::Hll, Self::Off]
            .into_iter()
            .find(|d| d.as_str() == text.trim())
            .ok_or_else(|| format!("{text:?} is neither \"hll\" nor \"off\""))
    }
}

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
    /// Re-sent transaction ids on merchant and product keys.
    pub dedupe: Dedupe,
    /// Distinct accounts per merchant.
    pub account_sketch: AccountSketch,
    /// 0: one state key per merchant. N > 0: merchant keys are `merchant#bucket~<k>`
    /// (k = a hash of the merchant id mod N), each holding the totals of all its
    /// merchants. DynamoDB bills a write per KB of the whole item, at least 1 WCU: a
    /// merchant's totals are ~50 bytes, so with more merchants than records per batch
    /// per merchant, one item per merchant pays ~1 WCU for every merchant a batch touches,
    /// a bucket ~1 WCU per KB of many merchants' totals. A bucket keeps one sketch of
    /// distinct accounts per merchant (up to ~4 KB each, at the default precision): size
    /// N so that a bucket's merchants fit the 350 KB state budget, ~80 busy merchants.
    pub merchant_buckets: u32,
    /// 0: one state key per product. N > 0: product keys are `product#bucket~<k>`, as
    /// merchant buckets. Products outnumber merchants (in the generator ~10 to 1), so a
    /// batch's product keys were ~70 % of daily-totals' writes (0.27 UpdateItem per event
    /// in the pipeline benchmark).
    pub product_buckets: u32,
}

impl Default for DailyTotalsConfig {
    fn default() -> Self {
        Self {
            allowed_lateness_ms: DEFAULT_ALLOWED_LATENESS_SECONDS * 1000,
            hll_precision: shardwise::sketch::hll::DEFAULT_PRECISION,
            sample_size: shardwise::sketch::reservoir::DEFAULT_SAMPLE_SIZE,
            dimensions: DimensionSet::default(),
            dedupe: Dedupe::default(),
            account_sketch: AccountSketch::default(),
            merchant_buckets: 0,
            product_buckets: 0,
        }
    }
}

impl DailyTotalsConfig {
    /// Reads the variables of the module docs through `lookup` (defaults for unset or
    /// empty ones); a value it cannot use is an [`Error::Config`] naming the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut config = Self::default();
        let value = |name: &str| lookup(name).filter(|t| !t.trim().is_empty());
        if let Some(text) = value(ENV_ALLOWED_LATENESS_SECONDS) {
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
        if let Some(text) = value(ENV_DIMENSIONS) {
            config.dimensions = DimensionSet::parse(&text)
                .map_err(|why| Error::Config(format!("{ENV_DIMENSIONS}: {why}")))?;
        }
        // The shard log hosts the first-seen gate: it is the default there.
        let backend = value(shardwise::config::ENV_STATE_BACKEND);
        if backend.as_deref().map(str::trim) == Some(shardwise::config::STATE_BACKEND_SHARD_LOG) {
            config.dedupe = Dedupe::Account;
        }
        if let Some(text) = value(ENV_DEDUPE) {
            config.dedupe = Dedupe::parse(&text)
                .map_err(|why| Error::Config(format!("{ENV_DEDUPE}: {why}")))?;
        }
        if let Some(text) = value(ENV_DISTINCT_ACCOUNTS) {
            config.account_sketch = AccountSketch::parse(&text)
                .map_err(|why| Error::Config(format!("{ENV_DISTINCT_ACCOUNTS}: {why}")))?;
        }
        let buckets = |name: &str| -> Result<u32, Error> {
            value(name).map_or(Ok(0), |text| {
                text.trim()
                    .parse()
                    .ok()
                    .filter(|n| *n <= MAX_BUCKETS)
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "{name} must be a whole number 0..={MAX_BUCKETS}, not {text:?}"
                        ))
                    })
            })
        };
        config.merchant_buckets = buckets(ENV_MERCHANT_BUCKETS)?;
        config.product_buckets = buckets(ENV_PRODUCT_BUCKETS)?;
        if (config.merchant_buckets > 0 || config.product_buckets > 0)
            && config.dedupe == Dedupe::RecentIds
        {
            return Err(Error::Config(format!(
                "buckets need {ENV_DEDUPE}=account (the first-seen gate) or off: a bucket key's recent-ids list would overflow its cap within seconds and miss re-sends"
            )));
        }
        Ok(config)
    }

    /// The bucket count of `dimension`'s keys (0: one key per id).
    pub fn buckets(&self, dimension: crate::aggregate::Dimension) -> u32 {
        match dimension {
            crate::aggregate::Dimension::Merchant => self.merchant_buckets,
            crate::aggregate::Dimension::Product => self.product_buckets,
            crate::aggregate::Dimension::Day => 0,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Dimension;

    /// A lookup that knows one variable.
    fn only(var: &'static str, value: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name: &str| (name == var).then(|| value.to_owned())
    }

    #[test]
    fn allowed_lateness_comes_from_the_environment_in_seconds() {
        let config =
            DailyTotalsConfig::from_lookup(only(ENV_ALLOWED_LATENESS_SECONDS, "90")).unwrap();
        assert_eq!(config.allowed_lateness_ms, 90_000);
        let default = DailyTotalsConfig::from_lookup(|_| None).unwrap();
        assert_eq!(default.allowed_lateness_ms, 300_000);
        assert!(DailyTotalsConfig::from_lookup(only(ENV_ALLOWED_LATENESS_SECONDS, "-1")).is_err());
        assert!(
            DailyTotalsConfig::from_lookup(only(ENV_ALLOWED_LATENESS_SECONDS, "soon")).is_err()
        );
    }

    #[test]
    fn dimensions_default_to_all_and_can_be_narrowed_by_name() {
        let all: Vec<Dimension> = DailyTotalsConfig::default().dimensions.iter().collect();
        assert_eq!(all, Dimension::ALL);
        let merchant = DailyTotalsConfig::from_lookup(only(ENV_DIMENSIONS, " merchant ")).unwrap();
        assert_eq!(
            merchant.dimensions.iter().collect::<Vec<_>>(),
            [Dimension::Merchant]
        );
        let two = DailyTotalsConfig::from_lookup(only(ENV_DIMENSIONS, "day,merchant")).unwrap();
        assert_eq!(
            two.dimensions.iter().collect::<Vec<_>>(),
            [Dimension::Merchant, Dimension::Day]
        );
        assert!(DailyTotalsConfig::from_lookup(only(ENV_DIMENSIONS, "merchant,shop")).is_err());
        assert!(DailyTotalsConfig::from_lookup(only(ENV_DIMENSIONS, ",")).is_err());
    }

    #[test]
    fn dedupe_defaults_to_recent_ids_and_can_be_switched_off() {
        assert_eq!(DailyTotalsConfig::default().dedupe, Dedupe::RecentIds);
        for (text, expected) in [
            ("recent_ids", Dedupe::RecentIds),
            (" off ", Dedupe::Off),
            ("account", Dedupe::Account),
            ("", Dedupe::RecentIds),
        ] {
            let config = DailyTotalsConfig::from_lookup(only(ENV_DEDUPE, text)).unwrap();
            assert_eq!(config.dedupe, expected, "{text:?}");
        }
    }

    #[test]
    fn on_the_shard_log_dedupe_defaults_to_the_first_seen_gate() {
        let backend = shardwise::config::ENV_STATE_BACKEND;
        let gate = DailyTotalsConfig::from_lookup(only(backend, "shard_log")).unwrap();
        assert_eq!(gate.dedupe, Dedupe::Account);
        let dynamo = DailyTotalsConfig::from_lookup(only(backend, "dynamodb")).unwrap();
        assert_eq!(dynamo.dedupe, Dedupe::RecentIds);
        let chosen = DailyTotalsConfig::from_lookup(vars(&[
            (shardwise::config::ENV_STATE_BACKEND, "shard_log"),
            (ENV_DEDUPE, "off"),
        ]))
        .unwrap();
        assert_eq!(chosen.dedupe, Dedupe::Off, "an explicit value wins");
    }

    #[test]
    fn an_unknown_dedupe_value_is_a_config_error_naming_the_variable() {
        for text in ["OFF", "none", "recent-ids"] {
            match DailyTotalsConfig::from_lookup(only(ENV_DEDUPE, text)) {
                Err(Error::Config(why)) => {
                    assert!(why.contains(ENV_DEDUPE), "{why}");
                    assert!(why.contains(text), "{why}");
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn distinct_accounts_default_to_hll_and_can_be_switched_off() {
        assert_eq!(
            DailyTotalsConfig::default().account_sketch,
            AccountSketch::Hll
        );
        let off = DailyTotalsConfig::from_lookup(only(ENV_DISTINCT_ACCOUNTS, "off")).unwrap();
        assert_eq!(off.account_sketch, AccountSketch::Off);
        let hll = DailyTotalsConfig::from_lookup(only(ENV_DISTINCT_ACCOUNTS, "hll")).unwrap();
        assert_eq!(hll.account_sketch, AccountSketch::Hll);
        match DailyTotalsConfig::from_lookup(only(ENV_DISTINCT_ACCOUNTS, "yes")) {
            Err(Error::Config(why)) => assert!(why.contains(ENV_DISTINCT_ACCOUNTS), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    /// A lookup of `vars`.
    fn vars(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn merchant_buckets_are_a_bounded_count_with_or_without_distinct_accounts() {
        assert_eq!(DailyTotalsConfig::default().merchant_buckets, 0);
        for distinct in ["off", "hll"] {
            let lookup = move |name: &str| match name {
                ENV_MERCHANT_BUCKETS => Some("64".to_owned()),
                ENV_DISTINCT_ACCOUNTS => Some(distinct.to_owned()),
                ENV_DEDUPE => Some("off".to_owned()),
                _ => None,
            };
            let config = DailyTotalsConfig::from_lookup(lookup).unwrap();
            assert_eq!(config.merchant_buckets, 64);
        }
        for (buckets, distinct) in [("-1", "off"), ("4097", "hll"), ("x", "off")] {
            let lookup = move |name: &str| match name {
                ENV_MERCHANT_BUCKETS => Some(buckets.to_owned()),
                ENV_DISTINCT_ACCOUNTS => Some(distinct.to_owned()),
                ENV_DEDUPE => Some("off".to_owned()),
                _ => None,
            };
            match DailyTotalsConfig::from_lookup(lookup) {
                Err(Error::Config(why)) => assert!(why.contains(ENV_MERCHANT_BUCKETS), "{why}"),
                other => panic!("{buckets} {distinct}: {other:?}"),
            }
        }
    }

    #[test]
    fn product_buckets_are_read_and_buckets_refuse_per_key_recent_ids() {
        let on_shard_log = DailyTotalsConfig::from_lookup(vars(&[
            (ENV_PRODUCT_BUCKETS, "16"),
            (shardwise::config::ENV_STATE_BACKEND, "shard_log"),
        ]))
        .unwrap();
        assert_eq!(on_shard_log.product_buckets, 16);
        assert_eq!(
            on_shard_log.buckets(crate::aggregate::Dimension::Product),
            16
        );
        assert_eq!(
            on_shard_log.buckets(crate::aggregate::Dimension::Merchant),
            0
        );
        assert_eq!(on_shard_log.dedupe, Dedupe::Account);
        for lookup in [
            vars(&[(ENV_PRODUCT_BUCKETS, "16")]),
            vars(&[(ENV_PRODUCT_BUCKETS, "16"), (ENV_DEDUPE, "recent_ids")]),
        ] {
            match DailyTotalsConfig::from_lookup(lookup) {
                Err(Error::Config(why)) => assert!(why.contains(ENV_DEDUPE), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        match DailyTotalsConfig::from_lookup(only(ENV_PRODUCT_BUCKETS, "4097")) {
            Err(Error::Config(why)) => assert!(why.contains(ENV_PRODUCT_BUCKETS), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
