//! DynamoDB's expression languages: condition/filter, key condition, update and
//! projection expressions, with `ExpressionAttributeNames`/`Values` handling.
//!
//! ## Layout
//! - [`lexer`] — tokens with byte spans; [`parser`] — the shared cursor, AWS-style
//!   syntax errors (`token: "…", near: "…"`), ordered semantic errors, path parsing.
//! - [`path`] — resolved document paths, overlap/conflict rules.
//! - [`condition`] — condition grammar and static checks; [`evaluate`] — evaluation;
//!   [`key`] — key-condition restrictions.
//! - [`update`] — update grammar; [`apply`] — applying it to an item.
//! - [`projection`] — projection grammar and application.
//! - [`reserved`] — DynamoDB's reserved words.
//!
//! Everything here is pure (no I/O, no locks), so the service parses expressions before
//! taking its table lock. The parser is hand-written recursive descent: the grammars are
//! small, and AWS's error texts (which token, which neighbouring text, which error wins
//! when several apply) are easier to reproduce exactly than with a parser generator.

pub mod apply;
pub mod condition;
pub mod evaluate;
pub mod key;
pub mod lexer;
pub mod parser;
pub mod path;
pub mod projection;
pub mod reserved;
pub mod update;

#[cfg(test)]
mod tests_condition;
#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_inputs;
#[cfg(test)]
mod tests_update;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::AwsJsonError;

use super::errors::{serialization, validation};
use super::types::{AttrValue, Item};
use parser::{ExprKind, Parser};
pub use path::{Path, PathElem};

/// ExpressionAttributeNames / ExpressionAttributeValues of one request, with use tracking
/// across all the expressions of that request.
#[derive(Debug, Clone, Default)]
pub struct ExprInputs {
    names: Option<BTreeMap<String, String>>,
    values: Option<BTreeMap<String, AttrValue>>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

/// Coral's message for a placeholder map or name of the wrong JSON kind.
fn wrong_kind(v: &Value) -> AwsJsonError {
    match v {
        Value::Array(_) => serialization("Start of list found where not expected"),
        Value::Object(_) => serialization("Start of structure or map found where not expected"),
        Value::String(_) => serialization("STRING_VALUE cannot be converted to Map"),
        Value::Number(_) => serialization("NUMBER_VALUE cannot be converted to String"),
        _ => serialization("Unexpected value type in payload"),
    }
}

fn valid_placeholder(key: &str, sigil: char) -> bool {
    let mut chars = key.chars();
    chars.next() == Some(sigil)
        && key.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ExprInputs {
    /// Validates and captures the two request members (`None` when absent).
    pub fn from_request(
        names: Option<&Value>,
        values: Option<&Value>,
    ) -> Result<ExprInputs, AwsJsonError> {
        let mut inputs = ExprInputs::default();
        if let Some(names) = names.filter(|v| !v.is_null()) {
            let obj = names.as_object().ok_or_else(|| wrong_kind(names))?;
            if obj.is_empty() {
                return Err(validation("ExpressionAttributeNames must not be empty"));
            }
            let mut map = BTreeMap::new();
            for (key, name) in obj {
                if !valid_placeholder(key, '#') {
                    return Err(validation(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
                    )));
                }
                let name = name.as_str().ok_or_else(|| wrong_kind(name))?;
                map.insert(key.clone(), name.to_owned());
            }
            inputs.names = Some(map);
        }
        if let Some(values) = values.filter(|v| !v.is_null()) {
            let obj = values.as_object().ok_or_else(|| wrong_kind(values))?;
            if obj.is_empty() {
                return Err(validation("ExpressionAttributeValues must not be empty"));
            }
            let mut map = BTreeMap::new();
            for (key, raw) in obj {
                if !valid_placeholder(key, ':') {
                    return Err(validation(format!(
                        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
                    )));
                }
                let value = AttrValue::from_json(raw).map_err(|e| {
                    if e.code() == "ValidationException" {
                        validation(format!(
                            "ExpressionAttributeValues contains invalid value: {} for key {key}",
                            e.message
                        ))
                    } else {
                        e
                    }
                })?;
                map.insert(key.clone(), value);
            }
            inputs.values = Some(map);
        }
        Ok(inputs)
    }

    /// Whether the request carried `ExpressionAttributeNames`.
    pub fn has_names(&self) -> bool {
        self.names.is_some()
    }

    /// Whether the request carried `ExpressionAttributeValues`.
    pub fn has_values(&self) -> bool {
        self.values.is_some()
    }

    /// Resolves `#n`, marking it used.
    pub(crate) fn resolve_name(&mut self, key: &str) -> Option<String> {
        let name = self.names.as_ref()?.get(key)?.clone();
        self.used_names.insert(key.to_owned());
        Some(name)
    }

    /// Resolves `:v`, marking it used.
    pub(crate) fn resolve_value(&mut self, key: &str) -> Option<AttrValue> {
        let value = self.values.as_ref()?.get(key)?.clone();
        self.used_values.insert(key.to_owned());
        Some(value)
    }

    /// Fails when a provided name or value was not used by any parsed expression.
    pub fn finish(&self) -> Result<(), AwsJsonError> {
        let unused = |all: Option<Vec<&String>>, used: &BTreeSet<String>| -> Vec<String> {
            all.unwrap_or_default()
                .into_iter()
                .filter(|k| !used.contains(*k))
                .cloned()
                .collect()
        };
        let names = unused(
            self.names.as_ref().map(|m| m.keys().collect()),
            &self.used_names,
        );
        if !names.is_empty() {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            )));
        }
        let values = unused(
            self.values.as_ref().map(|m| m.keys().collect()),
            &self.used_values,
        );
        if !values.is_empty() {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            )));
        }
        Ok(())
    }
}

/// A parsed condition / filter expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    root: condition::Cond,
}

impl Condition {
    /// Evaluates against an item (`None`: the item does not exist).
    pub fn evaluate(&self, item: Option<&Item>) -> bool {
        evaluate::evaluate(&self.root, item)
    }

    /// Top-level attribute names the condition reads (each once, in expression order);
    /// Query uses it to refuse filters on key attributes.
    pub fn top_level_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        condition::collect_names(&self.root, &mut names);
        names
    }
}

/// A parsed update expression.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateExpr {
    actions: Vec<update::Action>,
}

impl UpdateExpr {
    /// Applies the update in place. On error the item may be partly updated: apply to a
    /// copy and keep it only on success.
    pub fn apply(&self, item: &mut Item) -> Result<(), AwsJsonError> {
        apply::apply(&self.actions, item)
    }

    /// Top-level attribute names the update touches (each once, in expression order).
    pub fn touched_top_level_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for action in &self.actions {
            let top = action.path().top();
            if !names.iter().any(|n| n == top) {
                names.push(top.to_owned());
            }
        }
        names
    }

    /// The paths the update touches, as a projection (ReturnValues UPDATED_OLD/NEW).
    pub fn updated_projection(&self) -> Projection {
        Projection {
            paths: self.actions.iter().map(|a| a.path().clone()).collect(),
        }
    }

    /// The actions, in expression order.
    pub fn actions(&self) -> &[update::Action] {
        &self.actions
    }
}

/// A parsed projection expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    paths: Vec<Path>,
}

/// A parsed key condition expression: 1 or 2 parts joined by AND (more when the client
/// wrote more; the service validates the parts against the key schema).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    /// (attribute name, operator) pairs, in expression order.
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

fn parse_cond(
    text: &str,
    kind: ExprKind,
    inputs: &mut ExprInputs,
) -> Result<condition::Cond, AwsJsonError> {
    let mut p = Parser::new(text, kind, inputs)?;
    condition::parse(&mut p)
}

/// Parses a ConditionExpression.
pub fn parse_condition(text: &str, inputs: &mut ExprInputs) -> Result<Condition, AwsJsonError> {
    let root = parse_cond(text, ExprKind::Condition, inputs)?;
    Ok(Condition { root })
}

/// Parses a FilterExpression (same grammar; messages name FilterExpression).
pub fn parse_filter(text: &str, inputs: &mut ExprInputs) -> Result<Condition, AwsJsonError> {
    let root = parse_cond(text, ExprKind::Filter, inputs)?;
    Ok(Condition { root })
}

/// Parses an UpdateExpression.
pub fn parse_update(text: &str, inputs: &mut ExprInputs) -> Result<UpdateExpr, AwsJsonError> {
    let mut p = Parser::new(text, ExprKind::Update, inputs)?;
    let actions = update::parse(&mut p)?;
    Ok(UpdateExpr { actions })
}

/// Parses a ProjectionExpression.
pub fn parse_projection(text: &str, inputs: &mut ExprInputs) -> Result<Projection, AwsJsonError> {
    let mut p = Parser::new(text, ExprKind::Projection, inputs)?;
    let paths = projection::parse(&mut p)?;
    Ok(Projection { paths })
}

/// Parses a KeyConditionExpression.
pub fn parse_key_condition(
    text: &str,
    inputs: &mut ExprInputs,
) -> Result<KeyCondition, AwsJsonError> {
    let cond = parse_cond(text, ExprKind::KeyCondition, inputs)?;
    key::from_condition(cond)
}
