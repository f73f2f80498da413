//! TransactWriteItems and TransactGetItems.
//!
//! A write transaction is planned in full under the tables' write lock — every condition
//! evaluated, every new item computed — and applied only if every action succeeded, so it
//! is all-or-nothing and isolated. A failed plan answers `TransactionCanceledException`
//! with one reason per action, in action order. Capacity is twice the standard cost.
//!
//! `ClientRequestToken`: a successful transaction's response is remembered for 10
//! minutes of emulated time; the same token with the same `TransactItems` returns it
//! again without re-executing, with different items it is an
//! `IdempotentParameterMismatchException`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::Inner;
use super::capacity::{self, Consumed, Mode};
use super::errors::{CONDITIONAL_CHECK_FAILED_MESSAGE, validation};
use super::expr::{self, ExprInputs};
use super::faults::{idempotent_parameter_mismatch, transaction_canceled};
use super::items::{condition, item_member};
use super::request::{Body, as_obj, expr_members, opt_enum, opt_str, req_arr, req_str};
use super::storage::{PrimaryKey, read_units};
use super::types::{item_size, item_to_json};
use super::write::{self, Action, Failure, WriteOp, table_ref};
use crate::error::AwsJsonError;

/// Most actions per transaction.
const MAX_ACTIONS: usize = 100;
/// How long a ClientRequestToken is remembered, seconds.
const TOKEN_TTL_SECS: f64 = 600.0;
/// Transactions cost twice the standard units.
const TRANSACTION_FACTOR: f64 = 2.0;

/// A remembered ClientRequestToken.
#[derive(Debug, Clone)]
pub struct TokenEntry {
    items: Value,
    at: f64,
    response: Value,
}

fn check_count(items: &[Value]) -> Result<(), AwsJsonError> {
    if items.is_empty() || items.len() > MAX_ACTIONS {
        let bound = if items.is_empty() {
            "greater than or equal to 1".to_owned()
        } else {
            format!("less than or equal to {MAX_ACTIONS}")
        };
        return Err(validation(format!(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length {bound}"
        )));
    }
    Ok(())
}

/// One parsed write action and whether it wants the old item on condition failure.
fn parse_action(v: &Value) -> Result<(WriteOp, bool), AwsJsonError> {
    let action = as_obj(v, "TransactItems")?;
    let present: Vec<&str> = ["ConditionCheck", "Put", "Delete", "Update"]
        .into_iter()
        .filter(|k| action.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    let [kind] = present.as_slice() else {
        return Err(validation(
            "TransactItems can only contain one of Check, Put, Update or Delete",
        ));
    };
    let body = as_obj(&action[*kind], kind)?;
    let table = req_str(body, "TableName")?.to_owned();
    let (names, values) = expr_members(body)?;
    let mut inputs = ExprInputs::from_request(names, values)?;
    let old_on_failure = opt_enum(
        body,
        "ReturnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    )? == Some("ALL_OLD");
    let op = match *kind {
        "Put" => {
            let item = item_member(body, "Item")?;
            let condition = condition(body, &mut inputs)?;
            WriteOp {
                table,
                key: item.clone(),
                action: Action::Put(item),
                condition,
            }
        }
        "Delete" => {
            let key = item_member(body, "Key")?;
            let condition = condition(body, &mut inputs)?;
            WriteOp {
                table,
                key,
                action: Action::Delete,
                condition,
            }
        }
        "Update" => {
            let key = item_member(body, "Key")?;
            let text = req_str(body, "UpdateExpression")?;
            let update = expr::parse_update(text, &mut inputs)?;
            let condition = condition(body, &mut inputs)?;
            WriteOp {
                table,
                key,
                action: Action::Update(Some(update)),
                condition,
            }
        }
        _ => {
            let key = item_member(body, "Key")?;
            let text = req_str(body, "ConditionExpression")?;
            let condition = Some(expr::parse_condition(text, &mut inputs)?);
            WriteOp {
                table,
                key,
                action: Action::Check,
                condition,
            }
        }
    };
    inputs.finish()?;
    Ok((op, old_on_failure))
}

/// `TransactWriteItems`.
pub fn transact_write_items(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let items = req_arr(body, "TransactItems")?;
    check_count(items)?;
    let mode = Mode::parse(body)?;
    let token = opt_str(body, "ClientRequestToken")?;
    let now = inner.now_secs();
    if let Some(token) = token {
        let mut tokens = inner.tokens();
        tokens.retain(|_, e| now - e.at < TOKEN_TTL_SECS);
        if let Some(entry) = tokens.get(token) {
            if entry.items != Value::Array(items.clone()) {
                return Err(idempotent_parameter_mismatch());
            }
            return Ok(entry.response.clone());
        }
    }
    let actions = items
        .iter()
        .map(parse_action)
        .collect::<Result<Vec<_>, _>>()?;
    let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
    {
        let mut tables = inner.write();
        let mut seen = BTreeSet::new();
        for (op, _) in &actions {
            let table = table_ref(&tables, &op.table)?;
            let pk = write::key_of(table, op)?;
            if !seen.insert((op.table.clone(), pk)) {
                return Err(validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            if let Action::Update(Some(update)) = &op.action
                && let Some(name) = update
                    .touched_top_level_names()
                    .into_iter()
                    .find(|n| table.def.keys.contains(n))
            {
                return Err(validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
                )));
            }
        }
        let mut plans = Vec::with_capacity(actions.len());
        let mut failed = false;
        for (op, _) in &actions {
            let table = table_ref(&tables, &op.table)?;
            let plan = write::plan(table, op);
            failed |= plan.is_err();
            plans.push(plan);
        }
        if failed {
            let reasons = plans
                .iter()
                .zip(&actions)
                .map(|(plan, (_, old_on_failure))| match plan {
                    Ok(_) => json!({ "Code": "None" }),
                    Err(Failure::Condition(old, _)) => {
                        let mut r = json!({
                            "Code": "ConditionalCheckFailed",
                            "Message": CONDITIONAL_CHECK_FAILED_MESSAGE,
                        });
                        if let Some(old) = old.as_ref().filter(|_| *old_on_failure) {
                            r["Item"] = item_to_json(old);
                        }
                        r
                    }
                    Err(Failure::Invalid(e)) => {
                        json!({ "Code": "ValidationError", "Message": e.message })
                    }
                })
                .collect();
            return Err(transaction_canceled(reasons));
        }
        for plan in plans.into_iter().flatten() {
            let table = write::table_mut(&mut tables, &plan.table)?;
            write::apply(table, &plan);
            let mut c = plan.consumed.clone();
            c.scale(TRANSACTION_FACTOR);
            consumed
                .entry(plan.table.clone())
                .or_insert_with(|| Consumed::new(&plan.table))
                .merge(&c);
        }
    }
    for c in consumed.values() {
        inner.capacity.record(c);
    }
    let mut response = json!({});
    capacity::attach_list(&mut response, &consumed, mode);
    if let Some(token) = token {
        inner.tokens().insert(
            token.to_owned(),
            TokenEntry {
                items: Value::Array(items.clone()),
                at: now,
                response: response.clone(),
            },
        );
    }
    Ok(response)
}

/// `TransactGetItems`.
pub fn transact_get_items(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let items = req_arr(body, "TransactItems")?;
    check_count(items)?;
    let mode = Mode::parse(body)?;
    let mut gets = Vec::with_capacity(items.len());
    for v in items {
        let action = as_obj(v, "TransactItems")?;
        let get = action
            .get("Get")
            .and_then(Value::as_object)
            .ok_or_else(|| super::request::missing("Get"))?;
        let table = req_str(get, "TableName")?.to_owned();
        let key = item_member(get, "Key")?;
        let (names, _) = expr_members(get)?;
        let mut inputs = ExprInputs::from_request(names, None)?;
        let projection = opt_str(get, "ProjectionExpression")?
            .map(|t| expr::parse_projection(t, &mut inputs))
            .transpose()?;
        inputs.finish()?;
        gets.push((table, key, projection));
    }
    let mut responses = Vec::with_capacity(gets.len());
    let mut consumed: BTreeMap<String, Consumed> = BTreeMap::new();
    {
        let tables = inner.read();
        let mut seen = BTreeSet::new();
        for (name, key, projection) in &gets {
            let table = table_ref(&tables, name)?;
            table.def.keys.check_key(key)?;
            let pk = PrimaryKey::of(&table.def.keys, key)
                .ok_or_else(|| validation("The provided key element does not match the schema"))?;
            if !seen.insert((name.clone(), pk.clone())) {
                return Err(validation(
                    "Transaction request cannot include multiple operations on one item",
                ));
            }
            let item = table.get(&pk);
            let c = consumed
                .entry(name.clone())
                .or_insert_with(|| Consumed::new(name));
            c.table_units.read += TRANSACTION_FACTOR * read_units(item.map_or(0, item_size), true);
            responses.push(match item {
                Some(item) => {
                    let item = projection
                        .as_ref()
                        .map_or_else(|| item.clone(), |p| p.apply(item));
                    json!({ "Item": item_to_json(&item) })
                }
                None => json!({}),
            });
        }
    }
    for c in consumed.values() {
        inner.capacity.record(c);
    }
    let mut response = json!({ "Responses": responses });
    capacity::attach_list(&mut response, &consumed, mode);
    Ok(response)
}
