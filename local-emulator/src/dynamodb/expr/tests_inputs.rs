//! Tests of key-condition and projection expressions and of
//! `ExpressionAttributeNames`/`Values` handling.

use serde_json::{Value, json};

use super::tests_condition::{inputs, item, sample};
use super::*;

#[test]
fn placeholder_maps_are_validated_and_unused_entries_reported() {
    let err = |names: Value, values: Value| {
        let n = (!names.is_null()).then_some(&names);
        let v = (!values.is_null()).then_some(&values);
        ExprInputs::from_request(n, v).unwrap_err().message
    };
    assert_eq!(
        err(json!({}), Value::Null),
        "ExpressionAttributeNames must not be empty"
    );
    assert_eq!(
        err(Value::Null, json!({})),
        "ExpressionAttributeValues must not be empty"
    );
    assert_eq!(
        err(json!({"n": "x"}), Value::Null),
        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"n\""
    );
    assert_eq!(
        err(Value::Null, json!({"v": {"S": "x"}})),
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\""
    );
    assert_eq!(
        err(Value::Null, json!({":v": {"SS": []}})),
        "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :v"
    );

    let mut both = inputs(
        json!({"#a": "a", "#b": "b"}),
        json!({":x": {"S": "1"}, ":y": {"S": "2"}}),
    );
    parse_condition("#a = :x", &mut both).unwrap();
    assert_eq!(
        both.finish().unwrap_err().message,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    );
    parse_projection("#b", &mut both).unwrap();
    assert_eq!(
        both.finish().unwrap_err().message,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}"
    );
}

#[test]
fn key_conditions_yield_parts_and_flip_reversed_comparisons() {
    let mut inputs = inputs(
        json!({"#s": "sk"}),
        json!({":p": {"S": "a"}, ":lo": {"N": "1"}, ":hi": {"N": "9"}}),
    );
    let kc = parse_key_condition("pk = :p AND #s BETWEEN :lo AND :hi", &mut inputs).unwrap();
    assert_eq!(kc.parts.len(), 2);
    assert_eq!(kc.parts[0].0, "pk");
    assert!(matches!(kc.parts[1], (ref n, KeyOp::Between(_, _)) if n == "sk"));

    let mut inputs = self::inputs(Value::Null, json!({":p": {"S": "a"}, ":v": {"N": "5"}}));
    let kc = parse_key_condition(":p = pk AND :v < sk", &mut inputs).unwrap();
    assert!(matches!(kc.parts[1].1, KeyOp::Gt(_)));

    let mut inputs = self::inputs(Value::Null, json!({":p": {"S": "a"}, ":q": {"S": "b"}}));
    let kc = parse_key_condition("pk = :p AND begins_with(sk, :q)", &mut inputs).unwrap();
    assert!(matches!(kc.parts[1].1, KeyOp::BeginsWith(_)));
}

#[test]
fn key_conditions_reject_operators_query_cannot_use() {
    let err = |expr: &str| {
        let mut inputs = inputs(Value::Null, json!({":p": {"S": "a"}, ":q": {"S": "b"}}));
        parse_key_condition(expr, &mut inputs).unwrap_err().message
    };
    assert_eq!(
        err("pk = :p OR pk = :q"),
        "Invalid operator used in KeyConditionExpression: OR"
    );
    assert_eq!(
        err("pk <> :p"),
        "Invalid operator used in KeyConditionExpression: <>"
    );
    assert_eq!(
        err("pk IN (:p, :q)"),
        "Invalid operator used in KeyConditionExpression: IN"
    );
    assert_eq!(
        err("attribute_exists(pk)"),
        "Invalid operator used in KeyConditionExpression: attribute_exists"
    );
    assert_eq!(
        err("pk = :p AND pk = :q"),
        "KeyConditionExpressions must only contain one condition per key"
    );
    assert_eq!(
        err("pk.x = :p"),
        "KeyConditionExpressions cannot have conditions on nested attributes"
    );
    assert_eq!(
        err("pk = sk"),
        "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition"
    );
    assert_eq!(
        err(":p = :q"),
        "Invalid condition in KeyConditionExpression: No key attribute specified"
    );
    assert_eq!(
        err("size(pk) = :p"),
        "KeyConditionExpressions cannot contain nested operations"
    );
    assert!(err("pk = ").starts_with("Invalid KeyConditionExpression: Syntax error"));
}

#[test]
fn projections_keep_only_the_named_paths() {
    let mut inputs = inputs(json!({"#m": "map"}), Value::Null);
    let projection = parse_projection("pk, #m.child, lst[1], absent, tags", &mut inputs).unwrap();
    let projected = projection.apply(&sample());
    assert_eq!(
        crate::dynamodb::types::item_to_json(&projected),
        json!({
            "pk": {"S": "user#1"},
            "map": {"M": {"child": {"S": "deep"}}},
            "lst": {"L": [{"N": "7"}]},
            "tags": {"SS": ["a", "b"]}
        })
    );
    assert_eq!(
        projection.top_level_names(),
        vec!["pk", "map", "lst", "absent", "tags"]
    );
}

#[test]
fn projected_list_elements_are_compacted_in_index_order() {
    let item = item(json!({"l": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "d"}]}}));
    let mut inputs = ExprInputs::default();
    let projection = parse_projection("l[3], l[1], l[9]", &mut inputs).unwrap();
    assert_eq!(
        crate::dynamodb::types::item_to_json(&projection.apply(&item)),
        json!({"l": {"L": [{"S": "b"}, {"S": "d"}]}})
    );
}

#[test]
fn projections_reject_overlapping_and_conflicting_paths() {
    let mut inputs = ExprInputs::default();
    assert_eq!(
        parse_projection("a, a.b", &mut inputs).unwrap_err().message,
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
    );
    assert_eq!(
        parse_projection("a[0], a.b", &mut inputs)
            .unwrap_err()
            .message,
        "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [0]], path two: [a, b]"
    );
    assert!(
        parse_projection("a,", &mut inputs)
            .unwrap_err()
            .message
            .starts_with("Invalid ProjectionExpression: Syntax error; token: \"<EOF>\"")
    );
}

#[test]
fn projections_reach_into_lists_of_maps() {
    let item = item(json!({
        "entries": {"L": [
            {"M": {"id": {"N": "1"}, "x": {"S": "a"}}},
            {"M": {"id": {"N": "2"}, "x": {"S": "b"}}}
        ]},
        "other_attr": {"S": "dropped"}
    }));
    let mut inputs = ExprInputs::default();
    let projection = parse_projection("entries[1].x, entries[0].id", &mut inputs).unwrap();
    assert_eq!(
        crate::dynamodb::types::item_to_json(&projection.apply(&item)),
        json!({"entries": {"L": [{"M": {"id": {"N": "1"}}}, {"M": {"x": {"S": "b"}}}]}})
    );
}

#[test]
fn key_conditions_flip_every_reversed_comparison() {
    for (expr, expected) in [
        (":v < sk", "Gt"),
        (":v <= sk", "Ge"),
        (":v > sk", "Lt"),
        (":v >= sk", "Le"),
        (":v = sk", "Eq"),
    ] {
        let mut inputs = inputs(Value::Null, json!({":v": {"N": "5"}}));
        let kc = parse_key_condition(expr, &mut inputs).unwrap();
        let shown = format!("{:?}", kc.parts[0].1);
        assert!(shown.starts_with(expected), "{expr} gave {shown}");
    }
}
