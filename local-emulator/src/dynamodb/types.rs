//! DynamoDB attribute values (placeholder, filled in next).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::AwsJsonError;

use super::errors::validation;
use super::number::Number;

/// One DynamoDB attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrValue {
    /// String.
    S(String),
    /// Number.
    N(Number),
    /// Binary.
    B(Vec<u8>),
    /// Boolean.
    Bool(bool),
    /// Null.
    Null,
    /// List.
    L(Vec<AttrValue>),
    /// Map.
    M(BTreeMap<String, AttrValue>),
    /// String set (non-empty, no duplicates).
    Ss(Vec<String>),
    /// Number set (non-empty, no duplicates).
    Ns(Vec<Number>),
    /// Binary set (non-empty, no duplicates).
    Bs(Vec<Vec<u8>>),
}

/// An item: attribute name to value.
pub type Item = BTreeMap<String, AttrValue>;

impl AttrValue {
    /// Parses the wire form `{"S": "..."}` etc.
    pub fn from_json(_v: &Value) -> Result<AttrValue, AwsJsonError> {
        Err(validation("not yet"))
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        Value::Null
    }

    /// The type descriptor.
    pub fn type_name(&self) -> &'static str {
        "S"
    }

    /// Size in bytes per AWS's item-size rules.
    pub fn size(&self) -> usize {
        0
    }
}

/// Parses an item (`{"name": {"S": "..."}, ...}`).
pub fn item_from_json(_v: &Value) -> Result<Item, AwsJsonError> {
    Err(validation("not yet"))
}

/// The wire form of an item.
pub fn item_to_json(_item: &Item) -> Value {
    Value::Null
}

/// Item size per AWS rules (names + values).
pub fn item_size(_item: &Item) -> usize {
    0
}

/// Orders two scalars of the same type (S, N, B); `None` otherwise.
pub fn compare_scalar(_a: &AttrValue, _b: &AttrValue) -> Option<Ordering> {
    None
}

/// Parses `ExpressionAttributeValues`.
pub fn attr_map_from_json(_v: &Value) -> Result<BTreeMap<String, AttrValue>, AwsJsonError> {
    Err(validation("not yet"))
}
