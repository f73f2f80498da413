//! The items daily-totals writes to the outputs table (the contract's "Daily totals"):
//! pk = `daily-totals#<YYYY-MM-DD>`, and per sort key:
//! - `<dimension>#<id>#<currency>` → [`DimensionTotal`] (`merchant` or `product`);
//! - `distinct#<merchant id>` → [`DistinctAccounts`] (HyperLogLog estimate);
//! - `sample` → [`DaySample`].
//!
//! `final` is true once the watermark passed the day's end; an allowed-late event
//! rewrites the same item with the updated values (still final).

use serde::{Deserialize, Serialize};

/// The operator's name: prefixes its state keys, output pks and late-event pks.
pub const OPERATOR_NAME: &str = "daily-totals";
/// Sort key prefix of distinct-account estimates.
pub const DISTINCT_SK_PREFIX: &str = "distinct";
/// Sort key of the day's sample.
pub const SAMPLE_SK: &str = "sample";

/// The partition key of a day's items (outputs and late events alike).
pub fn day_pk(day: &str) -> String {
    format!("{OPERATOR_NAME}#{day}")
}

/// Revenue and count of one merchant or product in one currency on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionTotal {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `merchant` or `product`.
    pub dimension: String,
    /// Merchant or product id.
    pub id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of amounts, minor units.
    pub revenue_minor: i64,
    /// Transactions.
    pub count: u64,
    /// The watermark passed the day's end.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// Estimated distinct accounts of one merchant on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistinctAccounts {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Merchant id.
    pub merchant: String,
    /// HyperLogLog estimate (≈ 1.6 % relative error at p = 12).
    pub distinct_accounts: u64,
    /// The watermark passed the day's end.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// A uniform, deterministic sample of the day's transaction ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySample {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Sampled transaction ids.
    pub transactions: Vec<String>,
    /// The watermark passed the day's end.
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// Any daily-totals output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DailyOutput {
    /// A merchant or product total.
    Total(DimensionTotal),
    /// Distinct accounts of a merchant.
    Distinct(DistinctAccounts),
    /// The day's sample.
    Sample(DaySample),
}
