//! Reading what the functions produced, through the SDKs like any client: alerts (the
//! `by-day` index), daily totals (`daily-totals#<day>` in the outputs table), dead
//! letters, sessions, and the reconciler's report files.
//!
//! Items are read from their `body` (the output's JSON, per the framework contract)
//! when present, else from their scalar attributes, so a function that flattens
//! differently still reads.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::types::AttributeValue;
use monitoring::generator::{GroundTruth, Score, score_alerts};
use monitoring::model::{AccountId, TransactionId};
use monitoring::validate::Validator;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::DemoError;

/// Prefix of daily-totals' partition keys in the outputs table.
pub const DAILY_TOTALS_PK_PREFIX: &str = "daily-totals#";
/// The alerts table's index by event-time day.
pub const ALERTS_BY_DAY_INDEX: &str = "by-day";
/// The reconciler's machine-readable report.
pub const RECONCILIATION_JSON: &str = "reconciliation.json";
/// The reconciler's human-readable report.
pub const REPORT_HTML: &str = "report.html";

type Item = HashMap<String, AttributeValue>;

/// An item as JSON: its `body` if it has one, merged over its scalar attributes.
pub fn item_json(item: &Item) -> Value {
    let mut out = Map::new();
    for (k, v) in item {
        let j = match v {
            AttributeValue::S(s) => Value::String(s.clone()),
            AttributeValue::N(n) => n
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| n.parse::<f64>().map(Value::from))
                .unwrap_or(Value::Null),
            AttributeValue::Bool(b) => Value::Bool(*b),
            _ => continue,
        };
        out.insert(k.clone(), j);
    }
    if let Some(Value::Object(body)) = item
        .get("body")
        .and_then(|b| b.as_s().ok())
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
    {
        out.extend(body);
    }
    Value::Object(out)
}

/// Every item of a query on `key_name = key_value` (of the table or of `index`).
pub async fn query_all(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    index: Option<&str>,
    key_name: &str,
    key_value: &str,
) -> Result<Vec<Item>, DemoError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = ddb
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", key_name)
            .expression_attribute_values(":v", AttributeValue::S(key_value.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| DemoError::Read(format!("Query {table}: {e:?}")))?;
        items.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(items),
        }
    }
}

/// Every item of a table.
pub async fn scan_all(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<Vec<Item>, DemoError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| DemoError::Read(format!("Scan {table}: {e:?}")))?;
        items.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(items),
        }
    }
}

/// The day's alerts scored against the ground truth.
pub async fn alerts(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    day: &str,
    truth: &GroundTruth,
) -> Result<Score, DemoError> {
    let items = query_all(ddb, table, Some(ALERTS_BY_DAY_INDEX), "day", day).await?;
    let pairs: Vec<(AccountId, TransactionId)> = items
        .iter()
        .map(item_json)
        .filter_map(|j| {
            let account = j["account"].as_str().or_else(|| j["account_id"].as_str())?;
            let tx = j["transaction_id"].as_str()?;
            Some((AccountId::new(account), TransactionId::new(tx)))
        })
        .collect();
    Ok(score_alerts(truth, pairs))
}

/// One row of daily totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotalRow {
    /// `merchant` or `product`.
    pub dimension: String,
    /// Merchant or product id.
    pub id: String,
    /// ISO 4217.
    pub currency: String,
    /// Revenue, minor units.
    pub revenue_minor: i64,
    /// Transactions.
    pub count: u64,
    /// The watermark passed the window's end.
    pub is_final: bool,
}

/// The stream layer's totals for the day compared with the generator's exact totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotalsSummary {
    /// Merchant rows.
    pub merchants: u64,
    /// Product rows.
    pub products: u64,
    /// Rows marked final.
    pub final_rows: u64,
    /// Merchant totals equal to the ground truth to the cent (revenue and count).
    pub merchants_matching_truth: u64,
    /// Merchant totals in the ground truth.
    pub merchants_in_truth: u64,
    /// Sum of revenue over merchant rows, minor units, by currency.
    pub revenue_by_currency: BTreeMap<String, i64>,
    /// The five merchants with the highest revenue.
    pub top_merchants: Vec<TotalRow>,
}

/// Daily-totals rows of `day`.
pub async fn total_rows(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    day: &str,
) -> Result<Vec<TotalRow>, DemoError> {
    let pk = format!("{DAILY_TOTALS_PK_PREFIX}{day}");
    let items = query_all(ddb, table, None, "pk", &pk).await?;
    Ok(items
        .iter()
        .map(item_json)
        .filter_map(|j| {
            Some(TotalRow {
                dimension: j["dimension"].as_str()?.to_owned(),
                id: j["id"].as_str()?.to_owned(),
                currency: j["currency"].as_str().unwrap_or_default().to_owned(),
                revenue_minor: j["revenue_minor"].as_i64()?,
                count: j["count"].as_u64().unwrap_or(0),
                is_final: j["final"].as_bool().unwrap_or(false),
            })
        })
        .collect())
}

/// Summarises `rows` against the ground truth.
pub fn totals_summary(rows: &[TotalRow], truth: &GroundTruth) -> TotalsSummary {
    let merchants: Vec<&TotalRow> = rows.iter().filter(|r| r.dimension == "merchant").collect();
    let expected: HashMap<(&str, &str), (i64, u64)> = truth
        .merchant_totals
        .iter()
        .map(|t| {
            (
                (t.merchant_id.as_str(), t.currency.code()),
                (t.revenue_minor, t.count),
            )
        })
        .collect();
    let matching = merchants
        .iter()
        .filter(|r| {
            expected.get(&(r.id.as_str(), r.currency.as_str())) == Some(&(r.revenue_minor, r.count))
        })
        .count() as u64;
    let mut revenue_by_currency = BTreeMap::new();
    for r in &merchants {
        *revenue_by_currency.entry(r.currency.clone()).or_insert(0) += r.revenue_minor;
    }
    let mut top: Vec<TotalRow> = merchants.iter().map(|r| (*r).clone()).collect();
    top.sort_by(|a, b| b.revenue_minor.cmp(&a.revenue_minor).then(a.id.cmp(&b.id)));
    top.truncate(5);
    TotalsSummary {
        merchants: merchants.len() as u64,
        products: rows.iter().filter(|r| r.dimension == "product").count() as u64,
        final_rows: rows.iter().filter(|r| r.is_final).count() as u64,
        merchants_matching_truth: matching,
        merchants_in_truth: truth.merchant_totals.len() as u64,
        revenue_by_currency,
        top_merchants: top,
    }
}

/// Dead letters grouped by the validator's reason code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeadLetterSummary {
    /// Dead-letter items (one per operator and record).
    pub items: u64,
    /// Distinct records (by shard and sequence number).
    pub records: u64,
    /// Distinct records by reason code (`missing_field`, …; `other` when the bytes
    /// validate, i.e. the operator refused them for another reason).
    pub by_reason: BTreeMap<String, u64>,
    /// Items by operator.
    pub by_operator: BTreeMap<String, u64>,
    /// The generator's malformed records by expected reason code.
    pub expected_by_reason: BTreeMap<String, u64>,
}

/// Reads and groups the dead-letter table.
pub async fn dead_letters(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    truth: &GroundTruth,
    now_ms: i64,
) -> Result<DeadLetterSummary, DemoError> {
    let items = scan_all(ddb, table).await?;
    let validator = Validator::default();
    let mut s = DeadLetterSummary {
        items: items.len() as u64,
        ..DeadLetterSummary::default()
    };
    let mut seen = BTreeSet::new();
    for item in &items {
        let text = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        *s.by_operator.entry(text("operator")).or_insert(0) += 1;
        if !seen.insert((text("shard_id"), text("sequence_number"))) {
            continue;
        }
        let code = match item.get("data").and_then(|d| d.as_b().ok()) {
            Some(data) => match validator.validate(data.as_ref(), now_ms) {
                Err(reason) => reason.code().to_owned(),
                Ok(_) => "other".to_owned(),
            },
            None => "other".to_owned(),
        };
        *s.by_reason.entry(code).or_insert(0) += 1;
    }
    s.records = seen.len() as u64;
    for m in &truth.malformed {
        *s.expected_by_reason
            .entry(m.reason.code().to_owned())
            .or_insert(0) += 1;
    }
    Ok(s)
}

/// Prefix of session-tracker's partition keys (`session-tracker#<start day>` for closed
/// sessions, `session-tracker#heartbeat` for running figures).
pub const SESSIONS_PK_PREFIX: &str = "session-tracker#";

/// The day's device sessions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SessionsSummary {
    /// Closed sessions that started on the day.
    pub closed: u64,
    /// Transactions in them.
    pub transactions: u64,
    /// Mean session duration, seconds.
    pub mean_duration_seconds: f64,
    /// Heartbeat items (running figures of sessions, overwritten in place).
    pub heartbeat_items: u64,
}

/// Reads the day's closed sessions and the heartbeat items.
pub async fn sessions(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    day: &str,
) -> Result<SessionsSummary, DemoError> {
    let closed = query_all(
        ddb,
        table,
        None,
        "pk",
        &format!("{SESSIONS_PK_PREFIX}{day}"),
    )
    .await?;
    let beats = query_all(
        ddb,
        table,
        None,
        "pk",
        &format!("{SESSIONS_PK_PREFIX}heartbeat"),
    )
    .await?;
    let rows: Vec<Value> = closed.iter().map(item_json).collect();
    let durations: i64 = rows.iter().filter_map(|j| j["duration_ms"].as_i64()).sum();
    Ok(SessionsSummary {
        closed: rows.len() as u64,
        transactions: rows.iter().filter_map(|j| j["transactions"].as_u64()).sum(),
        mean_duration_seconds: if rows.is_empty() {
            0.0
        } else {
            durations as f64 / 1000.0 / rows.len() as f64
        },
        heartbeat_items: beats.len() as u64,
    })
}

/// The reconciliation's outcome, from `reconciliation.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconciliationSummary {
    /// `match`, `explained` or `mismatch`.
    pub verdict: String,
    /// Differences found.
    pub differences: u64,
    /// Of which explained by late events.
    pub explained: u64,
    /// Of which unexplained.
    pub unexplained: u64,
    /// Where the report files were copied.
    pub local_dir: PathBuf,
    /// The files copied.
    pub files: Vec<String>,
}

/// Whether `reports/dt=<day>/` holds both the JSON and the HTML report yet.
pub async fn reports_ready(s3: &aws_sdk_s3::Client, bucket: &str, day: &str) -> bool {
    let prefix = report_prefix(day);
    let Ok(list) = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&prefix)
        .send()
        .await
    else {
        return false;
    };
    let keys: BTreeSet<&str> = list.contents().iter().filter_map(|o| o.key()).collect();
    [RECONCILIATION_JSON, REPORT_HTML]
        .iter()
        .all(|f| keys.contains(format!("{prefix}{f}").as_str()))
}

fn report_prefix(day: &str) -> String {
    format!("reports/dt={day}/")
}

/// Copies `reports/dt=<day>/*` to `<out>/reports/dt=<day>/` and reads the verdict.
pub async fn download_reports(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    day: &str,
    out: &Path,
) -> Result<ReconciliationSummary, DemoError> {
    let prefix = report_prefix(day);
    let local_dir = out.join(&prefix);
    std::fs::create_dir_all(&local_dir)
        .map_err(|e| DemoError::Read(format!("{}: {e}", local_dir.display())))?;
    let list = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&prefix)
        .send()
        .await
        .map_err(|e| DemoError::Read(format!("ListObjectsV2 {bucket}/{prefix}: {e:?}")))?;
    let mut files = Vec::new();
    let mut reconciliation = None;
    for key in list.contents().iter().filter_map(|o| o.key()) {
        let Some(name) = key.strip_prefix(&prefix).filter(|n| !n.contains('/')) else {
            continue;
        };
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| DemoError::Read(format!("GetObject {key}: {e:?}")))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| DemoError::Read(format!("GetObject {key}: {e}")))?
            .into_bytes();
        std::fs::write(local_dir.join(name), &bytes)
            .map_err(|e| DemoError::Read(format!("writing {name}: {e}")))?;
        if name == RECONCILIATION_JSON {
            reconciliation = serde_json::from_slice::<Value>(&bytes).ok();
        }
        files.push(name.to_owned());
    }
    let r = reconciliation.ok_or_else(|| {
        DemoError::Read(format!(
            "no readable {prefix}{RECONCILIATION_JSON} in {bucket}"
        ))
    })?;
    let n = |k: &str| r["counts"][k].as_u64().unwrap_or(0);
    Ok(ReconciliationSummary {
        verdict: r["verdict"].as_str().unwrap_or("unknown").to_owned(),
        differences: n("differences"),
        explained: n("explained"),
        unexplained: n("unexplained"),
        local_dir,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_items_body_wins_over_its_flattened_attributes() {
        let item: Item = [
            (
                "pk".to_owned(),
                AttributeValue::S("daily-totals#2026-11-20".into()),
            ),
            ("count".to_owned(), AttributeValue::N("3".into())),
            (
                "body".to_owned(),
                AttributeValue::S(r#"{"count":4,"final":true}"#.into()),
            ),
        ]
        .into();
        let j = item_json(&item);
        assert_eq!(j["pk"], "daily-totals#2026-11-20");
        assert_eq!(j["count"], 4);
        assert_eq!(j["final"], true);
    }
}
