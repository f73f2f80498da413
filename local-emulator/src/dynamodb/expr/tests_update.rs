//! Tests of update expressions: parsing errors and application to items.

use serde_json::{Value, json};

use super::*;
use crate::dynamodb::types::{item_from_json, item_to_json};

fn inputs(names: Value, values: Value) -> ExprInputs {
    let names = (!names.is_null()).then_some(&names);
    let values = (!values.is_null()).then_some(&values);
    ExprInputs::from_request(names, values).unwrap()
}

fn values() -> Value {
    json!({
        ":one": {"N": "1"}, ":five": {"N": "5"}, ":s": {"S": "str"},
        ":l": {"L": [{"S": "z"}]}, ":ss": {"SS": ["b", "c"]}, ":ns": {"NS": ["2", "3"]},
        ":empty": {"L": []}, ":m": {"M": {"k": {"S": "v"}}}, ":del": {"SS": ["a", "b"]},
        ":bs": {"BS": ["AA=="]}
    })
}

fn start() -> Item {
    item_from_json(&json!({
        "pk": {"S": "k"},
        "count": {"N": "10"},
        "text": {"S": "hello"},
        "lst": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "d"}]},
        "tags": {"SS": ["a"]},
        "nums": {"NS": ["1"]},
        "doc": {"M": {"child": {"M": {"x": {"N": "1"}}}, "arr": {"L": [{"N": "0"}]}}}
    }))
    .unwrap()
}

/// Parses and applies `expr` to `start()`, answering the resulting item's JSON.
fn run(expr: &str) -> Result<Value, String> {
    let mut inputs = inputs(json!({"#c": "count", "#t": "text"}), values());
    let update = parse_update(expr, &mut inputs).map_err(|e| e.message)?;
    let mut item = start();
    update.apply(&mut item).map_err(|e| e.message)?;
    Ok(item_to_json(&item))
}

fn attr(result: &Value, name: &str) -> Value {
    result.get(name).cloned().unwrap_or(Value::Null)
}

fn parse_error(expr: &str) -> String {
    let mut inputs = inputs(json!({"#c": "count", "#t": "text"}), values());
    parse_update(expr, &mut inputs).unwrap_err().message
}

#[test]
fn set_assigns_values_and_arithmetic() {
    let r = run("SET a = :s, #c = #c + :five, b = :five - #c").unwrap();
    assert_eq!(attr(&r, "a"), json!({"S": "str"}));
    assert_eq!(attr(&r, "count"), json!({"N": "15"}));
    // Operands are read from the item before the update.
    assert_eq!(attr(&r, "b"), json!({"N": "-5"}));
}

#[test]
fn set_operands_see_the_item_before_the_update() {
    let mut inputs = ExprInputs::default();
    let update = parse_update("SET x = y, y = x", &mut inputs).unwrap();
    let mut item = item_from_json(&json!({"x": {"N": "1"}, "y": {"N": "2"}})).unwrap();
    update.apply(&mut item).unwrap();
    assert_eq!(
        item_to_json(&item),
        json!({"x": {"N": "2"}, "y": {"N": "1"}})
    );
}

#[test]
fn if_not_exists_keeps_an_existing_value_or_uses_the_fallback() {
    let r = run("SET #c = if_not_exists(#c, :one), fresh = if_not_exists(fresh, :one)").unwrap();
    assert_eq!(attr(&r, "count"), json!({"N": "10"}));
    assert_eq!(attr(&r, "fresh"), json!({"N": "1"}));
    let r = run("SET ctr = if_not_exists(ctr, :one) + :five").unwrap();
    assert_eq!(attr(&r, "ctr"), json!({"N": "6"}));
}

#[test]
fn list_append_concatenates_in_either_order() {
    let r = run("SET lst = list_append(lst, :l), prepended = list_append(:l, lst)").unwrap();
    assert_eq!(attr(&r, "lst")["L"].as_array().unwrap().len(), 5);
    assert_eq!(attr(&r, "lst")["L"][4], json!({"S": "z"}));
    assert_eq!(attr(&r, "prepended")["L"][0], json!({"S": "z"}));
    let r = run("SET fresh = list_append(if_not_exists(fresh, :empty), :l)").unwrap();
    assert_eq!(attr(&r, "fresh"), json!({"L": [{"S": "z"}]}));
}

#[test]
fn set_writes_into_nested_maps_and_lists() {
    let r = run("SET doc.child.y = :one, doc.arr[0] = :s, doc.arr[7] = :five").unwrap();
    assert_eq!(attr(&r, "doc")["M"]["child"]["M"]["y"], json!({"N": "1"}));
    // An index past the end appends.
    assert_eq!(
        attr(&r, "doc")["M"]["arr"],
        json!({"L": [{"S": "str"}, {"N": "5"}]})
    );
}

#[test]
fn set_into_a_missing_parent_is_an_invalid_document_path() {
    assert_eq!(
        run("SET nope.x = :one").unwrap_err(),
        "The document path provided in the update expression is invalid for update"
    );
    assert_eq!(
        run("SET #t[0] = :one").unwrap_err(),
        "The document path provided in the update expression is invalid for update"
    );
    assert_eq!(
        run("SET doc.absent.deeper = :one").unwrap_err(),
        "The document path provided in the update expression is invalid for update"
    );
}

#[test]
fn runtime_type_errors_use_the_aws_message() {
    let wrong = "An operand in the update expression has an incorrect data type";
    assert_eq!(run("SET x = #t + :one").unwrap_err(), wrong);
    assert_eq!(run("SET x = list_append(#t, :l)").unwrap_err(), wrong);
    assert_eq!(run("ADD #t :one").unwrap_err(), wrong);
    assert_eq!(run("ADD tags :ns").unwrap_err(), wrong);
    assert_eq!(run("DELETE nums :ss").unwrap_err(), wrong);
    assert_eq!(
        run("SET x = nope").unwrap_err(),
        "The provided expression refers to an attribute that does not exist in the item"
    );
}

#[test]
fn remove_deletes_attributes_and_list_elements_by_original_index() {
    let r = run("REMOVE #t, lst[1], lst[3], absent").unwrap();
    assert_eq!(attr(&r, "text"), Value::Null);
    assert_eq!(attr(&r, "lst"), json!({"L": [{"S": "a"}, {"S": "c"}]}));
    let r = run("REMOVE lst[9], doc.child.x").unwrap();
    assert_eq!(attr(&r, "lst")["L"].as_array().unwrap().len(), 4);
    assert_eq!(attr(&r, "doc")["M"]["child"], json!({"M": {}}));
}

#[test]
fn add_increments_numbers_and_creates_missing_ones() {
    let r = run("ADD #c :five, fresh :one").unwrap();
    assert_eq!(attr(&r, "count"), json!({"N": "15"}));
    assert_eq!(attr(&r, "fresh"), json!({"N": "1"}));
}

#[test]
fn add_unions_sets_and_creates_missing_ones() {
    let r = run("ADD tags :ss, nums :ns, newset :ss, bins :bs").unwrap();
    assert_eq!(attr(&r, "tags"), json!({"SS": ["a", "b", "c"]}));
    assert_eq!(attr(&r, "nums"), json!({"NS": ["1", "2", "3"]}));
    assert_eq!(attr(&r, "newset"), json!({"SS": ["b", "c"]}));
    assert_eq!(attr(&r, "bins"), json!({"BS": ["AA=="]}));
}

#[test]
fn delete_removes_set_elements_and_the_attribute_when_emptied() {
    let mut inputs = inputs(
        Value::Null,
        json!({":d": {"SS": ["a"]}, ":e": {"SS": ["x"]}}),
    );
    let update = parse_update("DELETE tags :d, nothing :e", &mut inputs).unwrap();
    let mut item = start();
    update.apply(&mut item).unwrap();
    assert!(!item.contains_key("tags"));
    assert!(!item.contains_key("nothing"));
    let r = run("ADD tags :ss").unwrap();
    assert_eq!(attr(&r, "tags"), json!({"SS": ["a", "b", "c"]}));
    let r = run("DELETE nums :ns").unwrap();
    assert_eq!(attr(&r, "nums"), json!({"NS": ["1"]}));
}

#[test]
fn clauses_combine_and_keywords_ignore_case() {
    let r = run("set a = :s remove #t add #c :one delete tags :del").unwrap();
    assert_eq!(attr(&r, "a"), json!({"S": "str"}));
    assert_eq!(attr(&r, "text"), Value::Null);
    assert_eq!(attr(&r, "count"), json!({"N": "11"}));
    assert_eq!(attr(&r, "tags"), Value::Null);
}

#[test]
fn each_clause_may_appear_only_once() {
    assert_eq!(
        parse_error("SET a = :one SET b = :one"),
        "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
    );
}

#[test]
fn overlapping_and_conflicting_paths_are_rejected() {
    assert_eq!(
        parse_error("SET a = :one REMOVE a"),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"
    );
    assert_eq!(
        parse_error("SET a.b = :one, a = :s"),
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a]"
    );
    assert_eq!(
        parse_error("SET a[1] = :one, a.b = :s"),
        "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [1]], path two: [a, b]"
    );
    assert!(
        parse_update(
            "SET a[1] = :one, a[2] = :five",
            &mut inputs(
                Value::Null,
                json!({":one": {"N": "1"}, ":five": {"N": "5"}})
            )
        )
        .is_ok()
    );
}

#[test]
fn update_syntax_errors_quote_the_token_and_its_neighbours() {
    assert_eq!(
        parse_error("SET = :one"),
        "Invalid UpdateExpression: Syntax error; token: \"=\", near: \"SET = :one\""
    );
    assert_eq!(
        parse_error("SET a = :one,"),
        "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \",\""
    );
    assert_eq!(
        parse_error("UPSERT a = :one"),
        "Invalid UpdateExpression: Syntax error; token: \"UPSERT\", near: \"UPSERT a\""
    );
    assert_eq!(
        parse_error("SET a = :one + :five + :one"),
        "Invalid UpdateExpression: Syntax error; token: \"+\", near: \":five + :one\""
    );
    assert!(parse_error("ADD a b").contains("Syntax error; token: \"b\""));
    // Both texts as DynamoDB printed them (aws/aws-cdk#7591, nubo-db/dynoxide#12).
    assert_eq!(
        parse_error("ADD hits : incr"),
        "Invalid UpdateExpression: Syntax error; token: \":\", near: \"hits : incr\""
    );
    assert_eq!(
        parse_error("INVALID SYNTAX HERE"),
        "Invalid UpdateExpression: Syntax error; token: \"INVALID\", near: \"INVALID SYNTAX\""
    );
}

#[test]
fn static_operand_type_errors_are_reported_at_parse_time() {
    assert_eq!(
        parse_error("ADD a :s"),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"
    );
    assert_eq!(
        parse_error("DELETE a :one"),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER"
    );
    assert_eq!(
        parse_error("SET a = :s + :one"),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S"
    );
    assert_eq!(
        parse_error("SET a = list_append(:s, :l)"),
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: S"
    );
    assert_eq!(
        parse_error("SET a = if_not_exists(:s, :l)"),
        "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists"
    );
    assert_eq!(
        parse_error("SET a = list_append(:l)"),
        "Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: list_append, number of operands: 1"
    );
    assert_eq!(
        parse_error("SET a = frobnicate(:l)"),
        "Invalid UpdateExpression: Invalid function name; function: frobnicate"
    );
}

#[test]
fn update_reports_reserved_words_and_undefined_placeholders() {
    assert_eq!(
        parse_error("SET status = :one"),
        "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status"
    );
    assert_eq!(
        parse_error("SET #nope = :one"),
        "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #nope"
    );
    assert_eq!(
        parse_error("SET a = :nope"),
        "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :nope"
    );
}

#[test]
fn touched_names_and_updated_projection_cover_every_action() {
    let mut inputs = inputs(Value::Null, values());
    let update = parse_update("SET a.b = :one, c = :s REMOVE d ADD a.z :one", &mut inputs).unwrap();
    assert_eq!(update.touched_top_level_names(), vec!["a", "c", "d"]);
    let item = item_from_json(&json!({
        "a": {"M": {"b": {"N": "1"}, "second": {"N": "2"}, "z": {"N": "3"}}},
        "c": {"S": "x"}, "e": {"S": "untouched"}
    }))
    .unwrap();
    assert_eq!(
        item_to_json(&update.updated_projection().apply(&item)),
        json!({"a": {"M": {"b": {"N": "1"}, "z": {"N": "3"}}}, "c": {"S": "x"}})
    );
}

#[test]
fn arithmetic_overflow_is_a_validation_error() {
    let mut inputs = inputs(
        Value::Null,
        json!({":big": {"N": "9.9999999999999999999999999999999999999E+125"}}),
    );
    let update = parse_update("SET n = :big + :big", &mut inputs).unwrap();
    let mut item = Item::new();
    assert_eq!(
        update.apply(&mut item).unwrap_err().message,
        crate::dynamodb::number::OVERFLOW
    );
}

#[test]
fn updates_cannot_nest_values_deeper_than_32_levels() {
    let mut deep = json!({"S": "leaf"});
    for _ in 0..31 {
        deep = json!({"L": [deep]});
    }
    let mut inputs = inputs(Value::Null, json!({":deep": deep}));
    let update = parse_update("SET doc.arr[0] = :deep", &mut inputs).unwrap();
    let mut item = start();
    assert!(
        update
            .apply(&mut item)
            .unwrap_err()
            .message
            .contains("Nesting Levels")
    );
}

#[test]
fn remove_under_a_missing_parent_is_invalid_but_a_missing_leaf_is_ignored() {
    // DynamoDB refuses REMOVE x.y without a map x, but ignores a missing y
    // (scylladb/scylladb#10043 documents both against DynamoDB).
    assert_eq!(
        run("REMOVE nope.x").unwrap_err(),
        "The document path provided in the update expression is invalid for update"
    );
    assert_eq!(
        run("REMOVE #t.x").unwrap_err(),
        "The document path provided in the update expression is invalid for update"
    );
    let r = run("REMOVE doc.nokey, doc.arr[5]").unwrap();
    assert_eq!(attr(&r, "doc"), attr(&item_to_json(&start()), "doc"));
}

#[test]
fn add_and_delete_reach_into_nested_documents() {
    let mut inputs = inputs(Value::Null, json!({":n": {"N": "2"}, ":s": {"SS": ["q"]}}));
    let update = parse_update("ADD doc.child.x :n, doc.tags :s", &mut inputs).unwrap();
    let mut item = start();
    update.apply(&mut item).unwrap();
    let doc = item_to_json(&item)["doc"].clone();
    assert_eq!(doc["M"]["child"]["M"]["x"], json!({"N": "3"}));
    assert_eq!(doc["M"]["tags"], json!({"SS": ["q"]}));
    let mut inputs2 = self::inputs(Value::Null, json!({":n": {"N": "2"}}));
    let update = parse_update("ADD nope.x :n", &mut inputs2).unwrap();
    assert_eq!(
        update.apply(&mut start()).unwrap_err().message,
        "The document path provided in the update expression is invalid for update"
    );
}

#[test]
fn an_update_can_build_an_item_from_nothing() {
    let mut inputs = inputs(
        Value::Null,
        json!({":m": {"M": {}}, ":one": {"N": "1"}, ":l": {"L": []}}),
    );
    let update = parse_update(
        "SET doc = :m, hits = if_not_exists(hits, :one), seen = list_append(if_not_exists(seen, :l), :l)",
        &mut inputs,
    )
    .unwrap();
    let mut item = Item::new();
    update.apply(&mut item).unwrap();
    assert_eq!(
        item_to_json(&item),
        json!({"doc": {"M": {}}, "hits": {"N": "1"}, "seen": {"L": []}})
    );
}

#[test]
fn parenthesized_values_and_operands_are_accepted_in_set() {
    let r = run("SET a = (#c + :one), b = (#c) - (:one), c = (:s)").unwrap();
    assert_eq!(attr(&r, "a"), json!({"N": "11"}));
    assert_eq!(attr(&r, "b"), json!({"N": "9"}));
    assert_eq!(attr(&r, "c"), json!({"S": "str"}));
}

#[test]
fn functions_that_belong_to_conditions_are_refused_in_updates() {
    assert_eq!(
        parse_error("SET a = size(lst)"),
        "Invalid UpdateExpression: The function is not allowed in an update expression; function: size"
    );
}

#[test]
fn empty_update_expression_is_rejected() {
    assert_eq!(
        parse_error(""),
        "Invalid UpdateExpression: The expression can not be empty;"
    );
    assert_eq!(
        parse_error("   "),
        "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"   \""
    );
}
