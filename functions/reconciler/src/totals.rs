//! Daily totals: the keys, amounts and pure arithmetic shared by the batch side, the
//! stream side and the late side output.
//!
//! A total is keyed by (dimension, id, currency) and holds revenue in integer minor
//! units plus a count, exactly like daily-totals' items (`<dimension>#<id>#<currency>`),
//! so the two layers compare to the cent without any conversion. `BTreeMap` keeps every
//! rendering (JSON, CSV, Parquet, HTML) in one stable order: same inputs, same bytes.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What a total is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// Per merchant.
    Merchant,
    /// Per product.
    Product,
}

impl Dimension {
    /// Both dimensions.
    pub const ALL: [Self; 2] = [Self::Merchant, Self::Product];

    /// The wire name (`merchant`, `product`), also the sort-key prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merchant => "merchant",
            Self::Product => "product",
        }
    }

    /// The dimension for a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key of one total.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TotalKey {
    /// Merchant or product.
    pub dimension: Dimension,
    /// Merchant or product id.
    pub id: String,
    /// ISO 4217 code.
    pub currency: String,
}

impl fmt::Display for TotalKey {
    /// `merchant#m-00001#EUR`, the daily-totals sort key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}#{}", self.dimension, self.id, self.currency)
    }
}

/// Revenue and count of one total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    /// Sum of amounts in minor units.
    pub revenue_minor: i64,
    /// Number of transactions.
    pub count: u64,
}

impl Amount {
    /// One transaction of `minor` units.
    pub fn one(minor: i64) -> Self {
        Self {
            revenue_minor: minor,
            count: 1,
        }
    }

    /// The sum of two amounts (saturating: never a panic on absurd input).
    pub fn plus(self, other: Self) -> Self {
        Self {
            revenue_minor: self.revenue_minor.saturating_add(other.revenue_minor),
            count: self.count.saturating_add(other.count),
        }
    }
}

/// A set of totals in key order.
pub type Totals = BTreeMap<TotalKey, Amount>;

/// The fields of one transaction that totals need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sale<'a> {
    /// Merchant id.
    pub merchant: &'a str,
    /// Product id.
    pub product: &'a str,
    /// Currency code.
    pub currency: &'a str,
    /// Amount in minor units.
    pub amount_minor: i64,
}

/// Adds one sale to its merchant and its product total.
pub fn add_sale(totals: &mut Totals, sale: Sale<'_>) {
    for (dimension, id) in [
        (Dimension::Merchant, sale.merchant),
        (Dimension::Product, sale.product),
    ] {
        let key = TotalKey {
            dimension,
            id: id.to_owned(),
            currency: sale.currency.to_owned(),
        };
        let entry = totals.entry(key).or_default();
        *entry = entry.plus(Amount::one(sale.amount_minor));
    }
}

/// One total as a flat row (the JSON, CSV and Parquet form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotalRow {
    /// `merchant` or `product`.
    pub dimension: Dimension,
    /// Merchant or product id.
    pub id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Revenue in minor units.
    pub revenue_minor: i64,
    /// Number of transactions.
    pub count: u64,
}

/// Totals as rows, in key order.
pub fn rows(totals: &Totals) -> Vec<TotalRow> {
    totals
        .iter()
        .map(|(k, a)| TotalRow {
            dimension: k.dimension,
            id: k.id.clone(),
            currency: k.currency.clone(),
            revenue_minor: a.revenue_minor,
            count: a.count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale<'a>(merchant: &'a str, product: &'a str, minor: i64) -> Sale<'a> {
        Sale {
            merchant,
            product,
            currency: "EUR",
            amount_minor: minor,
        }
    }

    #[test]
    fn a_sale_counts_once_for_its_merchant_and_once_for_its_product() {
        let mut t = Totals::new();
        add_sale(&mut t, sale("m-1", "p-1", 250));
        add_sale(&mut t, sale("m-1", "p-2", 100));
        let merchant = TotalKey {
            dimension: Dimension::Merchant,
            id: "m-1".into(),
            currency: "EUR".into(),
        };
        assert_eq!(
            t[&merchant],
            Amount {
                revenue_minor: 350,
                count: 2
            }
        );
        assert_eq!(t.len(), 3);
        let r = rows(&t);
        assert_eq!(r[0].dimension, Dimension::Merchant);
        assert_eq!((r[1].id.as_str(), r[1].revenue_minor), ("p-1", 250));
    }

    #[test]
    fn keys_render_as_daily_totals_sort_keys() {
        let k = TotalKey {
            dimension: Dimension::Product,
            id: "p-00007-03".into(),
            currency: "JPY".into(),
        };
        assert_eq!(k.to_string(), "product#p-00007-03#JPY");
        assert_eq!(Dimension::parse("merchant"), Some(Dimension::Merchant));
        assert_eq!(Dimension::parse("account"), None);
    }
}
