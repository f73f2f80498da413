//! Query and Scan, on tables and on secondary indexes.
//!
//! Both walk candidates in key order and build one page: a page ends after `Limit`
//! *evaluated* items or when the evaluated items would exceed 1 MB — both counted before
//! the FilterExpression, as AWS does, so a page may be empty yet carry
//! `LastEvaluatedKey`. Capacity is the evaluated bytes rounded up to 4 KB once per page.
//!
//! A candidate's position is (partition key, sort key, table key for index entries), the
//! order in which it is visited; `ExclusiveStartKey` becomes such a position and the walk
//! resumes strictly after it. A Query stays inside its one partition.

use std::borrow::Cow;
use std::ops::Bound;

use serde_json::{Value, json};

use super::Inner;
use super::capacity::{self, Consumed, Mode, Units};
use super::errors::validation;
use super::expr::{self, Condition, KeyOp, Projection};
use super::items::{inputs, reject_legacy};
use super::keycond::{bounds, key_condition, sort_matches};
use super::request::{Body, opt_bool, opt_enum, opt_i64, opt_str};
use super::schema::KeySchema;
use super::storage::{KeyValue, PrimaryKey, Table, read_units};
use super::types::{Item, item_from_json, item_size, item_to_json};
use super::write::table_ref;
use crate::error::AwsJsonError;

/// Most bytes evaluated per page.
const PAGE_BYTES: usize = 1024 * 1024;

/// Where a candidate sits in the walk order.
type Position = (KeyValue, Option<KeyValue>, Option<PrimaryKey>);
/// A candidate: its position and the table item.
type Candidate<'a> = (Position, &'a Item);

/// `Select`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    All,
    Projected,
    Specific,
    Count,
}

/// The members Query and Scan share.
struct ReadSpec {
    table: String,
    index: Option<String>,
    filter: Option<Condition>,
    projection: Option<Projection>,
    select: Select,
    limit: Option<usize>,
    start: Option<Item>,
    consistent: bool,
    mode: Mode,
}

fn parse_spec(body: &Body, inputs: &mut expr::ExprInputs) -> Result<ReadSpec, AwsJsonError> {
    reject_legacy(body)?;
    let table = super::request::req_str(body, "TableName")?.to_owned();
    let index = opt_str(body, "IndexName")?.map(str::to_owned);
    let filter = opt_str(body, "FilterExpression")?
        .map(|t| expr::parse_filter(t, inputs))
        .transpose()?;
    let projection = opt_str(body, "ProjectionExpression")?
        .map(|t| expr::parse_projection(t, inputs))
        .transpose()?;
    let select = match opt_enum(
        body,
        "Select",
        &[
            "ALL_ATTRIBUTES",
            "ALL_PROJECTED_ATTRIBUTES",
            "SPECIFIC_ATTRIBUTES",
            "COUNT",
        ],
    )? {
        Some("ALL_ATTRIBUTES") => Select::All,
        Some("ALL_PROJECTED_ATTRIBUTES") => Select::Projected,
        Some("COUNT") => Select::Count,
        Some(_) => Select::Specific,
        None if projection.is_some() => Select::Specific,
        None if index.is_some() => Select::Projected,
        None => Select::All,
    };
    if projection.is_some() && select != Select::Specific {
        return Err(validation(
            "Cannot specify the AttributesToGet or ProjectionExpression when choosing to get ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES or COUNT",
        ));
    }
    if select == Select::Specific && projection.is_none() {
        return Err(validation(
            "SPECIFIC_ATTRIBUTES requires a ProjectionExpression or AttributesToGet",
        ));
    }
    if select == Select::Projected && index.is_none() {
        return Err(validation(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        ));
    }
    let limit = match opt_i64(body, "Limit")? {
        Some(n) if n < 1 => {
            return Err(validation(format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            )));
        }
        n => n.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
    };
    let start = body
        .get("ExclusiveStartKey")
        .filter(|v| !v.is_null())
        .map(item_from_json)
        .transpose()?;
    Ok(ReadSpec {
        table,
        index,
        filter,
        projection,
        select,
        limit,
        start,
        consistent: opt_bool(body, "ConsistentRead")?.unwrap_or(false),
        mode: Mode::parse(body)?,
    })
}

/// Checks index-related rules and returns (index key schema, index position in the table).
fn resolve_index<'t>(
    table: &'t Table,
    spec: &ReadSpec,
) -> Result<(&'t KeySchema, Option<usize>), AwsJsonError> {
    let Some(name) = &spec.index else {
        return Ok((&table.def.keys, None));
    };
    let pos = table
        .indexes
        .iter()
        .position(|i| &i.def.name == name)
        .ok_or_else(|| {
            validation(format!(
                "The table does not have the specified index: {name}"
            ))
        })?;
    let def = &table.indexes[pos].def;
    if def.global && spec.consistent {
        return Err(validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    if def.global && spec.select == Select::All && def.projection != super::schema::Projection::All
    {
        return Err(validation(format!(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {name} because its projection type is not ALL"
        )));
    }
    Ok((&def.keys, Some(pos)))
}

/// The walk position named by `ExclusiveStartKey`.
fn start_position(
    table: &Table,
    index_keys: Option<&KeySchema>,
    start: &Item,
) -> Result<Position, AwsJsonError> {
    let invalid = || {
        validation(
            "The provided starting key is invalid: The provided key element does not match the schema",
        )
    };
    let table_key = PrimaryKey::of(&table.def.keys, start).ok_or_else(invalid)?;
    match index_keys {
        None => {
            if start.len() != table.def.keys.names().len() {
                return Err(invalid());
            }
            Ok((table_key.hash, table_key.range, None))
        }
        Some(keys) => {
            let ik = PrimaryKey::of(keys, start).ok_or_else(invalid)?;
            Ok((ik.hash, ik.range, Some(table_key)))
        }
    }
}

/// Candidates of one Query partition, in the requested direction.
fn query_candidates<'a>(
    table: &'a Table,
    index: Option<usize>,
    hash: &KeyValue,
    op: Option<&'a KeyOp>,
    forward: bool,
) -> Box<dyn Iterator<Item = Candidate<'a>> + 'a> {
    match index {
        None => {
            let Some(partition) = table.partitions.get(hash) else {
                return Box::new(std::iter::empty());
            };
            let (lo, hi) = bounds(op);
            let range = partition.range((lo.map(Some), hi.map(Some)));
            let hash = hash.clone();
            let map = move |(r, (item, _)): (&'a Option<KeyValue>, &'a (Item, usize))| {
                ((hash.clone(), r.clone(), None), item)
            };
            let it = range.filter(move |(r, _)| sort_matches(op, r.as_ref()));
            if forward {
                Box::new(it.map(map))
            } else {
                Box::new(it.rev().map(map))
            }
        }
        Some(i) => {
            let Some(set) = table.indexes[i].entries.get(hash) else {
                return Box::new(std::iter::empty());
            };
            let hash = hash.clone();
            let map = move |(s, pk): &'a (Option<KeyValue>, PrimaryKey)| {
                table
                    .get(pk)
                    .map(|item| ((hash.clone(), s.clone(), Some(pk.clone())), item))
            };
            let it = set
                .iter()
                .filter(move |(s, _)| sort_matches(op, s.as_ref()));
            if forward {
                Box::new(it.filter_map(map))
            } else {
                Box::new(it.rev().filter_map(map))
            }
        }
    }
}

/// Every candidate of a table or index in key order, from the partition `from` on.
fn scan_candidates<'a>(
    table: &'a Table,
    index: Option<usize>,
    from: Option<&KeyValue>,
) -> Box<dyn Iterator<Item = Candidate<'a>> + 'a> {
    let lower = from.map_or(Bound::Unbounded, |h| Bound::Included(h.clone()));
    match index {
        None => Box::new(
            table
                .partitions
                .range((lower, Bound::Unbounded))
                .flat_map(|(h, p)| {
                    p.iter()
                        .map(move |(r, (item, _))| ((h.clone(), r.clone(), None), item))
                }),
        ),
        Some(i) => Box::new(
            table.indexes[i]
                .entries
                .range((lower, Bound::Unbounded))
                .flat_map(move |(h, set)| {
                    set.iter().filter_map(move |(s, pk)| {
                        table
                            .get(pk)
                            .map(|item| ((h.clone(), s.clone(), Some(pk.clone())), item))
                    })
                }),
        ),
    }
}

/// A stable segment number for a partition key (Scan's Segment/TotalSegments).
fn segment_of(hash: &KeyValue, total: u64) -> u64 {
    let bytes: Cow<'_, [u8]> = match hash {
        KeyValue::S(s) => Cow::Borrowed(s.as_bytes()),
        KeyValue::B(b) => Cow::Borrowed(b),
        KeyValue::N(n) => Cow::Owned(n.to_string().into_bytes()),
    };
    // FNV-1a: stable across runs, unlike the std hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes.iter() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % total.max(1)
}

/// Builds one page from `candidates`.
fn page<'a>(
    table: &'a Table,
    index: Option<usize>,
    spec: &ReadSpec,
    candidates: impl Iterator<Item = Candidate<'a>>,
) -> Value {
    let index_def = index.map(|i| &table.indexes[i].def);
    let mut items = Vec::new();
    let mut count = 0usize;
    let (mut scanned, mut bytes, mut stopped) = (0usize, 0usize, false);
    let mut last: Option<&Item> = None;
    for (_, item) in candidates {
        let view: Cow<'_, Item> = match index_def {
            Some(def) if spec.select != Select::All || def.global => {
                Cow::Owned(table.project(def, item).unwrap_or_default())
            }
            _ => Cow::Borrowed(item),
        };
        let size = item_size(&view);
        if scanned > 0 && bytes + size > PAGE_BYTES {
            stopped = true;
            break;
        }
        scanned += 1;
        bytes += size;
        last = Some(item);
        let matched = spec
            .filter
            .as_ref()
            .is_none_or(|f| f.evaluate(Some(&*view)));
        if matched {
            count += 1;
            if spec.select != Select::Count {
                items.push(match &spec.projection {
                    Some(p) => item_to_json(&p.apply(&view)),
                    None => item_to_json(&view),
                });
            }
        }
        if spec.limit == Some(scanned) {
            stopped = true;
            break;
        }
    }
    let mut response = json!({ "Count": count, "ScannedCount": scanned });
    if spec.select != Select::Count {
        response["Items"] = Value::Array(items);
    }
    if stopped && let Some(item) = last {
        let mut key = Item::new();
        let schemas = std::iter::once(&table.def.keys).chain(index_def.map(|d| &d.keys));
        for schema in schemas {
            for name in schema.names() {
                if let Some(v) = item.get(name) {
                    key.insert(name.to_owned(), v.clone());
                }
            }
        }
        response["LastEvaluatedKey"] = item_to_json(&key);
    }
    let mut consumed = Consumed::new(&table.def.name);
    let units = Units {
        read: read_units(bytes, spec.consistent),
        write: 0.0,
    };
    match index_def {
        Some(def) => consumed.add_index(&def.name, def.global, units),
        None => consumed.table_units = units,
    }
    capacity::attach(&mut response, &consumed, spec.mode);
    response["__consumed"] = json!(units.read);
    response
}

/// Records the page's consumption in the metrics and strips the internal member.
fn finish(inner: &Inner, table: &str, mut response: Value) -> Value {
    let read = response
        .as_object_mut()
        .and_then(|m| m.remove("__consumed"))
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let mut consumed = Consumed::new(table);
    consumed.table_units.read = read;
    inner.capacity.record(&consumed);
    response
}

/// `Query`.
pub fn query(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let mut inputs = inputs(body)?;
    let text = opt_str(body, "KeyConditionExpression")?.ok_or_else(|| {
        validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
    })?;
    let cond = expr::parse_key_condition(text, &mut inputs)?;
    let spec = parse_spec(body, &mut inputs)?;
    inputs.finish()?;
    let forward = opt_bool(body, "ScanIndexForward")?.unwrap_or(true);
    let tables = inner.read();
    let table = table_ref(&tables, &spec.table)?;
    let (keys, index) = resolve_index(table, &spec)?;
    let (hash, op) = key_condition(keys, cond)?;
    if let Some(filter) = &spec.filter
        && let Some(name) = filter
            .top_level_names()
            .into_iter()
            .find(|n| keys.contains(n))
    {
        return Err(validation(format!(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: {name}"
        )));
    }
    let start = match &spec.start {
        Some(s) => Some(start_position(table, index.map(|_| keys), s)?),
        None => None,
    };
    let candidates =
        query_candidates(table, index, &hash, op.as_ref(), forward).skip_while(|(pos, _)| {
            match &start {
                Some(s) if forward => pos <= s,
                Some(s) => pos >= s,
                None => false,
            }
        });
    let response = page(table, index, &spec, candidates);
    Ok(finish(inner, &spec.table, response))
}

/// `Scan`.
pub fn scan(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let mut inputs = inputs(body)?;
    let spec = parse_spec(body, &mut inputs)?;
    inputs.finish()?;
    let segment = opt_i64(body, "Segment")?;
    let total = opt_i64(body, "TotalSegments")?;
    let segments = match (segment, total) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
        (Some(s), Some(t)) => {
            if !(1..=1_000_000).contains(&t) {
                return Err(validation(format!(
                    "1 validation error detected: Value '{t}' at 'totalSegments' failed to satisfy constraint: Member must have value {}",
                    if t < 1 {
                        "greater than or equal to 1"
                    } else {
                        "less than or equal to 1000000"
                    }
                )));
            }
            if s < 0 || s >= t {
                return Err(validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
                )));
            }
            Some((s as u64, t as u64))
        }
    };
    let tables = inner.read();
    let table = table_ref(&tables, &spec.table)?;
    let (keys, index) = resolve_index(table, &spec)?;
    let start = match &spec.start {
        Some(s) => Some(start_position(table, index.map(|_| keys), s)?),
        None => None,
    };
    let candidates = scan_candidates(table, index, start.as_ref().map(|s| &s.0))
        .filter(|(pos, _)| segments.is_none_or(|(s, t)| segment_of(&pos.0, t) == s))
        .skip_while(|(pos, _)| start.as_ref().is_some_and(|s| pos <= s));
    let response = page(table, index, &spec, candidates);
    Ok(finish(inner, &spec.table, response))
}
