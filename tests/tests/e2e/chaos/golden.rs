//! The chaos test's golden files: sorted, human-readable renderings shared by the oracle
//! and the run, and the compare-or-bless step (`SHARDWISE_BLESS=1`).

use std::collections::{BTreeMap, BTreeSet};

use shardwise_demo::Details;

use super::oracle::SessionRow;
use super::{BLESS_ENV, golden_dir};

pub(super) fn pipeline_sessions(details: &Details) -> BTreeSet<SessionRow> {
    details
        .closed_sessions
        .iter()
        .map(|j| {
            let text = |k: &str| j[k].as_str().unwrap_or_default().to_owned();
            let amounts = j["amount_minor"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(c, v)| (c.clone(), v.as_i64().unwrap_or(i64::MIN)))
                .collect();
            (
                text("account"),
                text("device"),
                text("start"),
                text("end"),
                j["transactions"].as_u64().unwrap_or(0),
                amounts,
            )
        })
        .collect()
}

pub(super) fn render_alerts<'a>(
    alerts: impl Iterator<Item = (&'a str, &'a str, &'a str, String)>,
) -> String {
    let mut rows: Vec<String> = alerts
        .map(|(id, account, tx, rules)| format!("{id},{account},{tx},{rules}"))
        .collect();
    rows.sort();
    let mut out = "alert_id,account,transaction_id,rules\n".to_owned();
    for r in rows {
        out.push_str(&r);
        out.push('\n');
    }
    out
}

pub(super) fn render_totals(totals: &BTreeMap<(String, String, String), (i64, u64)>) -> String {
    let mut out = "dimension,id,currency,revenue_minor,count\n".to_owned();
    for ((dimension, id, currency), (revenue, count)) in totals {
        out.push_str(&format!("{dimension},{id},{currency},{revenue},{count}\n"));
    }
    out
}

/// The sessions' shape (the rows themselves are compared with the oracle in full).
pub(super) fn render_sessions(sessions: &BTreeSet<SessionRow>) -> String {
    let counts: Vec<u64> = sessions.iter().map(|s| s.4).collect();
    let shape = serde_json::json!({
        "closed_sessions": sessions.len(),
        "transactions": counts.iter().sum::<u64>(),
        "multi_transaction_sessions": counts.iter().filter(|c| **c > 1).count(),
        "largest_session_transactions": counts.iter().max().copied().unwrap_or(0),
    });
    let mut text = serde_json::to_string_pretty(&shape).unwrap();
    text.push('\n');
    text
}

pub(super) fn render_reasons(by_reason: &BTreeMap<String, u64>) -> String {
    let mut text = serde_json::to_string_pretty(by_reason).unwrap();
    text.push('\n');
    text
}

/// Compares `actual` (the oracle's rendering) with the golden file, or writes it when
/// blessing.
pub(super) fn golden(name: &str, oracle_text: &str) -> String {
    let path = golden_dir().join(name);
    if std::env::var(BLESS_ENV).is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, oracle_text).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (regenerate with {BLESS_ENV}=1 and review)",
            path.display()
        )
    });
    assert_eq!(
        text,
        oracle_text,
        "the oracle no longer produces {} (generator or rules changed? re-bless with \
         {BLESS_ENV}=1 and review the diff)",
        path.display()
    );
    text
}
