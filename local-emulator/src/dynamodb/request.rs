//! Typed access to request members with the error shapes AWS uses.
//!
//! DynamoDB distinguishes two kinds of bad input: a body that is not JSON, or a member of
//! the wrong JSON type, is a `SerializationException` (the service's deserializer gave
//! up); a well-typed but missing or out-of-range member is a `ValidationException` in the
//! "1 validation error detected: Value … at '…' failed to satisfy constraint: …" form,
//! where the member is named in lowerCamelCase.

use serde_json::{Map, Value};

use super::errors::{serialization, validation};
use crate::error::AwsJsonError;

/// A parsed request body: a JSON object.
pub type Body = Map<String, Value>;

/// Parses a request body; anything but a JSON object is a `SerializationException`.
pub fn parse_body(body: &[u8]) -> Result<Body, AwsJsonError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(serialization(
            "Start of structure or map found where not expected",
        )),
        Err(_) => Err(serialization("Could not parse request body into json")),
    }
}

/// lowerCamelCase form of a member name, as AWS names it in validation messages.
pub fn camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn wrong_type(member: &str, expected: &str) -> AwsJsonError {
    serialization(format!(
        "Unexpected value type in payload for member {member}: expected {expected}"
    ))
}

/// "1 validation error detected: Value null at 'x' failed to satisfy constraint: Member must not be null".
pub fn missing(member: &str) -> AwsJsonError {
    validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        camel(member)
    ))
}

/// A validation error about an enum member.
pub fn bad_enum(member: &str, value: &str, allowed: &[&str]) -> AwsJsonError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        camel(member),
        allowed.join(", ")
    ))
}

/// Optional member (JSON `null` counts as absent).
fn member<'a>(body: &'a Body, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// Optional string member.
pub fn opt_str<'a>(body: &'a Body, name: &str) -> Result<Option<&'a str>, AwsJsonError> {
    match member(body, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(name, "string")),
    }
}

/// Required string member.
pub fn req_str<'a>(body: &'a Body, name: &str) -> Result<&'a str, AwsJsonError> {
    opt_str(body, name)?.ok_or_else(|| missing(name))
}

/// Optional boolean member.
pub fn opt_bool(body: &Body, name: &str) -> Result<Option<bool>, AwsJsonError> {
    match member(body, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(name, "boolean")),
    }
}

/// Optional integer member.
pub fn opt_i64(body: &Body, name: &str) -> Result<Option<i64>, AwsJsonError> {
    match member(body, name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| wrong_type(name, "integer")),
        Some(_) => Err(wrong_type(name, "integer")),
    }
}

/// Optional object member.
pub fn opt_obj<'a>(body: &'a Body, name: &str) -> Result<Option<&'a Body>, AwsJsonError> {
    match member(body, name) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(wrong_type(name, "map or structure")),
    }
}

/// Required object member.
pub fn req_obj<'a>(body: &'a Body, name: &str) -> Result<&'a Body, AwsJsonError> {
    opt_obj(body, name)?.ok_or_else(|| missing(name))
}

/// Optional array member.
pub fn opt_arr<'a>(body: &'a Body, name: &str) -> Result<Option<&'a Vec<Value>>, AwsJsonError> {
    match member(body, name) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(wrong_type(name, "list")),
    }
}

/// Required array member.
pub fn req_arr<'a>(body: &'a Body, name: &str) -> Result<&'a Vec<Value>, AwsJsonError> {
    opt_arr(body, name)?.ok_or_else(|| missing(name))
}

/// An array element that must be an object.
pub fn as_obj<'a>(v: &'a Value, name: &str) -> Result<&'a Body, AwsJsonError> {
    v.as_object()
        .ok_or_else(|| wrong_type(name, "map or structure"))
}

/// An optional enum member checked against its allowed values.
pub fn opt_enum<'a>(
    body: &'a Body,
    name: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, AwsJsonError> {
    match opt_str(body, name)? {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v)),
        Some(v) => Err(bad_enum(name, v, allowed)),
    }
}

/// The raw `ExpressionAttributeNames`/`ExpressionAttributeValues` members, type-checked.
pub fn expr_members(body: &Body) -> Result<(Option<&Value>, Option<&Value>), AwsJsonError> {
    let names = member(body, "ExpressionAttributeNames");
    let values = member(body, "ExpressionAttributeValues");
    if names.is_some_and(|v| !v.is_object()) {
        return Err(wrong_type("ExpressionAttributeNames", "map"));
    }
    if values.is_some_and(|v| !v.is_object()) {
        return Err(wrong_type("ExpressionAttributeValues", "map"));
    }
    Ok((names, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_is_not_an_object_is_a_serialization_error() {
        let err = parse_body(b"[1]").unwrap_err();
        assert_eq!(err.code(), "SerializationException");
        let err = parse_body(b"{nope").unwrap_err();
        assert_eq!(err.code(), "SerializationException");
    }

    #[test]
    fn a_missing_required_member_names_it_in_lower_camel_case() {
        let body = parse_body(br#"{"Key": {}}"#).unwrap();
        let err = req_str(&body, "TableName").unwrap_err();
        assert!(err.message.contains("'tableName'"), "{}", err.message);
        assert_eq!(err.code(), "ValidationException");
    }
}
