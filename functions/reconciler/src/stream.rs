//! The stream layer's side, read from DynamoDB: daily-totals' items, the late side
//! output and the day's alerts (also used by query-api).
//!
//! Daily totals live in the outputs table under pk = `daily-totals#<day>`, sk =
//! `<dimension>#<id>#<currency>`; the same partition also holds `distinct#…` and `sample`
//! items, which are skipped by sort-key prefix. Each item's `body` is the operator's
//! output JSON; its top-level fields are also copied as attributes, which are the
//! fallback when `body` is absent. Late events are the LATE_EVENTS_TABLE items of pk =
//! `daily-totals#<day>` whose `body` is `{"reason", "event"}` (`Context::emit_late`) with
//! the event's `transaction_id`, `merchant_id`, `product_id`, `amount_minor` and
//! `currency` (a flat body with those fields is read too); they are de-duplicated by
//! transaction id (a re-delivered batch re-emits the same event). Every read pages
//! through `LastEvaluatedKey` with the SDK's paginator.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use monitoring::parse_event_time;
use serde::Deserialize;

use crate::Error;
use crate::batch::HOURS;
use crate::totals::{Amount, Dimension, Sale, TotalKey, Totals, add_sale};

/// The daily-totals operator's name (the pk prefix of its outputs and late events).
pub const DAILY_TOTALS_OPERATOR: &str = "daily-totals";
/// The alerts table's index by UTC day.
pub const ALERTS_BY_DAY_INDEX: &str = "by-day";
const ATTR_PK: &str = "pk";
const ATTR_SK: &str = "sk";
const ATTR_BODY: &str = "body";
const ATTR_DAY: &str = "day";
const ATTR_EVENT_TIME: &str = "event_time";
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;

/// The partition key of a day's totals and late events.
pub fn daily_totals_pk(day: &str) -> String {
    format!("{DAILY_TOTALS_OPERATOR}#{day}")
}

type Item = HashMap<String, AttributeValue>;

/// The body of one daily total (unknown fields such as `final` and `day` are ignored).
#[derive(Debug, Deserialize)]
struct TotalBody {
    dimension: String,
    id: String,
    currency: String,
    revenue_minor: i64,
    count: u64,
}

/// A late-event item's body: the side output's envelope, or the bare event.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum LateBody {
    /// `{"reason": "...", "event": {...}}`, as `Context::emit_late` writes it.
    Envelope {
        /// The late event.
        event: LateEvent,
    },
    /// The event itself.
    Bare(LateEvent),
}

impl LateBody {
    fn into_event(self) -> LateEvent {
        match self {
            Self::Envelope { event } | Self::Bare(event) => event,
        }
    }
}

/// The fields of a late transaction that totals need (others are ignored).
#[derive(Debug, Deserialize)]
struct LateEvent {
    transaction_id: String,
    merchant_id: String,
    product_id: String,
    currency: String,
    amount_minor: i64,
}

fn s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|t| t.parse().ok())
}

/// One outputs-table item as a daily total; `None` for other items of the partition
/// (`distinct#…`, `sample`) and for items that cannot be read.
pub fn total_from_item(item: &Item) -> Option<(TotalKey, Amount)> {
    let sk = s(item, ATTR_SK)?;
    let prefix = sk.split('#').next()?;
    Dimension::parse(prefix)?;
    let body: TotalBody = match s(item, ATTR_BODY).map(serde_json::from_str::<TotalBody>) {
        Some(Ok(body)) => body,
        _ => TotalBody {
            dimension: s(item, "dimension")?.to_owned(),
            id: s(item, "id")?.to_owned(),
            currency: s(item, "currency")?.to_owned(),
            revenue_minor: n(item, "revenue_minor")?,
            count: n(item, "count")?,
        },
    };
    Some((
        TotalKey {
            dimension: Dimension::parse(&body.dimension)?,
            id: body.id,
            currency: body.currency,
        },
        Amount {
            revenue_minor: body.revenue_minor,
            count: body.count,
        },
    ))
}

/// Every item of partition `pk` in `table` (all pages).
async fn query_partition(client: &Client, table: &str, pk: &str) -> Result<Vec<Item>, Error> {
    let mut pages = client
        .query()
        .table_name(table)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", ATTR_PK)
        .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
        .into_paginator()
        .send();
    let mut items = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::Dynamo(format!("query {table} {pk}: {e:?}")))?;
        items.extend(page.items.unwrap_or_default());
    }
    Ok(items)
}

/// The stream layer's totals for `day`, and how many items were unreadable.
pub async fn read_stream_totals(
    client: &Client,
    table: &str,
    day: &str,
) -> Result<(Totals, u64), Error> {
    let items = query_partition(client, table, &daily_totals_pk(day)).await?;
    let mut totals = Totals::new();
    let mut unreadable = 0;
    for item in &items {
        let is_total = s(item, ATTR_SK)
            .and_then(|sk| sk.split('#').next())
            .and_then(Dimension::parse)
            .is_some();
        match total_from_item(item) {
            Some((key, amount)) => {
                totals.insert(key, amount);
            }
            None if is_total => unreadable += 1,
            None => {}
        }
    }
    Ok((totals, unreadable))
}

/// The late side output's totals for `day` (de-duplicated by transaction id) and the
/// number of distinct late transactions.
pub async fn read_late_totals(
    client: &Client,
    table: &str,
    day: &str,
) -> Result<(Totals, u64), Error> {
    let items = query_partition(client, table, &daily_totals_pk(day)).await?;
    let mut totals = Totals::new();
    let mut seen = HashSet::new();
    for item in &items {
        let Some(Ok(late)) = s(item, ATTR_BODY).map(serde_json::from_str::<LateBody>) else {
            tracing::warn!(sk = ?s(item, ATTR_SK), "unreadable late event");
            continue;
        };
        let late = late.into_event();
        if !seen.insert(late.transaction_id.clone()) {
            continue;
        }
        add_sale(
            &mut totals,
            Sale {
                merchant: &late.merchant_id,
                product: &late.product_id,
                currency: &late.currency,
                amount_minor: late.amount_minor,
            },
        );
    }
    Ok((totals, seen.len() as u64))
}

/// Alerts of `day` per event-time hour, from the alerts table's `by-day` index.
pub async fn read_alert_hours(
    client: &Client,
    table: &str,
    day: &str,
) -> Result<[u64; HOURS], Error> {
    let mut pages = client
        .query()
        .table_name(table)
        .index_name(ALERTS_BY_DAY_INDEX)
        .key_condition_expression("#d = :d")
        .expression_attribute_names("#d", ATTR_DAY)
        .expression_attribute_values(":d", AttributeValue::S(day.to_owned()))
        .into_paginator()
        .send();
    let mut hours = [0_u64; HOURS];
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::Dynamo(format!("query {table} by-day: {e:?}")))?;
        for item in page.items.unwrap_or_default() {
            let Some(ms) = s(&item, ATTR_EVENT_TIME).and_then(parse_event_time) else {
                continue;
            };
            let hour = usize::try_from(ms.rem_euclid(MS_PER_DAY) / MS_PER_HOUR).unwrap_or(0);
            if let Some(bucket) = hours.get_mut(hour) {
                *bucket += 1;
            }
        }
    }
    Ok(hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn st(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }

    #[test]
    fn totals_are_read_from_the_body() {
        let body = r#"{"day":"2026-11-21","dimension":"product","id":"p-1","currency":"EUR","revenue_minor":1234,"count":3,"final":true}"#;
        let i = item(&[("sk", st("product#p-1#EUR")), ("body", st(body))]);
        let (k, a) = total_from_item(&i).unwrap();
        assert_eq!(k.to_string(), "product#p-1#EUR");
        assert_eq!(
            a,
            Amount {
                revenue_minor: 1234,
                count: 3
            }
        );
    }

    #[test]
    fn totals_fall_back_to_attributes_without_a_body() {
        let i = item(&[
            ("sk", st("merchant#m-1#EUR")),
            ("dimension", st("merchant")),
            ("id", st("m-1")),
            ("currency", st("EUR")),
            ("revenue_minor", AttributeValue::N("-5".into())),
            ("count", AttributeValue::N("1".into())),
        ]);
        assert_eq!(total_from_item(&i).unwrap().1.revenue_minor, -5);
    }

    #[test]
    fn late_bodies_are_read_in_the_side_output_envelope_and_bare() {
        let event = r#"{"transaction_id":"t1","account_id":"a","merchant_id":"m-1","product_id":"p-1","amount_minor":250,"currency":"EUR","event_time_ms":5}"#;
        let envelope = format!(r#"{{"reason":"late: past window end","event":{event}}}"#);
        for body in [envelope.as_str(), event] {
            let late = serde_json::from_str::<LateBody>(body).unwrap().into_event();
            assert_eq!((late.merchant_id.as_str(), late.amount_minor), ("m-1", 250));
        }
        assert!(serde_json::from_str::<LateBody>(r#"{"reason":"x"}"#).is_err());
    }

    #[test]
    fn other_items_of_the_day_are_not_totals() {
        assert!(total_from_item(&item(&[("sk", st("sample")), ("body", st("{}"))])).is_none());
        assert!(total_from_item(&item(&[("sk", st("distinct#m-1"))])).is_none());
        assert_eq!(daily_totals_pk("2026-11-21"), "daily-totals#2026-11-21");
    }
}
