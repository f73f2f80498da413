//! Multiset comparison of an engine's rows with the reference's.
//!
//! Multisets, not sets: an engine that emits the same window twice (a retried sink, a
//! duplicate fire) is wrong even if every row is right, so duplicates show up as
//! `unexpected`.

use std::collections::BTreeMap;

/// What differs between the expected and the actual rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff<T> {
    /// Expected rows the engine did not produce (or produced fewer times).
    pub missing: Vec<T>,
    /// Rows the engine produced that were not expected (or more often than expected).
    pub unexpected: Vec<T>,
}

impl<T> Diff<T> {
    /// True if both sides hold the same rows the same number of times.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }
}

/// Compares two multisets of rows.
pub fn diff<T: Ord + Clone>(expected: &[T], actual: &[T]) -> Diff<T> {
    let mut balance: BTreeMap<&T, i64> = BTreeMap::new();
    for row in expected {
        *balance.entry(row).or_default() += 1;
    }
    for row in actual {
        *balance.entry(row).or_default() -= 1;
    }
    let mut missing = Vec::new();
    let mut unexpected = Vec::new();
    for (row, n) in balance {
        for _ in 0..n.max(0) {
            missing.push(row.clone());
        }
        for _ in 0..(-n).max(0) {
            unexpected.push(row.clone());
        }
    }
    Diff {
        missing,
        unexpected,
    }
}

/// One line per difference (at most `limit` of each kind), for the report.
pub fn describe<T: std::fmt::Debug>(name: &str, d: &Diff<T>, limit: usize) -> Vec<String> {
    let mut lines = vec![format!(
        "{name}: {} missing, {} unexpected",
        d.missing.len(),
        d.unexpected.len()
    )];
    lines.extend(
        d.missing
            .iter()
            .take(limit)
            .map(|r| format!("  missing    {r:?}")),
    );
    lines.extend(
        d.unexpected
            .iter()
            .take(limit)
            .map(|r| format!("  unexpected {r:?}")),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_multisets_in_any_order_have_no_difference() {
        assert!(diff(&[1, 2, 2, 3], &[3, 2, 1, 2]).is_empty());
    }

    #[test]
    fn a_duplicated_row_is_unexpected_and_a_lost_one_missing() {
        let d = diff(&[1, 2, 3], &[1, 1, 3]);
        assert_eq!(d.missing, vec![2]);
        assert_eq!(d.unexpected, vec![1]);
        assert!(!d.is_empty());
        assert_eq!(describe("r", &d, 5)[0], "r: 1 missing, 1 unexpected");
    }
}
