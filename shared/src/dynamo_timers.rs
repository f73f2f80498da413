//! The timers table over `aws-sdk-dynamodb`: timer items as transaction actions, the
//! due-bucket `Query`, and orphan deletes. Kept out of `dynamo_store` so the state
//! store's request logic stays about state (see [`crate::timer_store`] for the layout).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put};

use crate::error::Error;
use crate::ids::EventTime;
use crate::operator::{TimeDomain, Timer};
use crate::timer_store::TimerEntry;

/// Timer item attribute: partition key.
pub const ATTR_TIMER_PK: &str = "pk";
/// Timer item attribute: sort key.
pub const ATTR_TIMER_SK: &str = "sk";
/// Timer item attribute: the operator.
pub const ATTR_TIMER_OPERATOR: &str = "operator";
/// Timer item attribute: the state key.
pub const ATTR_TIMER_KEY: &str = "key";
/// Timer item attribute: due time (N, epoch ms).
pub const ATTR_TIMER_TIME: &str = "time";
/// Timer item attribute: `processing` or `event`.
pub const ATTR_TIMER_DOMAIN: &str = "domain";
/// Timer item attribute: DynamoDB TTL (N, epoch s).
pub const ATTR_TIMER_TTL: &str = "ttl";

const DOMAIN_PROCESSING: &str = "processing";
const DOMAIN_EVENT: &str = "event";

fn key_of(entry: &TimerEntry) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            ATTR_TIMER_PK.to_owned(),
            AttributeValue::S(entry.pk.clone()),
        ),
        (
            ATTR_TIMER_SK.to_owned(),
            AttributeValue::S(entry.sk.clone()),
        ),
    ])
}

/// The `Put` of a timer item (idempotent: the same timer is the same item).
pub fn timer_put(table: &str, entry: &TimerEntry) -> Result<Put, Error> {
    let domain = match entry.timer.domain {
        TimeDomain::Processing => DOMAIN_PROCESSING,
        TimeDomain::Event => DOMAIN_EVENT,
    };
    let mut item = key_of(entry);
    item.extend([
        (
            ATTR_TIMER_OPERATOR.to_owned(),
            AttributeValue::S(entry.operator.clone()),
        ),
        (
            ATTR_TIMER_KEY.to_owned(),
            AttributeValue::S(entry.key.clone()),
        ),
        (
            ATTR_TIMER_TIME.to_owned(),
            AttributeValue::N(entry.timer.time.0.to_string()),
        ),
        (
            ATTR_TIMER_DOMAIN.to_owned(),
            AttributeValue::S(domain.to_owned()),
        ),
        (
            ATTR_TIMER_TTL.to_owned(),
            AttributeValue::N(entry.ttl.to_string()),
        ),
    ]);
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(|e| Error::Service(e.to_string()))
}

/// The `Delete` of a timer item; `must_exist` conditions it on the item's existence (the
/// fired timer: a second firing finds it gone and the whole transaction is cancelled).
pub fn timer_delete(table: &str, entry: &TimerEntry, must_exist: bool) -> Result<Delete, Error> {
    let mut delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key_of(entry)));
    if must_exist {
        delete = delete
            .condition_expression("attribute_exists(#tpk)")
            .expression_attribute_names("#tpk", ATTR_TIMER_PK);
    }
    delete.build().map_err(|e| Error::Service(e.to_string()))
}

/// Decodes a timer item; `None` for items that are not timers (never panics on data).
pub fn decode_timer_item(item: &HashMap<String, AttributeValue>) -> Option<TimerEntry> {
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let n = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|t| t.parse::<i64>().ok())
    };
    let domain = match s(ATTR_TIMER_DOMAIN)?.as_str() {
        DOMAIN_PROCESSING => TimeDomain::Processing,
        DOMAIN_EVENT => TimeDomain::Event,
        _ => return None,
    };
    Some(TimerEntry {
        pk: s(ATTR_TIMER_PK)?,
        sk: s(ATTR_TIMER_SK)?,
        operator: s(ATTR_TIMER_OPERATOR)?,
        key: s(ATTR_TIMER_KEY)?,
        timer: Timer {
            domain,
            time: EventTime(n(ATTR_TIMER_TIME)?),
        },
        ttl: n(ATTR_TIMER_TTL).unwrap_or(0),
    })
}

/// One page (≤ `limit` items) of a partition's timers with `sk < sk_before`, consistent
/// (a timer fired a moment ago must not be read again).
pub async fn query_due(
    client: &Client,
    table: &str,
    partition: &str,
    sk_before: &str,
    limit: usize,
) -> Result<Vec<TimerEntry>, SdkError<QueryError>> {
    let resp = client
        .query()
        .table_name(table)
        .key_condition_expression("#pk = :pk AND #sk < :before")
        .expression_attribute_names("#pk", ATTR_TIMER_PK)
        .expression_attribute_names("#sk", ATTR_TIMER_SK)
        .expression_attribute_values(":pk", AttributeValue::S(partition.to_owned()))
        .expression_attribute_values(":before", AttributeValue::S(sk_before.to_owned()))
        .consistent_read(true)
        .limit(i32::try_from(limit).unwrap_or(i32::MAX))
        .send()
        .await?;
    Ok(resp.items().iter().filter_map(decode_timer_item).collect())
}

/// Deletes one timer item unconditionally.
pub async fn delete_item(
    client: &Client,
    table: &str,
    entry: &TimerEntry,
) -> Result<(), SdkError<DeleteItemError>> {
    client
        .delete_item()
        .table_name(table)
        .set_key(Some(key_of(entry)))
        .send()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer_store::TimerLayout;

    #[test]
    fn timer_items_round_trip_through_their_attributes() {
        let timer = Timer {
            domain: TimeDomain::Event,
            time: EventTime(123_456),
        };
        let entry = TimerLayout::default().entry("op", "k1", timer, 0);
        let put = timer_put("timers", &entry).unwrap();
        assert_eq!(decode_timer_item(put.item()), Some(entry));
        assert_eq!(decode_timer_item(&HashMap::new()), None);
    }
}
