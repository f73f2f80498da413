//! DynamoDB attribute values: the wire form (`{"S": "x"}`), validation with AWS's
//! messages, ordering of scalars, and item sizes.
//!
//! Sets are kept in a canonical order (strings and binaries by bytes, numbers
//! numerically) so the derived `Eq`/`Hash` treat `{"SS": ["a","b"]}` and
//! `{"SS": ["b","a"]}` as the same value, as DynamoDB does; code that builds a set
//! directly must keep it sorted and duplicate-free (see [`AttrValue::normalize_set`]).
//! Empty strings and binaries are valid attribute values (since 2020; key attributes
//! are checked by the service), also inside sets.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::alphabet::STANDARD as STANDARD_ALPHABET;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::error::AwsJsonError;

use super::errors::{serialization, validation};
use super::number::Number;

/// Standard base64, padded on output; padding optional on input (SDKs pad, hand-written
/// requests sometimes do not).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD_ALPHABET,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Deepest nesting of lists and maps DynamoDB accepts (a leaf at level 33 is refused).
pub const MAX_NESTING_DEPTH: usize = 32;

const INVALID_PREFIX: &str = "One or more parameter values were invalid: ";
const EMPTY_VALUE: &str =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
const MANY_TYPES: &str = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes";
const NESTING: &str = "Nesting Levels have exceeded supported limits";

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
    /// String set (non-empty, no duplicates, sorted by bytes).
    Ss(Vec<String>),
    /// Number set (non-empty, no duplicates, sorted numerically).
    Ns(Vec<Number>),
    /// Binary set (non-empty, no duplicates, sorted by bytes).
    Bs(Vec<Vec<u8>>),
}

/// An item: attribute name to value.
pub type Item = BTreeMap<String, AttrValue>;

impl AttrValue {
    /// Parses the wire form `{"S": "..."}` etc., validating like AWS.
    pub fn from_json(v: &Value) -> Result<AttrValue, AwsJsonError> {
        parse_value(v, 1)
    }

    /// The wire form.
    pub fn to_json(&self) -> Value {
        let (tag, body) = match self {
            AttrValue::S(s) => ("S", Value::String(s.clone())),
            AttrValue::N(n) => ("N", Value::String(n.to_string())),
            AttrValue::B(b) => ("B", Value::String(BASE64.encode(b))),
            AttrValue::Bool(b) => ("BOOL", Value::Bool(*b)),
            AttrValue::Null => ("NULL", Value::Bool(true)),
            AttrValue::L(items) => ("L", Value::Array(items.iter().map(Self::to_json).collect())),
            AttrValue::M(map) => ("M", item_to_json(map)),
            AttrValue::Ss(set) => (
                "SS",
                Value::Array(set.iter().cloned().map(Value::String).collect()),
            ),
            AttrValue::Ns(set) => (
                "NS",
                Value::Array(set.iter().map(|n| Value::String(n.to_string())).collect()),
            ),
            AttrValue::Bs(set) => (
                "BS",
                Value::Array(
                    set.iter()
                        .map(|b| Value::String(BASE64.encode(b)))
                        .collect(),
                ),
            ),
        };
        let mut obj = Map::new();
        obj.insert(tag.to_owned(), body);
        Value::Object(obj)
    }

    /// The type descriptor: "S","N","B","BOOL","NULL","L","M","SS","NS","BS".
    pub fn type_name(&self) -> &'static str {
        match self {
            AttrValue::S(_) => "S",
            AttrValue::N(_) => "N",
            AttrValue::B(_) => "B",
            AttrValue::Bool(_) => "BOOL",
            AttrValue::Null => "NULL",
            AttrValue::L(_) => "L",
            AttrValue::M(_) => "M",
            AttrValue::Ss(_) => "SS",
            AttrValue::Ns(_) => "NS",
            AttrValue::Bs(_) => "BS",
        }
    }

    /// Size in bytes per AWS's item-size rules: strings and binaries their length,
    /// numbers by significant digits, BOOL/NULL one byte, lists and maps 3 bytes plus one
    /// per element plus the elements (map keys included), sets the sum of their elements.
    pub fn size(&self) -> usize {
        match self {
            AttrValue::S(s) => s.len(),
            AttrValue::N(n) => n.storage_size(),
            AttrValue::B(b) => b.len(),
            AttrValue::Bool(_) | AttrValue::Null => 1,
            AttrValue::L(items) => 3 + items.iter().map(|v| 1 + v.size()).sum::<usize>(),
            AttrValue::M(map) => {
                3 + map
                    .iter()
                    .map(|(k, v)| 1 + k.len() + v.size())
                    .sum::<usize>()
            }
            AttrValue::Ss(set) => set.iter().map(String::len).sum(),
            AttrValue::Ns(set) => set.iter().map(Number::storage_size).sum(),
            AttrValue::Bs(set) => set.iter().map(Vec::len).sum(),
        }
    }

    /// Deepest nesting level of this value (a scalar is level 1).
    pub fn depth(&self) -> usize {
        match self {
            AttrValue::L(items) => 1 + items.iter().map(Self::depth).max().unwrap_or(0),
            AttrValue::M(map) => 1 + map.values().map(Self::depth).max().unwrap_or(0),
            _ => 1,
        }
    }

    /// Sorts and de-duplicates a set in place (no-op for other types), restoring the
    /// canonical form after a union or difference.
    pub fn normalize_set(&mut self) {
        match self {
            AttrValue::Ss(set) => {
                set.sort();
                set.dedup();
            }
            AttrValue::Ns(set) => {
                set.sort();
                set.dedup();
            }
            AttrValue::Bs(set) => {
                set.sort();
                set.dedup();
            }
            _ => {}
        }
    }
}

/// Checks nesting of an already-built value (e.g. the result of an update).
pub fn check_depth(value: &AttrValue) -> Result<(), AwsJsonError> {
    if value.depth() > MAX_NESTING_DEPTH {
        return Err(validation(NESTING));
    }
    Ok(())
}

/// AWS's deserialization error for a JSON value of the wrong kind: objects and arrays
/// get coral's "Start of … found where not expected" (as in rusoto/rusoto#658), scalars
/// "<KIND>_VALUE cannot be converted to <Target>" (e.g. `NUMBER_VALUE cannot be converted
/// to String`).
fn wrong_json(v: &Value, target: &str) -> AwsJsonError {
    let kind = match v {
        Value::Object(_) => {
            return serialization("Start of structure or map found where not expected");
        }
        Value::Array(_) => return serialization("Start of list found where not expected"),
        Value::Null => "NULL_VALUE",
        Value::Bool(_) => "BOOLEAN_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::String(_) => "STRING_VALUE",
    };
    serialization(format!("{kind} cannot be converted to {target}"))
}

fn expect_str<'a>(v: &'a Value, target: &str) -> Result<&'a str, AwsJsonError> {
    v.as_str().ok_or_else(|| wrong_json(v, target))
}

fn expect_array(v: &Value) -> Result<&Vec<Value>, AwsJsonError> {
    v.as_array().ok_or_else(|| wrong_json(v, "List"))
}

fn expect_object(v: &Value) -> Result<&serde_json::Map<String, Value>, AwsJsonError> {
    v.as_object().ok_or_else(|| wrong_json(v, "Structure"))
}

fn decode_binary(v: &Value) -> Result<Vec<u8>, AwsJsonError> {
    let text = expect_str(v, "Blob")?;
    BASE64.decode(text).map_err(|_| {
        serialization(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        ))
    })
}

fn parse_value(v: &Value, depth: usize) -> Result<AttrValue, AwsJsonError> {
    if depth > MAX_NESTING_DEPTH {
        return Err(validation(NESTING));
    }
    let obj = expect_object(v)?;
    // Unknown members are ignored, as the AWS JSON protocol does; a JSON null member
    // counts as absent.
    let mut found: Option<AttrValue> = None;
    let mut count = 0;
    for (tag, body) in obj {
        if body.is_null() {
            continue;
        }
        let parsed = match tag.as_str() {
            "S" => AttrValue::S(expect_str(body, "String")?.to_owned()),
            "N" => AttrValue::N(Number::parse(expect_str(body, "String")?)?),
            "B" => AttrValue::B(decode_binary(body)?),
            "BOOL" => AttrValue::Bool(body.as_bool().ok_or_else(|| wrong_json(body, "Boolean"))?),
            "NULL" => match body.as_bool() {
                Some(true) => AttrValue::Null,
                Some(false) => {
                    return Err(validation(format!(
                        "{INVALID_PREFIX}Null attribute value types must have the value of true"
                    )));
                }
                None => return Err(wrong_json(body, "Boolean")),
            },
            "L" => AttrValue::L(
                expect_array(body)?
                    .iter()
                    .map(|e| parse_value(e, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            "M" => {
                let map = expect_object(body)?;
                let mut out = BTreeMap::new();
                for (k, e) in map {
                    out.insert(k.clone(), parse_value(e, depth + 1)?);
                }
                AttrValue::M(out)
            }
            "SS" => parse_string_set(body)?,
            "NS" => parse_number_set(body)?,
            "BS" => parse_binary_set(body)?,
            _ => continue,
        };
        count += 1;
        found = Some(parsed);
    }
    match (found, count) {
        (None, _) => Err(validation(EMPTY_VALUE)),
        (Some(value), 1) => Ok(value),
        (Some(_), _) => Err(validation(MANY_TYPES)),
    }
}

fn parse_string_set(body: &Value) -> Result<AttrValue, AwsJsonError> {
    let raw = expect_array(body)?;
    if raw.is_empty() {
        return Err(validation(format!(
            "{INVALID_PREFIX}An string set  may not be empty"
        )));
    }
    let mut set = raw
        .iter()
        .map(|e| expect_str(e, "String").map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    let shown = format!("[{}]", set.join(", "));
    set.sort();
    let len = set.len();
    set.dedup();
    if set.len() != len {
        return Err(validation(format!(
            "{INVALID_PREFIX}Input collection {shown} contains duplicates."
        )));
    }
    Ok(AttrValue::Ss(set))
}

fn parse_number_set(body: &Value) -> Result<AttrValue, AwsJsonError> {
    let raw = expect_array(body)?;
    if raw.is_empty() {
        return Err(validation(format!(
            "{INVALID_PREFIX}An number set  may not be empty"
        )));
    }
    let mut set = raw
        .iter()
        .map(|e| Number::parse(expect_str(e, "String")?))
        .collect::<Result<Vec<_>, _>>()?;
    set.sort();
    let len = set.len();
    set.dedup();
    if set.len() != len {
        return Err(validation("Input collection contains duplicates"));
    }
    Ok(AttrValue::Ns(set))
}

fn parse_binary_set(body: &Value) -> Result<AttrValue, AwsJsonError> {
    let raw = expect_array(body)?;
    if raw.is_empty() {
        return Err(validation(format!(
            "{INVALID_PREFIX}Binary sets should not be empty"
        )));
    }
    let mut set = raw
        .iter()
        .map(decode_binary)
        .collect::<Result<Vec<_>, _>>()?;
    set.sort();
    let len = set.len();
    set.dedup();
    if set.len() != len {
        return Err(validation("Input collection contains duplicates"));
    }
    Ok(AttrValue::Bs(set))
}

/// Parses a map of attribute values (an item, a key, `ExpressionAttributeValues`).
pub fn attr_map_from_json(v: &Value) -> Result<BTreeMap<String, AttrValue>, AwsJsonError> {
    let obj = expect_object(v)?;
    obj.iter()
        .map(|(k, e)| Ok((k.clone(), AttrValue::from_json(e)?)))
        .collect()
}

/// Parses an item (`{"name": {"S": "..."}, ...}`).
pub fn item_from_json(v: &Value) -> Result<Item, AwsJsonError> {
    attr_map_from_json(v)
}

/// The wire form of an item.
pub fn item_to_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// Item size per AWS rules: every attribute name's UTF-8 length plus its value's size.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

/// Orders two scalars of the same type: strings and binaries by unsigned bytes (UTF-8
/// byte order for strings, as DynamoDB sorts), numbers numerically. `None` for
/// different types or non-scalars.
pub fn compare_scalar(a: &AttrValue, b: &AttrValue) -> Option<Ordering> {
    match (a, b) {
        (AttrValue::S(x), AttrValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttrValue::N(x), AttrValue::N(y)) => Some(x.cmp(y)),
        (AttrValue::B(x), AttrValue::B(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> AttrValue {
        AttrValue::from_json(&v).unwrap()
    }

    fn error(v: Value) -> AwsJsonError {
        AttrValue::from_json(&v).unwrap_err()
    }

    #[test]
    fn every_type_round_trips_through_the_wire_form() {
        let wire = json!({"M": {
            "s": {"S": "héllo"}, "n": {"N": "-12.5"}, "b": {"B": "AAEC"},
            "t": {"BOOL": true}, "z": {"NULL": true},
            "l": {"L": [{"S": "x"}, {"N": "1"}]},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AA==", "AQ=="]}
        }});
        let value = parse(wire.clone());
        assert_eq!(value.to_json(), wire);
        assert_eq!(value.type_name(), "M");
    }

    #[test]
    fn numbers_are_normalized_on_output() {
        assert_eq!(parse(json!({"N": "1.50e2"})).to_json(), json!({"N": "150"}));
    }

    #[test]
    fn sets_are_compared_regardless_of_element_order() {
        assert_eq!(
            parse(json!({"SS": ["b", "a"]})),
            parse(json!({"SS": ["a", "b"]}))
        );
        assert_eq!(
            parse(json!({"NS": ["10", "9"]})),
            parse(json!({"NS": ["9", "10.0"]}))
        );
    }

    #[test]
    fn empty_and_multi_type_values_are_rejected_with_aws_messages() {
        assert_eq!(error(json!({})).message, EMPTY_VALUE);
        assert_eq!(error(json!({"X": "1"})).message, EMPTY_VALUE);
        assert_eq!(error(json!({"S": "a", "N": "1"})).message, MANY_TYPES);
        assert_eq!(error(json!({})).code(), "ValidationException");
    }

    #[test]
    fn empty_sets_are_rejected_with_the_per_type_message() {
        assert_eq!(
            error(json!({"SS": []})).message,
            "One or more parameter values were invalid: An string set  may not be empty"
        );
        assert_eq!(
            error(json!({"NS": []})).message,
            "One or more parameter values were invalid: An number set  may not be empty"
        );
        assert_eq!(
            error(json!({"BS": []})).message,
            "One or more parameter values were invalid: Binary sets should not be empty"
        );
    }

    #[test]
    fn duplicate_set_members_are_rejected() {
        assert_eq!(
            error(json!({"SS": ["x", "y", "x"]})).message,
            "One or more parameter values were invalid: Input collection [x, y, x] contains duplicates."
        );
        assert_eq!(
            error(json!({"NS": ["1", "1.0"]})).message,
            "Input collection contains duplicates"
        );
        assert_eq!(
            error(json!({"BS": ["AA==", "AA=="]})).message,
            "Input collection contains duplicates"
        );
    }

    #[test]
    fn empty_strings_and_binaries_are_valid_values_and_set_members() {
        assert_eq!(parse(json!({"S": ""})), AttrValue::S(String::new()));
        assert_eq!(parse(json!({"B": ""})), AttrValue::B(Vec::new()));
        assert_eq!(parse(json!({"B": "AQ"})), AttrValue::B(vec![1]));
        assert_eq!(
            parse(json!({"SS": [""]})),
            AttrValue::Ss(vec![String::new()])
        );
    }

    #[test]
    fn null_must_be_true_and_numbers_must_be_valid() {
        assert_eq!(
            error(json!({"NULL": false})).message,
            "One or more parameter values were invalid: Null attribute value types must have the value of true"
        );
        assert_eq!(
            error(json!({"N": "abc"})).message,
            "The parameter cannot be converted to a numeric value: abc"
        );
        assert_eq!(
            error(json!({"NS": ["1", "1e200"]})).message,
            crate::dynamodb::number::OVERFLOW
        );
    }

    #[test]
    fn wrong_json_kinds_get_the_coral_messages() {
        assert_eq!(
            error(json!({"S": 5})).message,
            "NUMBER_VALUE cannot be converted to String"
        );
        assert_eq!(
            error(json!({"S": {}})).message,
            "Start of structure or map found where not expected"
        );
        assert_eq!(
            error(json!({"B": ["AA=="]})).message,
            "Start of list found where not expected"
        );
    }

    #[test]
    fn wrong_json_types_are_serialization_errors() {
        assert_eq!(error(json!({"S": 5})).code(), "SerializationException");
        assert_eq!(error(json!({"N": 5})).code(), "SerializationException");
        assert_eq!(
            error(json!({"BOOL": "true"})).code(),
            "SerializationException"
        );
        assert_eq!(error(json!({"L": {}})).code(), "SerializationException");
        assert_eq!(error(json!("plain")).code(), "SerializationException");
        assert_eq!(
            error(json!({"B": "not base64!"})).code(),
            "SerializationException"
        );
    }

    #[test]
    fn nesting_deeper_than_32_levels_is_rejected() {
        let mut ok = json!({"S": "leaf"});
        for _ in 0..31 {
            ok = json!({"L": [ok]});
        }
        assert_eq!(parse(ok.clone()).depth(), 32);
        let too_deep = json!({"M": {"x": ok}});
        assert_eq!(error(too_deep).message, NESTING);
    }

    #[test]
    fn sizes_follow_the_aws_rules() {
        assert_eq!(parse(json!({"S": "héllo"})).size(), 6);
        assert_eq!(parse(json!({"B": "AAEC"})).size(), 3);
        assert_eq!(parse(json!({"BOOL": false})).size(), 1);
        assert_eq!(parse(json!({"NULL": true})).size(), 1);
        assert_eq!(parse(json!({"N": "123"})).size(), 3);
        assert_eq!(parse(json!({"SS": ["ab", "c"]})).size(), 3);
        assert_eq!(
            parse(json!({"L": [{"S": "ab"}, {"BOOL": true}]})).size(),
            3 + 3 + 2
        );
        assert_eq!(
            parse(json!({"M": {"k": {"S": "ab"}}})).size(),
            3 + 1 + 1 + 2
        );
        let item = item_from_json(&json!({"pk": {"S": "abc"}, "n": {"N": "1"}})).unwrap();
        assert_eq!(item_size(&item), 2 + 3 + 1 + 2);
    }

    #[test]
    fn scalars_compare_by_type_and_strings_by_bytes() {
        let s = |x: &str| AttrValue::S(x.to_owned());
        assert_eq!(compare_scalar(&s("B"), &s("a")), Some(Ordering::Less));
        assert_eq!(compare_scalar(&s("z"), &s("é")), Some(Ordering::Less));
        assert_eq!(
            compare_scalar(&parse(json!({"N": "10"})), &parse(json!({"N": "9"}))),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_scalar(&AttrValue::B(vec![0x7f]), &AttrValue::B(vec![0x80])),
            Some(Ordering::Less)
        );
        assert_eq!(compare_scalar(&s("1"), &parse(json!({"N": "1"}))), None);
        assert_eq!(compare_scalar(&AttrValue::Null, &AttrValue::Null), None);
    }
}
