//! DynamoDB expressions (placeholder, filled in next).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::AwsJsonError;

use super::errors::validation;
use super::types::{AttrValue, Item};

/// ExpressionAttributeNames / ExpressionAttributeValues of one request, with use tracking.
#[derive(Debug, Clone, Default)]
pub struct ExprInputs {
    names: Option<BTreeMap<String, String>>,
    values: Option<BTreeMap<String, AttrValue>>,
}

impl ExprInputs {
    /// Validates and captures the two request members.
    pub fn from_request(
        _names: Option<&Value>,
        _values: Option<&Value>,
    ) -> Result<ExprInputs, AwsJsonError> {
        Ok(ExprInputs::default())
    }

    /// Fails when a provided name or value was not used by any expression.
    pub fn finish(&self) -> Result<(), AwsJsonError> {
        let _ = (&self.names, &self.values);
        Ok(())
    }
}

/// A parsed condition / filter expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {}

impl Condition {
    /// Evaluates against an item (`None`: the item does not exist).
    pub fn evaluate(&self, _item: Option<&Item>) -> bool {
        false
    }
}

/// A parsed update expression.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateExpr {}

impl UpdateExpr {
    /// Applies the update in place.
    pub fn apply(&self, _item: &mut Item) -> Result<(), AwsJsonError> {
        Err(validation("not yet"))
    }

    /// Top-level attribute names the update touches.
    pub fn touched_top_level_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// The paths the update touches, as a projection (ReturnValues UPDATED_*).
    pub fn updated_projection(&self) -> Projection {
        Projection {}
    }
}

/// A parsed projection expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {}

impl Projection {
    /// Keeps only the projected paths.
    pub fn apply(&self, item: &Item) -> Item {
        item.clone()
    }
}

/// A parsed key condition expression: 1 or 2 parts joined by AND.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    /// (attribute name, operator) pairs.
    pub parts: Vec<(String, KeyOp)>,
}

/// One key condition operator.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyOp {
    /// `=`
    Eq(AttrValue),
    /// `<`
    Lt(AttrValue),
    /// `<=`
    Le(AttrValue),
    /// `>`
    Gt(AttrValue),
    /// `>=`
    Ge(AttrValue),
    /// `BETWEEN a AND b`
    Between(AttrValue, AttrValue),
    /// `begins_with(k, v)`
    BeginsWith(AttrValue),
}

/// Parses a ConditionExpression.
pub fn parse_condition(_text: &str, _inputs: &mut ExprInputs) -> Result<Condition, AwsJsonError> {
    Err(validation("not yet"))
}

/// Parses a FilterExpression.
pub fn parse_filter(_text: &str, _inputs: &mut ExprInputs) -> Result<Condition, AwsJsonError> {
    Err(validation("not yet"))
}

/// Parses an UpdateExpression.
pub fn parse_update(_text: &str, _inputs: &mut ExprInputs) -> Result<UpdateExpr, AwsJsonError> {
    Err(validation("not yet"))
}

/// Parses a ProjectionExpression.
pub fn parse_projection(
    _text: &str,
    _inputs: &mut ExprInputs,
) -> Result<Projection, AwsJsonError> {
    Err(validation("not yet"))
}

/// Parses a KeyConditionExpression.
pub fn parse_key_condition(
    _text: &str,
    _inputs: &mut ExprInputs,
) -> Result<KeyCondition, AwsJsonError> {
    Err(validation("not yet"))
}
