//! Key conditions: validating a parsed KeyConditionExpression against the key schema
//! being queried (partition key with `=`, at most one sort-key operator of the right
//! type, BETWEEN bounds in order, begins_with only on S/B) and turning the sort-key
//! operator into `BTreeMap` range bounds plus the prefix test `begins_with` needs.

use std::ops::Bound;

use super::errors::validation;
use super::expr::{self, KeyOp};
use super::schema::{KeySchema, ScalarType};
use super::storage::KeyValue;
use super::types::AttrValue;
use crate::error::AwsJsonError;

/// The (partition value, sort-key operator) of a KeyConditionExpression, validated
/// against the key schema being queried.
pub fn key_condition(
    keys: &KeySchema,
    cond: expr::KeyCondition,
) -> Result<(KeyValue, Option<KeyOp>), AwsJsonError> {
    let mut hash = None;
    let mut sort = None;
    if cond.parts.len() > 2 {
        return Err(validation("Conditions can be of length 1 or 2 only"));
    }
    for (name, op) in cond.parts {
        if name == keys.hash.name {
            match op {
                KeyOp::Eq(v) => hash = Some((v, keys.hash.ty)),
                _ => return Err(validation("Query key condition not supported")),
            }
        } else if let Some(r) = keys.range.as_ref().filter(|r| r.name == name) {
            sort = Some((op, r.ty));
        } else {
            return Err(validation("Query condition missed key schema element"));
        }
    }
    let (hash, hash_ty) = hash.ok_or_else(|| {
        validation(format!(
            "Query condition missed key schema element: {}",
            keys.hash.name
        ))
    })?;
    let mismatch = || {
        validation(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        )
    };
    if !hash_ty.matches(&hash) {
        return Err(mismatch());
    }
    if let Some((op, ty)) = &sort {
        let operands: Vec<&AttrValue> = match op {
            KeyOp::Eq(v) | KeyOp::Lt(v) | KeyOp::Le(v) | KeyOp::Gt(v) | KeyOp::Ge(v) => vec![v],
            KeyOp::BeginsWith(v) => {
                if *ty == ScalarType::N {
                    return Err(validation("Query key condition not supported"));
                }
                vec![v]
            }
            KeyOp::Between(a, b) => vec![a, b],
        };
        if operands.iter().any(|v| !ty.matches(v)) {
            return Err(mismatch());
        }
        if let KeyOp::Between(a, b) = op
            && KeyValue::from_attr(a) > KeyValue::from_attr(b)
        {
            return Err(validation(format!(
                "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}",
                a.to_json(),
                b.to_json()
            )));
        }
    }
    let hash = KeyValue::from_attr(&hash).ok_or_else(mismatch)?;
    Ok((hash, sort.map(|(op, _)| op)))
}

/// Range bounds of a sort-key operator (begins_with is a lower bound plus a prefix test).
pub fn bounds(op: Option<&KeyOp>) -> (Bound<KeyValue>, Bound<KeyValue>) {
    let kv = |v: &AttrValue| KeyValue::from_attr(v);
    match op {
        None => (Bound::Unbounded, Bound::Unbounded),
        Some(KeyOp::Eq(v)) => match kv(v) {
            Some(k) => (Bound::Included(k.clone()), Bound::Included(k)),
            None => (Bound::Unbounded, Bound::Unbounded),
        },
        Some(KeyOp::Lt(v)) => (
            Bound::Unbounded,
            kv(v).map_or(Bound::Unbounded, Bound::Excluded),
        ),
        Some(KeyOp::Le(v)) => (
            Bound::Unbounded,
            kv(v).map_or(Bound::Unbounded, Bound::Included),
        ),
        Some(KeyOp::Gt(v)) => (
            kv(v).map_or(Bound::Unbounded, Bound::Excluded),
            Bound::Unbounded,
        ),
        Some(KeyOp::Ge(v)) => (
            kv(v).map_or(Bound::Unbounded, Bound::Included),
            Bound::Unbounded,
        ),
        Some(KeyOp::Between(a, b)) => (
            kv(a).map_or(Bound::Unbounded, Bound::Included),
            kv(b).map_or(Bound::Unbounded, Bound::Included),
        ),
        Some(KeyOp::BeginsWith(v)) => (
            kv(v).map_or(Bound::Unbounded, Bound::Included),
            Bound::Unbounded,
        ),
    }
}

/// True when a sort key satisfies the operator (used for index walks and begins_with).
pub fn sort_matches(op: Option<&KeyOp>, sort: Option<&KeyValue>) -> bool {
    let (lo, hi) = bounds(op);
    let Some(s) = sort else { return op.is_none() };
    let above = match &lo {
        Bound::Included(l) => s >= l,
        Bound::Excluded(l) => s > l,
        Bound::Unbounded => true,
    };
    let below = match &hi {
        Bound::Included(h) => s <= h,
        Bound::Excluded(h) => s < h,
        Bound::Unbounded => true,
    };
    let prefix = match (op, s) {
        (Some(KeyOp::BeginsWith(AttrValue::S(p))), KeyValue::S(v)) => v.starts_with(p.as_str()),
        (Some(KeyOp::BeginsWith(AttrValue::B(p))), KeyValue::B(v)) => v.starts_with(p),
        (Some(KeyOp::BeginsWith(_)), _) => false,
        _ => true,
    };
    above && below && prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begins_with_matches_only_keys_with_the_prefix() {
        let op = KeyOp::BeginsWith(AttrValue::S("ab".into()));
        assert!(sort_matches(Some(&op), Some(&KeyValue::S("abc".into()))));
        assert!(!sort_matches(Some(&op), Some(&KeyValue::S("b".into()))));
        assert!(!sort_matches(Some(&op), Some(&KeyValue::S("a".into()))));
    }

    #[test]
    fn strings_compare_by_utf8_bytes_in_ranges() {
        // "¿" (0xC2 0xBF) sorts after "z" (0x7A), as on DynamoDB.
        let op = KeyOp::Gt(AttrValue::S("z".into()));
        assert!(sort_matches(Some(&op), Some(&KeyValue::S("¿".into()))));
        let op = KeyOp::Lt(AttrValue::S("a".into()));
        assert!(sort_matches(Some(&op), Some(&KeyValue::S("A".into()))));
    }
}
