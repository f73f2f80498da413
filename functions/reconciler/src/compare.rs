//! Batch vs stream, to the cent.
//!
//! Every key present on either side is compared on revenue and count. A difference is
//! *explained* when the late side output accounts for it exactly — the stream layer's
//! total plus the late events' total for that key equals the batch total on both revenue
//! and count (the stream dropped exactly those events as too late) — and *unexplained*
//! otherwise. The verdict is `match` with no differences, `explained` when every
//! difference is explained, `mismatch` otherwise.

use serde::{Deserialize, Serialize};

use crate::totals::{Amount, Dimension, Totals};

/// Why a difference exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Explanation {
    /// Stream + late events = batch, exactly.
    LateEvents,
    /// Nothing accounts for it.
    Unexplained,
}

/// One key whose totals differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// `merchant` or `product`.
    pub dimension: Dimension,
    /// Merchant or product id.
    pub id: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The batch total (absent: the archive has no such sale).
    pub batch: Option<Amount>,
    /// The stream total (absent: the stream layer has no such item).
    pub stream: Option<Amount>,
    /// The late side output's total for the key, if any.
    pub late: Option<Amount>,
    /// Batch minus stream revenue, minor units.
    pub revenue_delta_minor: i64,
    /// Batch minus stream count.
    pub count_delta: i64,
    /// Whether the late side output accounts for it.
    pub explanation: Explanation,
}

/// The overall outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No differences.
    Match,
    /// Differences, every one explained by late events.
    Explained,
    /// At least one unexplained difference.
    Mismatch,
}

fn signed(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Every difference between `batch` and `stream`, in key order.
pub fn compare(batch: &Totals, stream: &Totals, late: &Totals) -> Vec<Difference> {
    let mut keys: Vec<_> = batch.keys().chain(stream.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| {
            let b = batch.get(key).copied();
            let s = stream.get(key).copied();
            let (bv, sv) = (b.unwrap_or_default(), s.unwrap_or_default());
            if b == s || (bv == sv && bv == Amount::default()) {
                return None;
            }
            let l = late.get(key).copied();
            let explained = l.is_some_and(|l| sv.plus(l) == bv);
            Some(Difference {
                dimension: key.dimension,
                id: key.id.clone(),
                currency: key.currency.clone(),
                batch: b,
                stream: s,
                late: l,
                revenue_delta_minor: bv.revenue_minor.saturating_sub(sv.revenue_minor),
                count_delta: signed(bv.count).saturating_sub(signed(sv.count)),
                explanation: if explained {
                    Explanation::LateEvents
                } else {
                    Explanation::Unexplained
                },
            })
        })
        .collect()
}

/// The verdict for a list of differences.
pub fn verdict(differences: &[Difference]) -> Verdict {
    if differences.is_empty() {
        Verdict::Match
    } else if differences
        .iter()
        .all(|d| d.explanation == Explanation::LateEvents)
    {
        Verdict::Explained
    } else {
        Verdict::Mismatch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totals::TotalKey;

    fn key(id: &str) -> TotalKey {
        TotalKey {
            dimension: Dimension::Merchant,
            id: id.into(),
            currency: "EUR".into(),
        }
    }

    fn amount(revenue_minor: i64, count: u64) -> Amount {
        Amount {
            revenue_minor,
            count,
        }
    }

    #[test]
    fn equal_totals_have_no_differences() {
        let t: Totals = [(key("m1"), amount(100, 1))].into();
        assert!(compare(&t, &t, &Totals::new()).is_empty());
        assert_eq!(verdict(&[]), Verdict::Match);
    }

    #[test]
    fn a_one_cent_difference_is_reported_with_both_amounts() {
        let batch: Totals = [(key("m1"), amount(10_000, 3))].into();
        let stream: Totals = [(key("m1"), amount(9_999, 3))].into();
        let d = compare(&batch, &stream, &Totals::new());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].batch, Some(amount(10_000, 3)));
        assert_eq!(d[0].stream, Some(amount(9_999, 3)));
        assert_eq!((d[0].revenue_delta_minor, d[0].count_delta), (1, 0));
        assert_eq!(d[0].explanation, Explanation::Unexplained);
        assert_eq!(verdict(&d), Verdict::Mismatch);
    }

    #[test]
    fn late_events_explain_a_difference_only_when_they_match_it_exactly() {
        let batch: Totals = [(key("m1"), amount(500, 2)), (key("m2"), amount(700, 2))].into();
        let stream: Totals = [(key("m1"), amount(300, 1)), (key("m2"), amount(300, 1))].into();
        let late: Totals = [(key("m1"), amount(200, 1)), (key("m2"), amount(200, 1))].into();
        let d = compare(&batch, &stream, &late);
        assert_eq!(d[0].explanation, Explanation::LateEvents);
        assert_eq!(d[1].explanation, Explanation::Unexplained);
        assert_eq!(verdict(&d[..1]), Verdict::Explained);
        assert_eq!(verdict(&d), Verdict::Mismatch);
    }

    #[test]
    fn keys_missing_on_either_side_are_differences() {
        let batch: Totals = [(key("m1"), amount(5, 1))].into();
        let stream: Totals = [(key("m2"), amount(6, 1))].into();
        let d = compare(&batch, &stream, &Totals::new());
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].batch, d[0].stream), (Some(amount(5, 1)), None));
        assert_eq!((d[1].batch, d[1].stream), (None, Some(amount(6, 1))));
        assert_eq!(d[1].revenue_delta_minor, -6);
    }
}
