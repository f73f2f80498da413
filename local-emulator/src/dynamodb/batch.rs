//! BatchGetItem (≤ 100 keys) and BatchWriteItem (≤ 25 puts/deletes).
//!
//! The whole batch is validated before anything is read or written (limits, duplicate
//! keys, key schemas). Keys come back unprocessed only when the throttle knob fires for
//! them (drawn per key; if it fires for every key the request fails with the table's
//! throttling error, as AWS does) or, for BatchGetItem, past 16 MB of response.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::Inner;
use super::capacity::{self, Consumed, Mode};
use super::errors::validation;
use super::expr::{self, ExprInputs};
use super::items::item_member;
use super::request::{Body, as_obj, expr_members, opt_bool, opt_str, req_obj};
use super::storage::{PrimaryKey, read_units};
use super::types::{Item, item_size, item_to_json};
use super::write::{self, Action, Failure, WriteOp, table_mut, table_ref};
use crate::error::AwsJsonError;

/// Most keys in one BatchGetItem.
const MAX_GET_KEYS: usize = 100;
/// Most requests in one BatchWriteItem.
const MAX_WRITES: usize = 25;
/// Largest BatchGetItem response before the rest is left unprocessed.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// AWS's message for a repeated key.
const DUPLICATES: &str = "Provided list of item keys contains duplicates";

fn request_items(body: &Body) -> Result<&Body, AwsJsonError> {
    let items = req_obj(body, "RequestItems")?;
    if items.is_empty() {
        return Err(validation(
            "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    Ok(items)
}

/// `BatchGetItem`.
pub fn batch_get_item(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let requests = request_items(body)?;
    let mode = Mode::parse(body)?;
    struct TableGet<'a> {
        name: &'a str,
        spec: &'a Body,
        keys: Vec<Item>,
        projection: Option<expr::Projection>,
        consistent: bool,
    }
    let mut gets = Vec::new();
    let mut total = 0;
    for (name, spec) in requests {
        let spec = as_obj(spec, "RequestItems")?;
        let keys_json = super::request::req_arr(spec, "Keys")?;
        total += keys_json.len();
        if total > MAX_GET_KEYS {
            return Err(validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
        let keys = keys_json
            .iter()
            .map(item_from)
            .collect::<Result<Vec<_>, _>>()?;
        let (names, _) = expr_members(spec)?;
        let mut inputs = ExprInputs::from_request(names, None)?;
        let projection = opt_str(spec, "ProjectionExpression")?
            .map(|t| expr::parse_projection(t, &mut inputs))
            .transpose()?;
        inputs.finish()?;
        let consistent = opt_bool(spec, "ConsistentRead")?.unwrap_or(false);
        gets.push(TableGet {
            name,
            spec,
            keys,
            projection,
            consistent,
        });
    }
    let mut responses = Map::new();
    let mut unprocessed = Map::new();
    let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
    let mut response_bytes = 0;
    let mut throttled_all = true;
    {
        let tables = inner.read();
        for get in &gets {
            let table = table_ref(&tables, get.name)?;
            let mut seen = BTreeSet::new();
            for key in &get.keys {
                table.def.keys.check_key(key)?;
                let pk = PrimaryKey::of(&table.def.keys, key).ok_or_else(|| {
                    validation("The provided key element does not match the schema")
                })?;
                if !seen.insert(pk) {
                    return Err(validation(DUPLICATES));
                }
            }
            let mut found = Vec::new();
            let mut left = Vec::new();
            let c = consumed
                .entry(get.name.to_owned())
                .or_insert_with(|| Consumed::new(get.name));
            for key in &get.keys {
                if response_bytes > MAX_RESPONSE_BYTES || inner.throttle_fires() {
                    left.push(item_to_json(key));
                    continue;
                }
                throttled_all = false;
                let pk = PrimaryKey::of(&table.def.keys, key);
                let item = pk.as_ref().and_then(|pk| table.get(pk));
                let size = item.map_or(0, item_size);
                c.table_units.read += read_units(size, get.consistent);
                if let Some(item) = item {
                    response_bytes += size;
                    let item = match &get.projection {
                        Some(p) => p.apply(item),
                        None => item.clone(),
                    };
                    found.push(item_to_json(&item));
                }
            }
            responses.insert(get.name.to_owned(), Value::Array(found));
            if !left.is_empty() {
                let mut spec = get.spec.clone();
                spec.insert("Keys".into(), Value::Array(left));
                unprocessed.insert(get.name.to_owned(), Value::Object(spec));
            }
        }
    }
    if throttled_all && let Some(first) = gets.first() {
        return Err(inner.throttle_error(first.name));
    }
    for c in consumed.values() {
        inner.capacity.record(c);
    }
    let mut response = json!({ "Responses": responses, "UnprocessedKeys": unprocessed });
    capacity::attach_list(&mut response, &consumed, mode);
    Ok(response)
}

fn item_from(v: &Value) -> Result<Item, AwsJsonError> {
    super::types::item_from_json(v)
}

/// `BatchWriteItem`.
pub fn batch_write_item(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let requests = request_items(body)?;
    let mode = Mode::parse(body)?;
    let mut ops: Vec<(WriteOp, Value)> = Vec::new();
    for (name, list) in requests {
        let list = list.as_array().ok_or_else(|| {
            super::errors::serialization(
                "Unexpected value type in payload for member RequestItems: expected list",
            )
        })?;
        if list.len() > MAX_WRITES {
            return Err(validation(format!(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {MAX_WRITES}, Member must have length greater than or equal to 1]"
            )));
        }
        for req in list {
            let r = as_obj(req, "WriteRequest")?;
            let put = r.get("PutRequest").and_then(Value::as_object);
            let delete = r.get("DeleteRequest").and_then(Value::as_object);
            let op = match (put, delete) {
                (Some(p), None) => {
                    let item = item_member(p, "Item")?;
                    WriteOp {
                        table: name.clone(),
                        key: item.clone(),
                        action: Action::Put(item),
                        condition: None,
                    }
                }
                (None, Some(d)) => WriteOp {
                    table: name.clone(),
                    key: item_member(d, "Key")?,
                    action: Action::Delete,
                    condition: None,
                },
                _ => {
                    return Err(validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ));
                }
            };
            ops.push((op, req.clone()));
        }
    }
    if ops.len() > MAX_WRITES {
        return Err(validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    if ops.is_empty() {
        return Err(validation(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length greater than or equal to 1]",
        ));
    }
    let mut unprocessed: Map<String, Value> = Map::new();
    let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
    let mut throttled_all = true;
    {
        let mut tables = inner.write();
        // Validate every key and reject duplicates before writing anything.
        let mut seen = BTreeSet::new();
        for (op, _) in &ops {
            let table = table_mut(&mut tables, &op.table)?;
            let pk = write::key_of(table, op)?;
            if let Action::Put(item) = &op.action {
                if item_size(item) > write::MAX_ITEM_BYTES {
                    return Err(validation(
                        "Item size has exceeded the maximum allowed size",
                    ));
                }
                table.check_index_keys(item)?;
            }
            if !seen.insert((op.table.clone(), pk)) {
                return Err(validation(DUPLICATES));
            }
        }
        for (op, raw) in &ops {
            if inner.throttle_fires() {
                if let Some(list) = unprocessed
                    .entry(op.table.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                    .as_array_mut()
                {
                    list.push(raw.clone());
                }
                continue;
            }
            throttled_all = false;
            let table = table_mut(&mut tables, &op.table)?;
            let planned = match write::plan(table, op) {
                Ok(p) => p,
                Err(Failure::Invalid(e)) => return Err(e),
                Err(Failure::Condition(..)) => continue,
            };
            write::apply(table, &planned);
            consumed
                .entry(op.table.clone())
                .or_insert_with(|| Consumed::new(&op.table))
                .merge(&planned.consumed);
        }
    }
    if throttled_all && let Some((op, _)) = ops.first() {
        return Err(inner.throttle_error(&op.table));
    }
    for c in consumed.values() {
        inner.capacity.record(c);
    }
    let mut response = json!({ "UnprocessedItems": unprocessed });
    capacity::attach_list(&mut response, &consumed, mode);
    Ok(response)
}
