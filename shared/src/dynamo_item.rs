//! The state item's DynamoDB layout: attribute names, and encoding a commit / decoding an
//! item. Kept apart from the store's request logic so the layout is in one place.
//!
//! `pk` = `operator#key`, `sk` = `state` (every Shardwise table is keyed `pk` + `sk`, so
//! state, watermarks and outputs can share a table), `version` (N), `hwm` (M: shard id → S, the sequence number
//! zero-padded to 129 digits, because sequence numbers exceed DynamoDB's 38-digit N),
//! `state` (S, the operator state as JSON), `failing` (M or NULL: the record the key is
//! stuck on), `updated_at` (N, epoch ms).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::Error;
use crate::ids::{SequenceNumber, ShardId};
use crate::store::{FailingRecord, KeyCommit, StoredState};

/// Partition key attribute of every Shardwise table.
pub const ATTR_PK: &str = "pk";
/// Sort key attribute of every Shardwise table.
pub const ATTR_SK: &str = "sk";
/// The sort key of a key's state item.
pub const STATE_SK: &str = "state";
/// Output attribute: the operator that produced the output.
pub const ATTR_OUT_OPERATOR: &str = "operator";
/// State attribute: optimistic-concurrency version.
pub const ATTR_VERSION: &str = "version";
/// State attribute: per-shard high-water marks.
pub const ATTR_HWM: &str = "hwm";
/// State attribute: the encoded operator state.
pub const ATTR_STATE: &str = "state";
/// State attribute: the record the key is stuck on (M: shard, sequence, attempts) or NULL.
pub const ATTR_FAILING: &str = "failing";
/// State attribute: last commit time (epoch ms).
pub const ATTR_UPDATED_AT: &str = "updated_at";
/// State attribute: the key's timers (S, JSON; see `timer_store::encode_timers`).
pub const ATTR_TIMERS: &str = "timers";
/// State attribute: DynamoDB TTL (N, epoch s) when the whole item may expire, else NULL.
pub const ATTR_TTL: &str = "ttl";
/// Output attribute: the state key that produced the output.
pub const ATTR_OUT_KEY: &str = "key";
/// Output attribute: the encoded output.
pub const ATTR_OUT_BODY: &str = "body";
/// Output attribute of a keyed output published from a shard log: the checkpoint version
/// that produced it (a re-publication of an older version does not replace it).
pub const ATTR_OUT_VERSION: &str = "log_version";

const FAILING_SHARD: &str = "shard";
const FAILING_SEQUENCE: &str = "sequence";
const FAILING_ATTEMPTS: &str = "attempts";

fn encode_failing(failing: Option<&FailingRecord>) -> AttributeValue {
    match failing {
        None => AttributeValue::Null(true),
        Some(f) => AttributeValue::M(HashMap::from([
            (
                FAILING_SHARD.to_owned(),
                AttributeValue::S(f.shard.0.clone()),
            ),
            (
                FAILING_SEQUENCE.to_owned(),
                AttributeValue::S(f.sequence.padded()),
            ),
            (
                FAILING_ATTEMPTS.to_owned(),
                AttributeValue::N(f.attempts.to_string()),
            ),
        ])),
    }
}

fn decode_failing(m: &HashMap<String, AttributeValue>) -> Option<FailingRecord> {
    Some(FailingRecord {
        shard: ShardId(m.get(FAILING_SHARD)?.as_s().ok()?.clone()),
        sequence: SequenceNumber::parse(m.get(FAILING_SEQUENCE)?.as_s().ok()?).ok()?,
        attempts: m.get(FAILING_ATTEMPTS)?.as_n().ok()?.parse().ok()?,
    })
}

pub(crate) fn attribute_values(commit: &KeyCommit) -> Vec<(&'static str, AttributeValue)> {
    let hwm: HashMap<String, AttributeValue> = commit
        .state
        .high_water
        .iter()
        .map(|(shard, seq)| (shard.0.clone(), AttributeValue::S(seq.padded())))
        .collect();
    vec![
        (":st", AttributeValue::S(commit.state.body.clone())),
        (":ver", AttributeValue::N(commit.state.version.to_string())),
        (":hwm", AttributeValue::M(hwm)),
        (":upd", AttributeValue::N(now_ms().to_string())),
        (":fail", encode_failing(commit.state.failing.as_ref())),
        (
            ":tm",
            AttributeValue::S(crate::timer_store::encode_timers(&commit.state.timers)),
        ),
        (
            ":ttl",
            commit.state.ttl.map_or(AttributeValue::Null(true), |t| {
                AttributeValue::N(t.to_string())
            }),
        ),
    ]
}

/// Wall-clock time for the informational `updated_at`/`dead_lettered_at` attributes.
fn now_ms() -> i64 {
    use crate::clock::Clock;
    crate::clock::SystemClock.now().0
}

pub(crate) fn decode_item(
    item: &HashMap<String, AttributeValue>,
) -> Result<(String, StoredState), Error> {
    let pk = match item.get(ATTR_PK) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => {
            return Err(Error::CorruptState {
                key: String::new(),
                reason: "no pk".into(),
            });
        }
    };
    let corrupt = |reason: &str| Error::CorruptState {
        key: pk.clone(),
        reason: reason.into(),
    };
    let version = match item.get(ATTR_VERSION) {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt("bad version"))?,
        _ => return Err(corrupt("no version")),
    };
    let mut high_water = BTreeMap::new();
    if let Some(AttributeValue::M(map)) = item.get(ATTR_HWM) {
        for (shard, seq) in map {
            let AttributeValue::S(seq) = seq else {
                return Err(corrupt("bad hwm"));
            };
            let seq = SequenceNumber::parse(seq).map_err(|_| corrupt("bad hwm"))?;
            high_water.insert(ShardId(shard.clone()), seq);
        }
    }
    let body = match item.get(ATTR_STATE) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => return Err(corrupt("no state")),
    };
    let failing = match item.get(ATTR_FAILING) {
        Some(AttributeValue::M(m)) => {
            Some(decode_failing(m).ok_or_else(|| corrupt("bad failing"))?)
        }
        _ => None,
    };
    let timers = match item.get(ATTR_TIMERS) {
        Some(AttributeValue::S(s)) => {
            crate::timer_store::decode_timers(s).ok_or_else(|| corrupt("bad timers"))?
        }
        _ => BTreeMap::new(),
    };
    let ttl = match item.get(ATTR_TTL) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    };
    Ok((
        pk.clone(),
        StoredState {
            version,
            high_water,
            body,
            failing,
            timers,
            ttl,
        },
    ))
}

/// The primary key of a state item.
pub fn state_key(item_key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (ATTR_PK.to_owned(), AttributeValue::S(item_key.to_owned())),
        (ATTR_SK.to_owned(), AttributeValue::S(STATE_SK.to_owned())),
    ])
}

/// The attributes copied from an output's JSON object onto its item, so that indexes and
/// queries can use them (the alerts table's `by-day` index on `day` and `event_time`):
/// top-level strings, numbers and booleans whose names are not reserved. The whole output
/// stays in `body`.
pub fn flattened_fields(body: &str) -> Vec<(String, AttributeValue)> {
    const RESERVED: [&str; 5] = [
        ATTR_PK,
        ATTR_SK,
        ATTR_OUT_OPERATOR,
        ATTR_OUT_KEY,
        ATTR_OUT_BODY,
    ];
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(body)
    else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter(|(name, _)| !RESERVED.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            let attr = match value {
                serde_json::Value::String(s) => AttributeValue::S(s),
                serde_json::Value::Number(n) => AttributeValue::N(n.to_string()),
                serde_json::Value::Bool(b) => AttributeValue::Bool(b),
                _ => return None,
            };
            Some((name, attr))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_items_round_trip_through_their_dynamodb_attributes() {
        let failing = FailingRecord {
            shard: ShardId("shardId-000000000001".into()),
            sequence: SequenceNumber::parse("4959").unwrap(),
            attempts: 2,
        };
        let commit = KeyCommit {
            item_key: "op#k".into(),
            expected_version: None,
            conditional: true,
            state: StoredState {
                version: 7,
                high_water: BTreeMap::from([(failing.shard.clone(), failing.sequence.clone())]),
                body: r#"{"x":1}"#.into(),
                failing: Some(failing),
                timers: BTreeMap::from([(
                    crate::operator::Timer {
                        domain: crate::operator::TimeDomain::Processing,
                        time: crate::ids::EventTime(61_000),
                    },
                    60_000,
                )]),
                ttl: Some(1_800_000_000),
            },
            outputs: Vec::new(),
            timers: crate::timer_store::TimerWrites::default(),
        };
        let mut item: HashMap<String, AttributeValue> = HashMap::from([(
            ATTR_PK.to_owned(),
            AttributeValue::S(commit.item_key.clone()),
        )]);
        let names = [
            (":st", ATTR_STATE),
            (":ver", ATTR_VERSION),
            (":hwm", ATTR_HWM),
            (":fail", ATTR_FAILING),
            (":tm", ATTR_TIMERS),
            (":ttl", ATTR_TTL),
        ];
        for (placeholder, value) in attribute_values(&commit) {
            if let Some((_, name)) = names.iter().find(|(p, _)| *p == placeholder) {
                item.insert((*name).to_owned(), value);
            }
        }
        let AttributeValue::M(hwm) = &item[ATTR_HWM] else {
            panic!("hwm is a map")
        };
        assert_eq!(
            hwm["shardId-000000000001"].as_s().unwrap().len(),
            129,
            "zero-padded"
        );
        let (pk, state) = decode_item(&item).unwrap();
        assert_eq!(pk, "op#k");
        assert_eq!(state, commit.state);
    }

    #[test]
    fn top_level_scalar_fields_of_an_output_become_attributes_but_reserved_names_do_not() {
        let fields = flattened_fields(
            r#"{"day":"2026-11-21","score":0.93,"final":true,"pk":"x","nested":{"a":1},"list":[1]}"#,
        );
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["day", "final", "score"]);
        assert_eq!(fields[2].1, AttributeValue::N("0.93".into()));
        assert!(flattened_fields("[1,2]").is_empty());
    }
}
