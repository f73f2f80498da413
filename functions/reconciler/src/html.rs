//! `report.html`: one self-contained page — summary, inline SVG charts of hourly volume
//! and alerts per hour, top merchants, the differences. No scripts, fonts, stylesheets
//! or images from anywhere: it must read the same offline, from a laptop or an archive.

use std::fmt::Write;

use monitoring::currency_exponent;

use crate::compare::Explanation;
use crate::report::Reconciliation;
use crate::totals::{Amount, Dimension, TotalRow};

/// How many merchants the top table lists.
pub const TOP_MERCHANTS: usize = 10;
const CHART_WIDTH: u64 = 720;
const CHART_HEIGHT: u64 = 180;
const CHART_MARGIN: u64 = 30;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `1234.56 EUR` from minor units and the currency's exponent (2 if unknown).
pub fn money(minor: i64, currency: &str) -> String {
    let exp = currency_exponent(currency).unwrap_or(2);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exp == 0 {
        return format!("{sign}{abs} {}", escape(currency));
    }
    let unit = 10_u64.pow(exp);
    format!(
        "{sign}{}.{:0width$} {}",
        abs / unit,
        abs % unit,
        escape(currency),
        width = exp as usize
    )
}

/// A bar chart of 24 hourly values as inline SVG.
pub fn bar_chart(title: &str, values: &[u64], color: &str) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let plot_h = CHART_HEIGHT - 2 * CHART_MARGIN;
    let n = values.len().max(1) as u64;
    let slot = (CHART_WIDTH - 2 * CHART_MARGIN) / n;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" role=\"img\" aria-label=\"{t}\">\
<title>{t}</title><text x=\"{CHART_MARGIN}\" y=\"18\" font-size=\"13\">{t} (max {max})</text>",
        t = escape(title)
    );
    for (i, &v) in values.iter().enumerate() {
        let h = v * plot_h / max;
        let x = CHART_MARGIN + i as u64 * slot;
        let y = CHART_MARGIN + plot_h - h;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"{color}\"><title>{i:02}:00 {v}</title></rect>",
            w = slot.saturating_sub(2)
        );
        if i % 3 == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x}\" y=\"{ly}\" font-size=\"10\">{i:02}h</text>",
                ly = CHART_HEIGHT - 10
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn amount_cell(a: Option<Amount>, currency: &str) -> String {
    a.map_or_else(
        || "—".to_owned(),
        |a| format!("{} ({} tx)", money(a.revenue_minor, currency), a.count),
    )
}

/// The top merchants by revenue (then id), across currencies in minor units.
pub fn top_merchants(totals: &[TotalRow]) -> Vec<&TotalRow> {
    let mut merchants: Vec<&TotalRow> = totals
        .iter()
        .filter(|r| r.dimension == Dimension::Merchant)
        .collect();
    merchants.sort_by(|a, b| {
        b.revenue_minor
            .cmp(&a.revenue_minor)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.currency.cmp(&b.currency))
    });
    merchants.truncate(TOP_MERCHANTS);
    merchants
}

/// The whole page (deterministic: same reconciliation, same bytes).
pub fn render(r: &Reconciliation) -> String {
    let c = &r.counts;
    let verdict = serde_json::to_value(r.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Reconciliation {day}</title><style>\
body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}th{{background:#f3f3f3}}\
.match{{color:#1a7f37}}.explained{{color:#9a6700}}.mismatch{{color:#cf222e}}\
</style></head><body>\n<h1>Reconciliation of {day}</h1>\n\
<p class=\"{verdict}\"><strong>Verdict: {verdict}</strong> — {d} differences ({e} explained by late events, {u} unexplained)</p>\n",
        day = escape(&r.day),
        d = c.differences,
        e = c.explained,
        u = c.unexplained,
    );
    html.push_str("<h2>Summary</h2>\n<table>\n");
    for (label, value) in [
        ("Raw archive objects", c.raw_objects),
        ("Unreadable objects", c.unreadable_objects),
        ("Archived records (distinct)", c.batch.records),
        (
            "Re-archived records (same shard and sequence)",
            c.batch.duplicate_records,
        ),
        ("Rejected records", c.batch.rejected),
        ("Duplicate transactions", c.batch.duplicate_transactions),
        ("Transactions of the day", c.batch.transactions),
        ("Transactions of other days", c.batch.other_day_transactions),
        ("Batch totals", c.batch_totals),
        ("Stream totals", c.stream_totals),
        ("Late events", c.late_events),
        ("Alerts", c.alerts),
    ] {
        let _ = writeln!(html, "<tr><th>{label}</th><td>{value}</td></tr>");
    }
    html.push_str("</table>\n");
    if !c.batch.rejected_by_reason.is_empty() {
        html.push_str("<h3>Rejected records by reason</h3>\n<table>\n");
        for (reason, n) in &c.batch.rejected_by_reason {
            let _ = writeln!(html, "<tr><th>{}</th><td>{n}</td></tr>", escape(reason));
        }
        html.push_str("</table>\n");
    }
    html.push_str("<h2>Hourly volume (UTC, event time)</h2>\n");
    html.push_str(&bar_chart(
        "Transactions per hour",
        &r.hourly_transactions,
        "#4472c4",
    ));
    html.push_str("\n<h2>Alerts per hour</h2>\n");
    html.push_str(&bar_chart("Alerts per hour", &r.alerts_per_hour, "#c0504d"));
    html.push_str("\n<h2>Top merchants</h2>\n<table>\n<tr><th>Merchant</th><th>Revenue</th><th>Transactions</th></tr>\n");
    for m in top_merchants(&r.totals) {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.id),
            money(m.revenue_minor, &m.currency),
            m.count
        );
    }
    html.push_str("</table>\n<h2>Differences</h2>\n");
    if r.differences.is_empty() {
        html.push_str("<p>None: the batch and stream layers agree to the cent.</p>\n");
    } else {
        html.push_str("<table>\n<tr><th>Key</th><th>Batch</th><th>Stream</th><th>Late events</th><th>Explanation</th></tr>\n");
        for d in &r.differences {
            let explanation = match d.explanation {
                Explanation::LateEvents => "late events",
                Explanation::Unexplained => "unexplained",
            };
            let _ = writeln!(
                html,
                "<tr><td>{}#{}#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{explanation}</td></tr>",
                d.dimension,
                escape(&d.id),
                escape(&d.currency),
                amount_cell(d.batch, &d.currency),
                amount_cell(d.stream, &d.currency),
                amount_cell(d.late, &d.currency),
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{Difference, Verdict};
    use crate::report::ReportCounts;

    fn reconciliation() -> Reconciliation {
        let mut hourly = [0; 24];
        hourly[9] = 40;
        let mut r = Reconciliation {
            day: "2026-11-21".into(),
            verdict: Verdict::Mismatch,
            counts: ReportCounts::default(),
            differences: vec![Difference {
                dimension: Dimension::Merchant,
                id: "<m&1>".into(),
                currency: "EUR".into(),
                batch: Some(Amount {
                    revenue_minor: 1001,
                    count: 2,
                }),
                stream: Some(Amount {
                    revenue_minor: 1000,
                    count: 2,
                }),
                late: None,
                revenue_delta_minor: 1,
                count_delta: 0,
                explanation: Explanation::Unexplained,
            }],
            hourly_transactions: hourly,
            alerts_per_hour: [0; 24],
            totals: vec![TotalRow {
                dimension: Dimension::Merchant,
                id: "m-big".into(),
                currency: "JPY".into(),
                revenue_minor: 150_000,
                count: 3,
            }],
        };
        r.count_differences();
        r
    }

    #[test]
    fn the_page_references_no_external_url() {
        let html = render(&reconciliation());
        // The only URL allowed is the SVG namespace identifier, which is never fetched.
        let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        for needle in [
            "http://", "https://", "src=", "href=", "url(", "@import", "<script", "<link",
        ] {
            assert!(!without_ns.contains(needle), "found {needle}");
        }
        assert!(html.contains("<svg"));
    }

    #[test]
    fn the_page_shows_verdict_differences_and_top_merchants_escaped() {
        let html = render(&reconciliation());
        assert!(html.contains("Verdict: mismatch"));
        assert!(html.contains("&lt;m&amp;1&gt;"));
        assert!(!html.contains("<m&1>"));
        assert!(html.contains("10.01 EUR (2 tx)"));
        assert!(html.contains("150000 JPY"));
        assert!(html.contains("09:00 40"));
        assert_eq!(render(&reconciliation()), html);
    }

    #[test]
    fn money_uses_the_currency_exponent() {
        assert_eq!(money(123_456, "EUR"), "1234.56 EUR");
        assert_eq!(money(-5, "EUR"), "-0.05 EUR");
        assert_eq!(money(1500, "JPY"), "1500 JPY");
    }
}
