//! What one key accumulates per UTC day, depending on its dimension.
//!
//! - merchant keys: revenue and count per currency, and a HyperLogLog of accounts
//!   (unless `DAILY_TOTALS_DISTINCT_ACCOUNTS=off`, [`crate::config::AccountSketch`]); a
//!   merchant bucket keeps both per merchant;
//! - product keys: revenue and count per currency;
//! - day keys: a deterministic bottom-k sample of transaction ids.
//!
//! One aggregate type serves all three so that the operator has one state type: the
//! timer dispatcher can then fire any daily-totals key with the same operator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shardwise::sketch::{HyperLogLog, Reservoir};
use shardwise::window::Aggregate;

use crate::config::AccountSketch;
use crate::txn::Txn;

/// What a state key stands for; its prefix in the key (`merchant#m-00001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Totals and distinct accounts per merchant.
    Merchant,
    /// Totals per product.
    Product,
    /// The day's transaction sample.
    Day,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Self; 3] = [Self::Merchant, Self::Product, Self::Day];

    /// The key prefix and output `dimension` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "merchant",
            Self::Product => "product",
            Self::Day => "day",
        }
    }

    /// The state key of `id` (`merchant#m-00001`).
    pub fn key(self, id: &str) -> String {
        format!("{}#{id}", self.as_str())
    }

    /// Splits a state key into its dimension and id.
    pub fn parse_key(key: &str) -> Option<(Self, &str)> {
        let (prefix, id) = key.split_once('#')?;
        let dim = Self::ALL.into_iter().find(|d| d.as_str() == prefix)?;
        Some((dim, id))
    }
}

/// Which dimensions a deployment computes (`DAILY_TOTALS_DIMENSIONS`); all by default.
///
/// The application needs all three; a deployment that only needs some of them (the Flink
/// benchmark's R2 is the merchant totals alone) runs only those processors, so it neither
/// writes nor pays for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DimensionSet([bool; 3]);

impl Default for DimensionSet {
    fn default() -> Self {
        Self([true; 3])
    }
}

impl DimensionSet {
    /// Parses a comma-separated list of dimension names (`merchant,product,day`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut set = [false; 3];
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let at = Dimension::ALL
                .iter()
                .position(|d| d.as_str() == name)
                .ok_or_else(|| format!("unknown dimension {name:?} (merchant, product, day)"))?;
            if let Some(slot) = set.get_mut(at) {
                *slot = true;
            }
        }
        if !set.contains(&true) {
            return Err("at least one dimension is needed".to_owned());
        }
        Ok(Self(set))
    }

    /// The selected dimensions, in [`Dimension::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Dimension> {
        Dimension::ALL
            .into_iter()
            .zip(self.0)
            .filter_map(|(d, on)| on.then_some(d))
    }
}

/// Revenue (minor units) and count in one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    /// Sum of amounts, minor units.
    #[serde(rename = "r")]
    pub revenue_minor: i64,
    /// Transactions.
    #[serde(rename = "n")]
    pub count: u64,
}

/// One key's accumulator for one day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DayAcc {
    /// Totals per currency (merchant and product keys).
    #[serde(rename = "t", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub totals: BTreeMap<String, Total>,
    /// Distinct accounts (merchant keys).
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<HyperLogLog>,
    /// Transaction sample (day keys).
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Reservoir>,
    /// Totals per merchant or product and currency (bucket keys: `merchant_buckets` or
    /// `product_buckets` > 0).
    #[serde(rename = "m", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_id: BTreeMap<String, BTreeMap<String, Total>>,
    /// Distinct accounts per merchant (merchant bucket keys).
    #[serde(rename = "h", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts_by_id: BTreeMap<String, HyperLogLog>,
}

/// The daily aggregate of one dimension.
#[derive(Debug, Clone, Copy)]
pub struct DayAggregate {
    /// Which dimension's keys it serves.
    pub dimension: Dimension,
    /// HyperLogLog precision of the distinct-accounts sketch.
    pub hll_precision: u8,
    /// Whether merchant keys keep the distinct-accounts sketch at all.
    pub account_sketch: AccountSketch,
    /// The dimension's keys are buckets (of merchants or products): totals go per id.
    pub bucketed: bool,
    /// Size of the daily sample.
    pub sample_size: usize,
}

impl Aggregate for DayAggregate {
    type Input = Txn;
    type Acc = DayAcc;
    type Output = DayAcc;

    fn add(&self, acc: &mut DayAcc, t: &Txn) {
        match self.dimension {
            Dimension::Merchant | Dimension::Product if self.bucketed => {
                let id = match self.dimension {
                    Dimension::Product => &t.product_id,
                    _ => &t.merchant_id,
                };
                let totals = acc.by_id.entry(id.clone()).or_default();
                let total = totals.entry(t.currency.clone()).or_default();
                total.revenue_minor += t.amount_minor;
                total.count += 1;
                if self.dimension == Dimension::Merchant
                    && self.account_sketch == AccountSketch::Hll
                {
                    acc.accounts_by_id
                        .entry(id.clone())
                        .or_insert_with(|| HyperLogLog::new(self.hll_precision))
                        .insert(t.account_id.as_bytes());
                }
            }
            Dimension::Merchant | Dimension::Product => {
                let total = acc.totals.entry(t.currency.clone()).or_default();
                total.revenue_minor += t.amount_minor;
                total.count += 1;
                if self.dimension == Dimension::Merchant
                    && self.account_sketch == AccountSketch::Hll
                {
                    acc.accounts
                        .get_or_insert_with(|| HyperLogLog::new(self.hll_precision))
                        .insert(t.account_id.as_bytes());
                }
            }
            Dimension::Day => {
                acc.sample
                    .get_or_insert_with(|| Reservoir::new(self.sample_size))
                    .insert(&t.transaction_id);
            }
        }
    }

    fn merge(&self, acc: &mut DayAcc, other: DayAcc) {
        for (currency, t) in other.totals {
            let total = acc.totals.entry(currency).or_default();
            total.revenue_minor += t.revenue_minor;
            total.count += t.count;
        }
        for (id, totals) in other.by_id {
            let mine = acc.by_id.entry(id).or_default();
            for (currency, t) in totals {
                let total = mine.entry(currency).or_default();
                total.revenue_minor += t.revenue_minor;
                total.count += t.count;
            }
        }
        for (id, sketch) in other.accounts_by_id {
            match acc.accounts_by_id.entry(id) {
                std::collections::btree_map::Entry::Occupied(mut mine) => {
                    mine.get_mut().merge(&sketch);
                }
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(sketch);
                }
            }
        }
        match (&mut acc.accounts, other.accounts) {
            (Some(a), Some(b)) => a.merge(&b),
            (slot @ None, b) => *slot = b,
            (Some(_), None) => {}
        }
        match (&mut acc.sample, other.sample) {
            (Some(a), Some(b)) => a.merge(&b),
            (slot @ None, b) => *slot = b,
            (Some(_), None) => {}
        }
    }

    fn result(&self, acc: &DayAcc) -> DayAcc {
        acc.clone()
    }
}
