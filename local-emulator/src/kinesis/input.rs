//! Reading request members the way AWS's awsJson front end does, before any Kinesis
//! logic runs.
//!
//! AWS distinguishes two kinds of bad input, and SDK users see the difference:
//! - a body that is not JSON, or a member of the wrong JSON type (a string where an
//!   integer belongs, a blob that is not base64) is a `SerializationException`;
//! - a well-typed member that is missing, too long, out of range or off-pattern is a
//!   `ValidationException` whose message names the member in camelCase:
//!   `1 validation error detected: Value '0' at 'shardCount' failed to satisfy
//!   constraint: Member must have value greater than or equal to 1`.
//!
//! Both are HTTP 400. Nothing here panics on client input.

use std::fmt::Display;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::AwsJsonError;

/// Result of a Kinesis operation step.
pub(crate) type KResult<T> = Result<T, AwsJsonError>;

/// `__type` for malformed bodies and wrongly typed members.
pub(crate) const SERIALIZATION_EXCEPTION: &str = "SerializationException";
/// `__type` for constraint violations found by the request model.
pub(crate) const VALIDATION_EXCEPTION: &str = "ValidationException";
/// `__type` for semantically invalid arguments found by Kinesis itself.
pub(crate) const INVALID_ARGUMENT: &str = "InvalidArgumentException";

/// A `ValidationException` for `value` at `member` violating `constraint`.
pub(crate) fn validation(value: impl Display, member: &str, constraint: &str) -> AwsJsonError {
    AwsJsonError::client(
        VALIDATION_EXCEPTION,
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy \
             constraint: {constraint}"
        ),
    )
}

/// A `ValidationException` for a required member that is absent.
pub(crate) fn missing(member: &str) -> AwsJsonError {
    AwsJsonError::client(
        VALIDATION_EXCEPTION,
        format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy \
             constraint: Member must not be null"
        ),
    )
}

/// An `InvalidArgumentException`.
pub(crate) fn invalid_argument(message: impl Into<String>) -> AwsJsonError {
    AwsJsonError::client(INVALID_ARGUMENT, message)
}

fn wrong_type(member: &str, expected: &str) -> AwsJsonError {
    AwsJsonError::client(
        SERIALIZATION_EXCEPTION,
        format!("Unexpected value type for member '{member}': expected {expected}"),
    )
}

/// The member name as AWS's validation messages spell it (`ShardCount` → `shardCount`).
pub(crate) fn camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Checks an integer range, answering AWS's range message.
pub(crate) fn check_range(value: i64, member: &str, min: i64, max: i64) -> KResult<()> {
    if value < min {
        return Err(validation(
            value,
            member,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(validation(
            value,
            member,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// Checks a string length in characters, answering AWS's length message.
pub(crate) fn check_len(value: &str, member: &str, min: usize, max: usize) -> KResult<()> {
    let len = value.chars().count();
    if len < min {
        return Err(validation(
            value,
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(validation(
            value,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// Names of streams and shards: `[a-zA-Z0-9_.-]+`, 1–128 characters.
pub(crate) fn check_name(value: &str, member: &str) -> KResult<()> {
    check_len(value, member, 1, 128)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(validation(
            value,
            member,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

/// A decimal without leading zeros of at most `max_digits` digits
/// (`0|([1-9]\d{0,N})`), the pattern of hash keys and sequence numbers.
pub(crate) fn is_decimal(value: &str, max_digits: usize) -> bool {
    value == "0"
        || (!value.is_empty()
            && value.len() <= max_digits
            && !value.starts_with('0')
            && value.bytes().all(|b| b.is_ascii_digit()))
}

/// A parsed request body (a JSON object).
#[derive(Debug, Default)]
pub(crate) struct Body {
    map: Map<String, Value>,
}

impl Body {
    /// Parses a request body; an empty body is an empty structure, as for AWS.
    pub(crate) fn parse(body: &[u8]) -> KResult<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self { map }),
            Ok(_) => Err(AwsJsonError::client(
                SERIALIZATION_EXCEPTION,
                "Start of structure or map found where not expected",
            )),
            Err(e) => Err(AwsJsonError::client(
                SERIALIZATION_EXCEPTION,
                format!("Malformed JSON request body: {e}"),
            )),
        }
    }

    /// The top-level structure.
    pub(crate) fn input(&self) -> Input<'_> {
        Input { map: &self.map }
    }
}

/// A view of a request structure (the body or a nested member); borrowing, so reading
/// 500 PutRecords entries copies nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Input<'a> {
    /// A nested structure value, checked to be an object.
    pub(crate) fn from_value(value: &'a Value, member: &str) -> KResult<Self> {
        match value {
            Value::Object(map) => Ok(Self { map }),
            _ => Err(wrong_type(member, "structure")),
        }
    }

    /// A member, treating JSON `null` as absent (as the SDKs' serializers do).
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// An optional string member.
    pub(crate) fn opt_str(&self, name: &str) -> KResult<Option<&'a str>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(name, "string")),
        }
    }

    /// A required string member.
    pub(crate) fn str(&self, name: &str) -> KResult<&'a str> {
        self.opt_str(name)?.ok_or_else(|| missing(&camel(name)))
    }

    /// An optional integer member.
    pub(crate) fn opt_int(&self, name: &str) -> KResult<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(name, "integer")),
            Some(_) => Err(wrong_type(name, "integer")),
        }
    }

    /// A required integer member.
    pub(crate) fn int(&self, name: &str) -> KResult<i64> {
        self.opt_int(name)?.ok_or_else(|| missing(&camel(name)))
    }

    /// An optional timestamp member (epoch seconds, possibly fractional) as epoch ms.
    pub(crate) fn opt_timestamp_millis(&self, name: &str) -> KResult<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(secs) if secs.is_finite() && secs >= 0.0 => {
                    // Millisecond precision is all Kinesis keeps.
                    Ok(Some((secs * 1000.0).round() as u64))
                }
                Some(_) => Ok(Some(0)),
                None => Err(wrong_type(name, "timestamp")),
            },
            Some(_) => Err(wrong_type(name, "timestamp")),
        }
    }

    /// An optional blob member (base64 text on the wire).
    pub(crate) fn opt_blob(&self, name: &str) -> KResult<Option<Bytes>> {
        match self.opt_str(name)? {
            None => Ok(None),
            Some(text) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(|v| Some(Bytes::from(v)))
                .map_err(|_| {
                    AwsJsonError::client(
                        SERIALIZATION_EXCEPTION,
                        format!("Value for member '{name}' is not valid base64"),
                    )
                }),
        }
    }

    /// An optional nested structure.
    pub(crate) fn opt_object(&self, name: &str) -> KResult<Option<Input<'a>>> {
        self.get(name)
            .map(|v| Self::from_value(v, name))
            .transpose()
    }

    /// An optional list member.
    pub(crate) fn opt_array(&self, name: &str) -> KResult<Option<&'a Vec<Value>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(wrong_type(name, "list")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_is_a_serialization_exception() {
        let err = Body::parse(b"{not json").unwrap_err();
        assert_eq!(err.code(), SERIALIZATION_EXCEPTION);
        assert_eq!(err.status, 400);
    }

    #[test]
    fn a_string_where_an_integer_belongs_is_a_serialization_exception() {
        let body = Body::parse(br#"{"ShardCount":"two"}"#).unwrap();
        let input = body.input();
        assert_eq!(
            input.int("ShardCount").unwrap_err().code(),
            SERIALIZATION_EXCEPTION
        );
    }

    #[test]
    fn a_missing_member_names_it_in_camel_case() {
        let body = Body::parse(b"{}").unwrap();
        let input = body.input();
        let err = input.str("StreamName").unwrap_err();
        assert_eq!(err.code(), VALIDATION_EXCEPTION);
        assert!(err.message.contains("'streamName'"), "{}", err.message);
    }

    #[test]
    fn decimal_pattern_rejects_leading_zeros_and_overlong_values() {
        assert!(is_decimal("0", 39));
        assert!(is_decimal("340282366920938463463374607431768211455", 39));
        assert!(!is_decimal("01", 39));
        assert!(!is_decimal("1".repeat(40).as_str(), 39));
        assert!(!is_decimal("12a", 39));
        assert!(!is_decimal("", 39));
    }
}
