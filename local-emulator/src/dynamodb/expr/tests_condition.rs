//! Tests of condition and filter expressions: grammar, static errors, evaluation.

use serde_json::{Value, json};

use super::*;
use crate::dynamodb::types::item_from_json;

pub(super) fn inputs(names: Value, values: Value) -> ExprInputs {
    let names = (!names.is_null()).then_some(&names);
    let values = (!values.is_null()).then_some(&values);
    ExprInputs::from_request(names, values).unwrap()
}

pub(super) fn item(v: Value) -> Item {
    item_from_json(&v).unwrap()
}

pub(super) fn sample() -> Item {
    item(json!({
        "pk": {"S": "user#1"},
        "age": {"N": "42"},
        "name": {"S": "Ada"},
        "tags": {"SS": ["a", "b"]},
        "nums": {"NS": ["1", "2"]},
        "bin": {"B": "AAEC"},
        "lst": {"L": [{"S": "x"}, {"N": "7"}]},
        "map": {"M": {"child": {"S": "deep"}, "n": {"N": "3"}}},
        "flag": {"BOOL": true},
        "nothing": {"NULL": true}
    }))
}

fn values() -> Value {
    json!({
        ":s": {"S": "Ada"}, ":n": {"N": "42"}, ":lo": {"N": "40"}, ":hi": {"N": "50"},
        ":pre": {"S": "us"}, ":t": {"S": "SS"}, ":a": {"S": "a"}, ":x": {"S": "x"},
        ":seven": {"N": "7"}, ":one": {"N": "1"}, ":str": {"S": "42"}
    })
}

/// Evaluates `expr` against the sample item, with `#n` → `name` and `values()`.
fn check(expr: &str) -> bool {
    let mut inputs = inputs(json!({"#n": "name", "#m": "map"}), values());
    let cond = parse_condition(expr, &mut inputs).unwrap();
    cond.evaluate(Some(&sample()))
}

fn cond_error(expr: &str) -> String {
    let mut inputs = inputs(json!({"#n": "name"}), values());
    parse_condition(expr, &mut inputs).unwrap_err().message
}

#[test]
fn comparisons_follow_dynamodb_semantics() {
    assert!(check("age = :n"));
    assert!(check("#n = :s"));
    assert!(check("age > :lo AND age < :hi"));
    assert!(check("age >= :n AND age <= :n"));
    assert!(check("age <> :lo"));
    assert!(!check("age < :lo"));
}

#[test]
fn comparing_mismatched_types_is_false_not_an_error() {
    assert!(!check("age = :str"));
    assert!(!check("age < :str"));
    assert!(!check("age > :str"));
    assert!(check("age <> :str"));
}

#[test]
fn missing_attributes_make_comparisons_false_except_not_equal() {
    assert!(!check("absent = :n"));
    assert!(!check("absent < :n"));
    assert!(check("absent <> :n"));
    assert!(check("absent <> gone"));
    assert!(!check("absent = gone"));
    assert!(!check("absent BETWEEN :lo AND :hi"));
    assert!(!check("absent IN (:n, :lo)"));
}

#[test]
fn between_and_in_are_inclusive_membership_tests() {
    assert!(check("age BETWEEN :lo AND :hi"));
    assert!(check("age BETWEEN :n AND :n"));
    assert!(check("age IN (:lo, :n)"));
    assert!(!check("age IN (:lo, :hi)"));
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    // NOT a AND b  ==  (NOT a) AND b
    assert!(!check("NOT age = :n AND age = :n"));
    // a OR b AND c  ==  a OR (b AND c)
    assert!(check("age = :n OR age = :lo AND age = :hi"));
    assert!(!check("(age = :n OR age = :lo) AND age = :hi"));
    assert!(check("NOT (age = :lo)"));
    assert!(check("not age = :lo and age = :n"));
}

#[test]
fn parentheses_group_operands_as_well_as_conditions() {
    assert!(check("(age) = :n"));
    assert!(check("(age = :n)"));
    assert!(check("(age = :n) AND (#n = :s)"));
}

#[test]
fn redundant_parentheses_are_rejected() {
    assert_eq!(
        cond_error("((age = :n))"),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
    assert_eq!(
        cond_error("((age)) = :n"),
        "Invalid ConditionExpression: The expression has redundant parentheses;"
    );
}

#[test]
fn attribute_existence_and_type_functions_inspect_the_item() {
    assert!(check("attribute_exists(age)"));
    assert!(check("attribute_exists(#m.child)"));
    assert!(check("attribute_exists(lst[1])"));
    assert!(!check("attribute_exists(lst[5])"));
    assert!(check("attribute_not_exists(absent)"));
    assert!(check("attribute_not_exists(#m.child.deeper)"));
    assert!(check("attribute_type(tags, :t)"));
    assert!(!check("attribute_type(age, :t)"));
}

#[test]
fn begins_with_works_on_strings_and_binaries() {
    let mut inputs = inputs(
        Value::Null,
        json!({":p": {"S": "user#"}, ":b": {"B": "AA=="}}),
    );
    let cond =
        parse_condition("begins_with(pk, :p) AND begins_with(bin, :b)", &mut inputs).unwrap();
    assert!(cond.evaluate(Some(&sample())));
    assert!(!check("begins_with(#n, :pre)"));
}

#[test]
fn contains_checks_substrings_set_members_and_list_elements() {
    assert!(check("contains(#n, :s)"));
    assert!(check("contains(tags, :a)"));
    assert!(!check("contains(tags, :x)"));
    assert!(check("contains(nums, :one)"));
    assert!(check("contains(lst, :x)"));
    assert!(check("contains(lst, :seven)"));
    assert!(!check("contains(age, :n)"));
}

#[test]
fn size_measures_strings_binaries_and_collections() {
    let mut inputs = inputs(
        Value::Null,
        json!({":three": {"N": "3"}, ":two": {"N": "2"}}),
    );
    let cond = parse_condition(
        "size(name) = :three AND size(bin) = :three AND size(tags) = :two AND size(lst) = :two AND size(map) = :two",
        &mut inputs,
    );
    // `name` is reserved: the error says so.
    assert_eq!(
        cond.unwrap_err().message,
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"
    );
    let mut inputs = inputs_for_size();
    let cond = parse_condition(
        "size(#n) = :three AND size(bin) = :three AND size(tags) = :two AND size(lst) = :two AND size(#m) = :two AND size(#n) > :two",
        &mut inputs,
    )
    .unwrap();
    assert!(cond.evaluate(Some(&sample())));
    let mut inputs = inputs_for_size();
    let on_number = parse_condition(
        "size(age) = :two OR size(#n) = :two OR size(#m) = :three",
        &mut inputs,
    )
    .unwrap();
    assert!(!on_number.evaluate(Some(&sample())));
}

fn inputs_for_size() -> ExprInputs {
    inputs(
        json!({"#n": "name", "#m": "map"}),
        json!({":three": {"N": "3"}, ":two": {"N": "2"}}),
    )
}

#[test]
fn conditions_on_an_absent_item_see_no_attributes() {
    let mut inputs = inputs(Value::Null, json!({":v": {"N": "1"}}));
    let cond = parse_condition("attribute_not_exists(pk) OR version = :v", &mut inputs).unwrap();
    assert!(cond.evaluate(None));
    let mut inputs2 = self::inputs(Value::Null, json!({":v": {"N": "1"}}));
    let cond = parse_condition("version = :v", &mut inputs2).unwrap();
    assert!(!cond.evaluate(None));
}

#[test]
fn syntax_errors_quote_the_token_and_its_neighbours() {
    assert_eq!(
        cond_error("age = = :n"),
        "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= = :n\""
    );
    assert_eq!(
        cond_error("age = "),
        "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"= \""
    );
    assert_eq!(
        cond_error("age"),
        "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"age\""
    );
    assert_eq!(
        cond_error("_hidden = :n"),
        "Invalid ConditionExpression: Syntax error; token: \"_\", near: \"_hidden\""
    );
    assert_eq!(
        cond_error("age ! :n"),
        "Invalid ConditionExpression: Syntax error; token: \"!\", near: \"age ! :n\""
    );
    assert_eq!(
        cond_error("age = :n AND"),
        "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\""
    );
}

#[test]
fn empty_and_oversized_expressions_are_rejected() {
    assert_eq!(
        cond_error(""),
        "Invalid ConditionExpression: The expression can not be empty;"
    );
    let long = format!("a = :n{}", " ".repeat(5000));
    assert!(cond_error(&long).contains("Expression size has exceeded the maximum allowed size"));
}

#[test]
fn reserved_words_must_be_replaced_by_placeholders() {
    assert_eq!(
        cond_error("status = :n"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"
    );
    assert_eq!(
        cond_error("map.Size = :n"),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: map"
    );
}

#[test]
fn undefined_placeholders_are_reported_by_name() {
    assert_eq!(
        cond_error("#x = :n"),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #x"
    );
    assert_eq!(
        cond_error("age = :nope"),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :nope"
    );
}

#[test]
fn function_misuse_is_reported_with_aws_messages() {
    assert_eq!(
        cond_error("foo(age)"),
        "Invalid ConditionExpression: Invalid function name; function: foo"
    );
    assert_eq!(
        cond_error("attribute_exists(age, :n)"),
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"
    );
    assert_eq!(
        cond_error("attribute_exists(:n)"),
        "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists"
    );
    assert_eq!(
        cond_error("begins_with(age, :n)"),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"
    );
    assert_eq!(
        cond_error("size(age)"),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size"
    );
    assert_eq!(
        cond_error("attribute_exists(age) = :n"),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: attribute_exists"
    );
    assert_eq!(
        cond_error("age = age"),
        "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [age]"
    );
    assert_eq!(
        cond_error("size(age, :n) > :n"),
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: size, number of operands: 2"
    );
    let mut inputs = inputs(
        Value::Null,
        json!({":l": {"L": []}, ":b": {"BOOL": true}, ":n": {"N": "1"}}),
    );
    assert_eq!(
        parse_condition("a < :l", &mut inputs).unwrap_err().message,
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <, operand type: LIST"
    );
    assert!(
        parse_condition("a BETWEEN :b AND :b", &mut inputs)
            .unwrap_err()
            .message
            .contains("operator or function: BETWEEN, operand type: BOOLEAN")
    );
    assert!(parse_condition("a = :l OR a <> :b OR a >= :n", &mut inputs).is_ok());
    assert_eq!(
        cond_error("age IN (:n, age)"),
        "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: IN, first operand: [age]"
    );
    assert!(
        cond_error("attribute_type(age, :n)")
            .contains("operator or function: attribute_type, operand type: N")
    );
    assert!(
        cond_error("attribute_type(age, :s)")
            .contains("Invalid attribute type name found; type: Ada")
    );
}

#[test]
fn between_bounds_must_share_a_type_and_be_ordered() {
    assert_eq!(
        cond_error("age BETWEEN :hi AND :lo"),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:50}, upper bound operand: AttributeValue: {N:40}"
    );
    assert!(
        cond_error("age BETWEEN :n AND :s")
            .contains("requires same data type for lower and upper bounds")
    );
}

#[test]
fn in_accepts_at_most_100_values() {
    let mut values = serde_json::Map::new();
    for i in 0..101 {
        values.insert(format!(":v{i}"), json!({"N": i.to_string()}));
    }
    let lst: Vec<String> = (0..101).map(|i| format!(":v{i}")).collect();
    let mut inputs = ExprInputs::from_request(None, Some(&Value::Object(values.clone()))).unwrap();
    let err = parse_condition(&format!("a IN ({})", lst.join(",")), &mut inputs).unwrap_err();
    assert!(
        err.message.contains("number of operands: 101"),
        "{}",
        err.message
    );
    let mut inputs = ExprInputs::from_request(None, Some(&Value::Object(values))).unwrap();
    assert!(parse_condition(&format!("a IN ({})", lst[..100].join(",")), &mut inputs).is_ok());
}

#[test]
fn filter_expression_errors_name_the_filter_member() {
    let mut inputs = ExprInputs::default();
    assert!(
        parse_filter("a = ", &mut inputs)
            .unwrap_err()
            .message
            .starts_with("Invalid FilterExpression: Syntax error")
    );
}

#[test]
fn keywords_and_placeholders_are_case_and_whitespace_tolerant() {
    assert!(check("age\n=\t:n and\r\n#n = :s"));
    assert!(check("age between :lo and :hi"));
    assert!(check("age in (:n)"));
    assert!(check("#m . child = :x OR #m.child <> :x"));
}

#[test]
fn numbers_compare_by_value_in_conditions() {
    let mut inputs = inputs(
        Value::Null,
        json!({":v": {"N": "42.000"}, ":w": {"N": "4.2e1"}}),
    );
    let cond = parse_condition("age = :v AND age = :w AND age IN (:v)", &mut inputs).unwrap();
    assert!(cond.evaluate(Some(&sample())));
}

#[test]
fn sets_compare_equal_regardless_of_order_in_conditions() {
    let mut inputs = inputs(Value::Null, json!({":t": {"SS": ["b", "a"]}}));
    let cond = parse_condition("tags = :t", &mut inputs).unwrap();
    assert!(cond.evaluate(Some(&sample())));
}

#[test]
fn conditions_report_the_top_level_attributes_they_read() {
    let mut inputs = inputs(json!({"#n": "name"}), values());
    let cond = parse_condition(
        "attribute_exists(pk) AND (size(#n) > :n OR contains(lst, :x)) AND NOT age IN (:n, :lo) AND pk <> :s",
        &mut inputs,
    )
    .unwrap();
    assert_eq!(cond.top_level_names(), vec!["pk", "name", "lst", "age"]);
}

#[test]
fn dynamodb_limits_on_operators_list_indexes_and_path_depth_are_enforced() {
    let many = vec!["age = :n"; 151].join(" AND ");
    assert_eq!(
        cond_error(&many),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    assert!(check(&vec!["age = :n"; 150].join(" AND ")));
    assert_eq!(
        cond_error("lst[2147483648] = :n"),
        "Invalid ConditionExpression: List index is not within the allowable range; index: [2147483648]"
    );
    assert_eq!(
        cond_error("lst[99999999999999999999999] = :n"),
        "Invalid ConditionExpression: List index is not within the allowable range; index: [99999999999999999999999]"
    );
    let deep_ok = format!("a{}", ".b".repeat(31));
    assert!(!check(&format!("{deep_ok} = :n")));
    let too_deep = format!("a{}", ".b".repeat(32));
    assert_eq!(
        cond_error(&format!("{too_deep} = :n")),
        "Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
}
