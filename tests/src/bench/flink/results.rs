//! Flink's result files back into the reference's row types.
//!
//! Flink's filesystem sink writes one directory per table with a `part-*` file per
//! writing subtask, one JSON object per line (the column names of `bench/flink/r1.sql`
//! and `r2.sql`). Window bounds are written as `yyyy-MM-dd HH:mm:ss` in the session time
//! zone, which the driver sets to UTC. A file still named `.part-…inprogress` was never
//! committed: that is an error (the job did not finish), not something to skip.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use time::PrimitiveDateTime;
use time::macros::format_description;

use super::reference::{R1Alert, R2Total};

#[derive(Deserialize)]
struct R1Row {
    account_id: String,
    currency: String,
    window_start: String,
    window_end: String,
    tx_count: u64,
    sum_minor: i64,
}

#[derive(Deserialize)]
struct R2Row {
    merchant_id: String,
    currency: String,
    day: String,
    revenue_minor: i64,
    tx_count: u64,
}

#[derive(Deserialize)]
struct ProbeRow {
    transaction_ids: String,
}

/// Parses one line of the late probe (`bench/flink/late.sql`): the transaction ids
/// Flink counted in one minute window, space separated.
pub fn parse_probe(line: &str) -> anyhow::Result<Vec<String>> {
    let r: ProbeRow = serde_json::from_str(line).context("not a late-probe row")?;
    Ok(r.transaction_ids.split(' ').map(str::to_owned).collect())
}

/// Parses one R1 line.
pub fn parse_r1(line: &str) -> anyhow::Result<R1Alert> {
    let r: R1Row = serde_json::from_str(line).context("not an R1 row")?;
    Ok(R1Alert {
        account_id: r.account_id,
        currency: r.currency,
        window_start_ms: utc_millis(&r.window_start)?,
        window_end_ms: utc_millis(&r.window_end)?,
        count: r.tx_count,
        sum_minor: r.sum_minor,
    })
}

/// Parses one R2 line.
pub fn parse_r2(line: &str) -> anyhow::Result<R2Total> {
    let r: R2Row = serde_json::from_str(line).context("not an R2 row")?;
    Ok(R2Total {
        merchant_id: r.merchant_id,
        currency: r.currency,
        day: r.day,
        revenue_minor: r.revenue_minor,
        count: r.tx_count,
    })
}

/// `yyyy-MM-dd HH:mm:ss` (UTC) → epoch milliseconds.
pub fn utc_millis(text: &str) -> anyhow::Result<i64> {
    let t = PrimitiveDateTime::parse(
        text,
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
    )
    .with_context(|| format!("timestamp {text:?}"))?;
    let nanos = t.assume_utc().unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(nanos).context("timestamp out of range")
}

/// Reads every committed part file of a Flink sink directory with `parse`.
pub fn read_dir<T>(dir: &Path, parse: fn(&str) -> anyhow::Result<T>) -> anyhow::Result<Vec<T>> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let mut rows = Vec::new();
    for name in names {
        if name.contains(".inprogress") {
            bail!("{}: uncommitted Flink output {name}", dir.display());
        }
        if !name.starts_with("part-") {
            continue;
        }
        let path = dir.join(&name);
        let file = fs::File::open(&path).with_context(|| format!("{}", path.display()))?;
        for (i, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            if !line.trim().is_empty() {
                rows.push(parse(&line).with_context(|| format!("{}:{}", path.display(), i + 1))?);
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_r1_row_as_flink_writes_it_parses_to_utc_window_bounds() {
        let a = parse_r1(r#"{"account_id":"acc-0000011","currency":"EUR","window_start":"2026-11-21 12:46:00","window_end":"2026-11-21 12:56:00","tx_count":3,"sum_minor":237247}"#).unwrap();
        assert_eq!(a.window_end_ms - a.window_start_ms, 600_000);
        assert_eq!(a.window_start_ms, 1_795_265_160_000);
        assert_eq!((a.count, a.sum_minor), (3, 237_247));
    }

    #[test]
    fn a_probe_row_lists_its_transaction_ids() {
        let ids = parse_probe(
            r#"{"window_start":"2026-11-21 00:00:00","tx_count":2,"transaction_ids":"tx-1 tx-2"}"#,
        )
        .unwrap();
        assert_eq!(ids, ["tx-1", "tx-2"]);
    }

    #[test]
    fn an_r2_row_as_flink_writes_it_parses() {
        let t = parse_r2(r#"{"merchant_id":"m-00020","currency":"USD","day":"2026-11-21","revenue_minor":13719,"tx_count":1}"#).unwrap();
        assert_eq!(t.merchant_id, "m-00020");
        assert_eq!((t.revenue_minor, t.count), (13_719, 1));
    }
}
