//! Property tests: no parse function panics on random text or random token soup (and
//! evaluating/applying whatever parses does not panic either), attribute values
//! round-trip through their wire form, and number arithmetic matches an integer oracle.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::dynamodb::number::Number;
use crate::dynamodb::types::item_from_json;

const VOCABULARY: &[&str] = &[
    "a",
    "b",
    "#n",
    "#m",
    ":v",
    ":w",
    ":l",
    ":s",
    "(",
    ")",
    "[",
    "]",
    "0",
    "1",
    "99",
    ",",
    ".",
    "=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "AND",
    "OR",
    "NOT",
    "BETWEEN",
    "IN",
    "SET",
    "REMOVE",
    "ADD",
    "DELETE",
    "size",
    "contains",
    "begins_with",
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "if_not_exists",
    "list_append",
    "status",
    "#x",
    ":x",
    "!",
    "é",
    "\t",
];

fn fresh_inputs() -> ExprInputs {
    let names = json!({"#n": "a", "#m": "map"});
    let values = json!({
        ":v": {"N": "1"}, ":w": {"S": "w"}, ":l": {"L": [{"N": "2"}]}, ":s": {"SS": ["x"]}
    });
    ExprInputs::from_request(Some(&names), Some(&values)).unwrap()
}

fn sample() -> Item {
    item_from_json(&json!({
        "a": {"N": "5"}, "b": {"L": [{"S": "x"}, {"M": {"a": {"N": "1"}}}]},
        "map": {"M": {"a": {"SS": ["x", "y"]}}}
    }))
    .unwrap()
}

/// Runs every parser over `text`; whatever parses is also evaluated or applied.
fn exercise(text: &str) {
    let item = sample();
    if let Ok(cond) = parse_condition(text, &mut fresh_inputs()) {
        cond.evaluate(Some(&item));
        cond.evaluate(None);
    }
    if let Ok(cond) = parse_filter(text, &mut fresh_inputs()) {
        cond.evaluate(Some(&item));
    }
    let _ = parse_key_condition(text, &mut fresh_inputs());
    if let Ok(update) = parse_update(text, &mut fresh_inputs()) {
        let mut copy = item.clone();
        let _ = update.apply(&mut copy);
        let _ = update.apply(&mut Item::new());
        update.updated_projection().apply(&item);
    }
    if let Ok(projection) = parse_projection(text, &mut fresh_inputs()) {
        projection.apply(&item);
    }
}

fn scalar() -> impl Strategy<Value = AttrValue> {
    prop_oneof![
        ".{0,12}".prop_map(AttrValue::S),
        (any::<bool>(), "[1-9][0-9]{0,20}", -100i32..100).prop_map(|(neg, digits, exp)| {
            let text = format!("{}{digits}e{exp}", if neg { "-" } else { "" });
            AttrValue::N(Number::parse(&text).unwrap())
        }),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(AttrValue::B),
        any::<bool>().prop_map(AttrValue::Bool),
        Just(AttrValue::Null),
        proptest::collection::btree_set(".{0,5}", 1..4)
            .prop_map(|s| AttrValue::Ss(s.into_iter().collect())),
        proptest::collection::btree_set(any::<i64>(), 1..4).prop_map(|s| {
            let mut v = AttrValue::Ns(
                s.into_iter()
                    .map(|n| Number::parse(&n.to_string()).unwrap())
                    .collect(),
            );
            v.normalize_set();
            v
        }),
        proptest::collection::btree_set(proptest::collection::vec(any::<u8>(), 0..4), 1..4)
            .prop_map(|s| AttrValue::Bs(s.into_iter().collect())),
    ]
}

fn attr_value() -> impl Strategy<Value = AttrValue> {
    scalar().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AttrValue::L),
            proptest::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m: BTreeMap<String, AttrValue>| AttrValue::M(m)),
        ]
    })
}

/// Arbitrary JSON whose object keys are mostly DynamoDB type tags, so the attribute
/// value parser sees many near-valid shapes.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[0-9a-zA-Z.+=/eE-]{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(5, 48, 4, |inner| {
        let tag = proptest::sample::select(
            &[
                "S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS", ":v", "#n", "x",
            ][..],
        );
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(tag, inner, 0..3).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_the_value_parsers(v in json_value()) {
        if let Ok(value) = AttrValue::from_json(&v) {
            // Whatever is accepted prints and re-parses to the same value.
            prop_assert_eq!(AttrValue::from_json(&value.to_json()).unwrap(), value.clone());
            let _ = value.size();
        }
        let _ = crate::dynamodb::types::item_from_json(&v);
        let _ = ExprInputs::from_request(Some(&v), Some(&v));
    }

    #[test]
    fn random_text_never_panics_any_parser(text in "\\PC{0,80}") {
        exercise(&text);
    }

    #[test]
    fn random_token_soup_never_panics_any_parser(
        words in proptest::collection::vec(proptest::sample::select(VOCABULARY), 0..24),
        glue in proptest::collection::vec(proptest::sample::select(&[" ", "", "  "][..]), 24),
    ) {
        let text: String = words
            .iter()
            .zip(glue.iter())
            .map(|(w, g)| format!("{w}{g}"))
            .collect();
        exercise(&text);
    }

    #[test]
    fn attribute_values_round_trip_through_json(value in attr_value()) {
        let wire = value.to_json();
        let back = AttrValue::from_json(&wire).unwrap();
        prop_assert_eq!(back, value);
    }

    #[test]
    fn number_arithmetic_matches_integer_arithmetic(a in any::<i64>(), b in any::<i64>()) {
        let (x, y) = (Number::parse(&a.to_string()).unwrap(), Number::parse(&b.to_string()).unwrap());
        prop_assert_eq!(x.add(&y).unwrap().to_string(), (i128::from(a) + i128::from(b)).to_string());
        prop_assert_eq!(x.sub(&y).unwrap().to_string(), (i128::from(a) - i128::from(b)).to_string());
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
    }

    #[test]
    fn scaled_numbers_compare_like_their_integer_mantissas(a in any::<i32>(), b in any::<i32>(), exp in -100i32..100) {
        let x = Number::parse(&format!("{a}e{exp}")).unwrap();
        let y = Number::parse(&format!("{b}e{exp}")).unwrap();
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        prop_assert_eq!(Number::parse(&x.to_string()).unwrap(), x);
    }
}

/// One top-level action for the update oracle.
#[derive(Debug, Clone)]
enum Op {
    Set(usize, i64),
    Remove(usize),
    Add(usize, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6usize, -50i64..50).prop_map(|(a, v)| Op::Set(a, v)),
        (0..6usize).prop_map(Op::Remove),
        (0..6usize, -50i64..50).prop_map(|(a, v)| Op::Add(a, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random SET/REMOVE/ADD over distinct top-level attributes, checked against a
    /// from-scratch model: SETs, then REMOVEs, then ADDs (missing counts as 0).
    #[test]
    fn update_application_matches_a_simple_model(
        start in proptest::collection::btree_map(0..6usize, -50i64..50, 0..6),
        ops in proptest::collection::vec(op(), 1..6),
    ) {
        let mut seen = std::collections::BTreeSet::new();
        let ops: Vec<Op> = ops
            .into_iter()
            .filter(|o| seen.insert(match o { Op::Set(a, _) | Op::Remove(a) | Op::Add(a, _) => *a }))
            .collect();
        let mut clauses: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut values = serde_json::Map::new();
        for (i, o) in ops.iter().enumerate() {
            let (clause, text) = match o {
                Op::Set(a, v) => { values.insert(format!(":v{i}"), json!({"N": v.to_string()})); ("SET", format!("a{a} = :v{i}")) }
                Op::Remove(a) => ("REMOVE", format!("a{a}")),
                Op::Add(a, v) => { values.insert(format!(":v{i}"), json!({"N": v.to_string()})); ("ADD", format!("a{a} :v{i}")) }
            };
            clauses.entry(clause).or_default().push(text);
        }
        let text: Vec<String> = clauses.iter().map(|(c, parts)| format!("{c} {}", parts.join(", "))).collect();
        let values = serde_json::Value::Object(values);
        let mut inputs = ExprInputs::from_request(None, (!ops.iter().all(|o| matches!(o, Op::Remove(_)))).then_some(&values)).unwrap();
        let update = parse_update(&text.join(" "), &mut inputs).unwrap();
        inputs.finish().unwrap();

        let mut item: Item = start.iter().map(|(a, v)| (format!("a{a}"), AttrValue::N(Number::parse(&v.to_string()).unwrap()))).collect();
        update.apply(&mut item).unwrap();

        let mut model: BTreeMap<usize, i64> = start.clone();
        for o in &ops { if let Op::Set(a, v) = o { model.insert(*a, *v); } }
        for o in &ops { if let Op::Remove(a) = o { model.remove(a); } }
        for o in &ops { if let Op::Add(a, v) = o { *model.entry(*a).or_insert(0) += v; } }
        let expected: Item = model.iter().map(|(a, v)| (format!("a{a}"), AttrValue::N(Number::parse(&v.to_string()).unwrap()))).collect();
        prop_assert_eq!(item, expected);
    }

    #[test]
    fn any_valid_decimal_text_round_trips_through_its_normal_form(
        neg in any::<bool>(),
        int in "[0-9]{0,20}",
        frac in "[0-9]{0,17}",
        exp in -90i32..90,
    ) {
        prop_assume!(!(int.is_empty() && frac.is_empty()));
        let text = format!("{}{int}.{frac}e{exp}", if neg { "-" } else { "" });
        let n = Number::parse(&text).unwrap();
        let shown = n.to_string();
        prop_assert!(!shown.contains('e') && !shown.ends_with('.'));
        prop_assert!(!shown.contains('.') || !shown.ends_with('0'));
        prop_assert_eq!(Number::parse(&shown).unwrap(), n);
    }
}

#[test]
fn deeply_nested_parentheses_are_a_syntax_error_not_a_stack_overflow() {
    let text = format!("{}a = :v{}", "(".repeat(2000), ")".repeat(2000));
    let err = parse_condition(&text, &mut fresh_inputs()).unwrap_err();
    assert_eq!(err.code(), "ValidationException");
    let text = format!("SET a = {}:v{}", "(".repeat(1500), ")".repeat(1500));
    assert!(parse_update(&text, &mut fresh_inputs()).is_err());
    let text = format!("{}a = :v", "NOT ".repeat(1000));
    assert!(parse_condition(&text, &mut fresh_inputs()).is_err());
}
