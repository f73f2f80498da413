//! Key condition expressions: the condition grammar restricted to what Query can use —
//! `=` / `<` / `<=` / `>` / `>=` / `BETWEEN` / `begins_with` on top-level attributes,
//! joined by `AND`. Messages follow DynamoDB (via dynalite's AWS-checked validations).
//! Matching the parts against the table's key schema is the service's job.

use crate::dynamodb::errors::validation;
use crate::dynamodb::types::AttrValue;
use crate::error::AwsJsonError;

use super::condition::{CmpOp, Cond, Operand};
use super::path::Path;
use super::{KeyCondition, KeyOp};

const PREFIX: &str = "Invalid condition in KeyConditionExpression: ";

fn invalid_operator(name: &str) -> AwsJsonError {
    validation(format!(
        "Invalid operator used in KeyConditionExpression: {name}"
    ))
}

/// Converts a parsed condition into key-condition parts.
pub fn from_condition(cond: Cond) -> Result<KeyCondition, AwsJsonError> {
    let mut parts = Vec::new();
    collect(cond, &mut parts)?;
    Ok(KeyCondition { parts })
}

fn collect(cond: Cond, parts: &mut Vec<(String, KeyOp)>) -> Result<(), AwsJsonError> {
    let (name, op) = match cond {
        Cond::And(a, b) => {
            collect(*a, parts)?;
            return collect(*b, parts);
        }
        Cond::Or(..) => return Err(invalid_operator("OR")),
        Cond::Not(..) => return Err(invalid_operator("NOT")),
        Cond::In(..) => return Err(invalid_operator("IN")),
        Cond::Compare(CmpOp::Ne, ..) => return Err(invalid_operator("<>")),
        Cond::Exists(_) => return Err(invalid_operator("attribute_exists")),
        Cond::NotExists(_) => return Err(invalid_operator("attribute_not_exists")),
        Cond::Type(..) => return Err(invalid_operator("attribute_type")),
        Cond::Contains(..) => return Err(invalid_operator("contains")),
        Cond::Compare(op, a, b) => compare(op, a, b)?,
        Cond::Between(x, low, high) => {
            let name = key_first(x, "BETWEEN")?;
            (name, KeyOp::Between(value(low)?, value(high)?))
        }
        Cond::BeginsWith(x, prefix) => {
            let name = key_first(x, "begins_with")?;
            (name, KeyOp::BeginsWith(value(prefix)?))
        }
    };
    if parts.iter().any(|(existing, _)| *existing == name) {
        return Err(validation(
            "KeyConditionExpressions must only contain one condition per key",
        ));
    }
    parts.push((name, op));
    Ok(())
}

fn nested() -> AwsJsonError {
    validation("KeyConditionExpressions cannot contain nested operations")
}

fn top_level(path: Path) -> Result<String, AwsJsonError> {
    if !path.is_top_level() {
        return Err(validation(
            "KeyConditionExpressions cannot have conditions on nested attributes",
        ));
    }
    Ok(path.top().to_owned())
}

fn value(operand: Operand) -> Result<AttrValue, AwsJsonError> {
    match operand {
        Operand::Value(v) => Ok(v),
        Operand::Size(_) => Err(nested()),
        Operand::Path(_) => Err(validation(format!(
            "{PREFIX}Multiple attribute names used in one condition"
        ))),
    }
}

fn key_first(operand: Operand, operator: &str) -> Result<String, AwsJsonError> {
    match operand {
        Operand::Path(path) => top_level(path),
        Operand::Size(_) => Err(nested()),
        Operand::Value(_) => Err(validation(format!(
            "{PREFIX}{operator} operator must have the key attribute as its first operand"
        ))),
    }
}

fn compare(op: CmpOp, a: Operand, b: Operand) -> Result<(String, KeyOp), AwsJsonError> {
    if matches!(a, Operand::Size(_)) || matches!(b, Operand::Size(_)) {
        return Err(nested());
    }
    // `:v < k` is `k > :v`.
    let (path, v, op) = match (a, b) {
        (Operand::Path(p), Operand::Value(v)) => (p, v, op),
        (Operand::Value(v), Operand::Path(p)) => {
            let flipped = match op {
                CmpOp::Lt => CmpOp::Gt,
                CmpOp::Le => CmpOp::Ge,
                CmpOp::Gt => CmpOp::Lt,
                CmpOp::Ge => CmpOp::Le,
                other => other,
            };
            (p, v, flipped)
        }
        (Operand::Path(_), Operand::Path(_)) => {
            return Err(validation(format!(
                "{PREFIX}Multiple attribute names used in one condition"
            )));
        }
        _ => {
            return Err(validation(format!("{PREFIX}No key attribute specified")));
        }
    };
    let name = top_level(path)?;
    let op = match op {
        CmpOp::Eq => KeyOp::Eq(v),
        CmpOp::Lt => KeyOp::Lt(v),
        CmpOp::Le => KeyOp::Le(v),
        CmpOp::Gt => KeyOp::Gt(v),
        CmpOp::Ge => KeyOp::Ge(v),
        CmpOp::Ne => return Err(invalid_operator("<>")),
    };
    Ok((name, op))
}
