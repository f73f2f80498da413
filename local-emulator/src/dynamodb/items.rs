//! PutItem, GetItem, UpdateItem and DeleteItem.
//!
//! Each handler parses and validates everything it can (JSON shapes, expressions, unused
//! names/values) before taking the tables' lock, then plans and applies the write under
//! it (see [`super::write`]).

use serde_json::{Value, json};

use super::Inner;
use super::capacity::{self, Consumed, Mode, Units};
use super::errors::{conditional_check_failed, validation};
use super::expr::{self, ExprInputs, Projection};
use super::request::{Body, expr_members, missing, opt_bool, opt_enum, opt_str};
use super::storage::{PrimaryKey, read_units};
use super::types::{Item, item_from_json, item_size, item_to_json};
use super::write::{self, Action, Failure, WriteOp};
use crate::error::AwsJsonError;

/// `ReturnValues` values.
const RETURN_VALUES: &[&str] = &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"];

/// Legacy (pre-expression) parameters this emulator refuses rather than ignores: silently
/// dropping a condition would make a conditional write unconditional.
const LEGACY: &[&str] = &[
    "Expected",
    "AttributeUpdates",
    "AttributesToGet",
    "KeyConditions",
    "QueryFilter",
    "ScanFilter",
    "ConditionalOperator",
];

/// Rejects legacy parameters.
pub fn reject_legacy(body: &Body) -> Result<(), AwsJsonError> {
    match LEGACY.iter().find(|p| body.contains_key(**p)) {
        Some(p) => Err(validation(format!(
            "The legacy parameter {p} is not supported by shardwise-local; use expressions"
        ))),
        None => Ok(()),
    }
}

/// Parses an item-valued member (`Item`, `Key`).
pub fn item_member(body: &Body, name: &str) -> Result<Item, AwsJsonError> {
    let v = body
        .get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| missing(name))?;
    item_from_json(v)
}

/// `ReturnValuesOnConditionCheckFailure` is ALL_OLD.
pub fn wants_old_on_failure(body: &Body) -> Result<bool, AwsJsonError> {
    Ok(opt_enum(
        body,
        "ReturnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    )? == Some("ALL_OLD"))
}

/// The optional `ConditionExpression`.
pub fn condition(
    body: &Body,
    inputs: &mut ExprInputs,
) -> Result<Option<expr::Condition>, AwsJsonError> {
    opt_str(body, "ConditionExpression")?
        .map(|t| expr::parse_condition(t, inputs))
        .transpose()
}

/// Members that hold expressions.
const EXPRESSION_MEMBERS: &[&str] = &[
    "ConditionExpression",
    "UpdateExpression",
    "ProjectionExpression",
    "KeyConditionExpression",
    "FilterExpression",
];

/// Expression inputs of a request. Names or values without any expression are refused
/// with AWS's own message rather than reported as unused.
pub fn inputs(body: &Body) -> Result<ExprInputs, AwsJsonError> {
    let (names, values) = expr_members(body)?;
    if !EXPRESSION_MEMBERS
        .iter()
        .any(|m| body.get(*m).is_some_and(|v| !v.is_null()))
    {
        if names.is_some() {
            return Err(validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        if values.is_some() {
            return Err(validation(
                "ExpressionAttributeValues can only be specified when using expressions",
            ));
        }
    }
    ExprInputs::from_request(names, values)
}

/// `ReturnValues`, restricted to `allowed` for this operation.
fn return_values<'a>(body: &'a Body, allowed: &[&str]) -> Result<&'a str, AwsJsonError> {
    let rv = opt_enum(body, "ReturnValues", RETURN_VALUES)?.unwrap_or("NONE");
    if !allowed.contains(&rv) {
        return Err(validation("ReturnValues can only be ALL_OLD or NONE"));
    }
    Ok(rv)
}

/// Runs one single-item write and shapes its response.
fn run_write(
    inner: &Inner,
    op: &WriteOp,
    rv: &str,
    updated: Option<&Projection>,
    old_on_failure: bool,
    mode: Mode,
) -> Result<Value, AwsJsonError> {
    let result = {
        let mut tables = inner.write();
        let table = write::table_mut(&mut tables, &op.table)?;
        match write::plan(table, op) {
            Ok(planned) => {
                write::apply(table, &planned);
                Ok(planned)
            }
            Err(f) => Err(f),
        }
    };
    let planned = match result {
        Ok(p) => p,
        Err(Failure::Invalid(e)) => return Err(e),
        Err(Failure::Condition(old, consumed)) => {
            inner.capacity.record(&consumed);
            let item = old.filter(|_| old_on_failure).map(|i| item_to_json(&i));
            return Err(conditional_check_failed(item));
        }
    };
    inner.capacity.record(&planned.consumed);
    let attributes: Option<Item> = match rv {
        "ALL_OLD" => planned.old.clone(),
        "ALL_NEW" => planned.new.clone(),
        "UPDATED_OLD" => planned.old.as_ref().zip(updated).map(|(o, p)| p.apply(o)),
        "UPDATED_NEW" => planned.new.as_ref().zip(updated).map(|(n, p)| p.apply(n)),
        _ => None,
    };
    let mut response = json!({});
    if let Some(attrs) = attributes.filter(|a| !a.is_empty()) {
        response["Attributes"] = item_to_json(&attrs);
    }
    capacity::attach(&mut response, &planned.consumed, mode);
    Ok(response)
}

/// `PutItem`.
pub fn put_item(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    reject_legacy(body)?;
    let table = super::request::req_str(body, "TableName")?;
    let item = item_member(body, "Item")?;
    let rv = return_values(body, &["NONE", "ALL_OLD"])?;
    let old_on_failure = wants_old_on_failure(body)?;
    let mode = Mode::parse(body)?;
    let mut inputs = inputs(body)?;
    let condition = condition(body, &mut inputs)?;
    inputs.finish()?;
    let op = WriteOp {
        table: table.to_owned(),
        key: item.clone(),
        action: Action::Put(item),
        condition,
    };
    run_write(inner, &op, rv, None, old_on_failure, mode)
}

/// `DeleteItem`.
pub fn delete_item(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    reject_legacy(body)?;
    let table = super::request::req_str(body, "TableName")?;
    let key = item_member(body, "Key")?;
    let rv = return_values(body, &["NONE", "ALL_OLD"])?;
    let old_on_failure = wants_old_on_failure(body)?;
    let mode = Mode::parse(body)?;
    let mut inputs = inputs(body)?;
    let condition = condition(body, &mut inputs)?;
    inputs.finish()?;
    let op = WriteOp {
        table: table.to_owned(),
        key,
        action: Action::Delete,
        condition,
    };
    run_write(inner, &op, rv, None, old_on_failure, mode)
}

/// `UpdateItem` (an upsert: a missing item is created from its key).
pub fn update_item(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    reject_legacy(body)?;
    let table = super::request::req_str(body, "TableName")?;
    let key = item_member(body, "Key")?;
    let rv = return_values(body, RETURN_VALUES)?;
    let old_on_failure = wants_old_on_failure(body)?;
    let mode = Mode::parse(body)?;
    let mut inputs = inputs(body)?;
    let update = opt_str(body, "UpdateExpression")?
        .map(|t| expr::parse_update(t, &mut inputs))
        .transpose()?;
    let condition = condition(body, &mut inputs)?;
    inputs.finish()?;
    let updated = update.as_ref().map(expr::UpdateExpr::updated_projection);
    let op = WriteOp {
        table: table.to_owned(),
        key,
        action: Action::Update(update),
        condition,
    };
    run_write(inner, &op, rv, updated.as_ref(), old_on_failure, mode)
}

/// `GetItem`.
pub fn get_item(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    reject_legacy(body)?;
    let table_name = super::request::req_str(body, "TableName")?;
    let key = item_member(body, "Key")?;
    let consistent = opt_bool(body, "ConsistentRead")?.unwrap_or(false);
    let mode = Mode::parse(body)?;
    let mut inputs = inputs(body)?;
    let projection = opt_str(body, "ProjectionExpression")?
        .map(|t| expr::parse_projection(t, &mut inputs))
        .transpose()?;
    inputs.finish()?;
    let (item, consumed) = {
        let tables = inner.read();
        let table = write::table_ref(&tables, table_name)?;
        table.def.keys.check_key(&key)?;
        let pk = PrimaryKey::of(&table.def.keys, &key)
            .ok_or_else(|| validation("The provided key element does not match the schema"))?;
        let item = table.get(&pk);
        let mut consumed = Consumed::new(table_name);
        consumed.table_units = Units {
            read: read_units(item.map_or(0, item_size), consistent),
            write: 0.0,
        };
        let item = item.map(|i| match &projection {
            Some(p) => p.apply(i),
            None => i.clone(),
        });
        (item, consumed)
    };
    inner.capacity.record(&consumed);
    let mut response = json!({});
    if let Some(item) = item {
        response["Item"] = item_to_json(&item);
    }
    capacity::attach(&mut response, &consumed, mode);
    Ok(response)
}
