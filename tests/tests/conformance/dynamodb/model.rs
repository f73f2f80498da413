//! A model-based property test: random sequences of conditional PutItem, UpdateItem,
//! DeleteItem and TransactWriteItems on a few keys, run against the in-process emulator
//! (through `Emulator::call_json`) and against a tiny reference model written here, must
//! agree on every outcome and on the final items. Seeded and small, so it runs in seconds.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};
use shardwise_emulator::{Config, Emulator};

const KEYS: [&str; 3] = ["a", "b", "c"];
const TABLE: &str = "model";

#[derive(Debug, Clone)]
enum Cond {
    None,
    NotExists,
    VEquals(i64),
}

#[derive(Debug, Clone)]
enum Op {
    Put(usize, i64, Cond),
    Add(usize, i64, Cond),
    Delete(usize, Cond),
    Transact(Vec<(usize, Kind)>),
}

#[derive(Debug, Clone)]
enum Kind {
    Put(i64, Cond),
    Add(i64, Cond),
    Delete(Cond),
    Check(Cond),
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        Just(Cond::None),
        Just(Cond::NotExists),
        (0i64..4).prop_map(Cond::VEquals)
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        (0i64..4, cond()).prop_map(|(v, c)| Kind::Put(v, c)),
        (0i64..3, cond()).prop_map(|(v, c)| Kind::Add(v, c)),
        cond().prop_map(Kind::Delete),
        cond()
            .prop_filter("a check needs a condition", |c| !matches!(c, Cond::None))
            .prop_map(Kind::Check),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..3, 0i64..4, cond()).prop_map(|(k, v, c)| Op::Put(k, v, c)),
        (0usize..3, 0i64..3, cond()).prop_map(|(k, v, c)| Op::Add(k, v, c)),
        (0usize..3, cond()).prop_map(|(k, c)| Op::Delete(k, c)),
        prop::collection::vec((0usize..3, kind()), 1..4).prop_map(Op::Transact),
    ]
}

/// The reference model: key → v.
type Model = BTreeMap<usize, i64>;

fn holds(model: &Model, k: usize, c: &Cond) -> bool {
    match c {
        Cond::None => true,
        Cond::NotExists => !model.contains_key(&k),
        Cond::VEquals(x) => model.get(&k) == Some(x),
    }
}

fn apply_kind(model: &mut Model, k: usize, kind: &Kind) {
    match kind {
        Kind::Put(v, _) => {
            model.insert(k, *v);
        }
        Kind::Add(d, _) => *model.entry(k).or_insert(0) += d,
        Kind::Delete(_) => {
            model.remove(&k);
        }
        Kind::Check(_) => {}
    }
}

fn kind_cond(kind: &Kind) -> &Cond {
    match kind {
        Kind::Put(_, c) | Kind::Add(_, c) | Kind::Delete(c) | Kind::Check(c) => c,
    }
}

/// The model's outcome of an operation.
fn model_step(model: &mut Model, op: &Op) -> &'static str {
    let single = |model: &mut Model, k: usize, kind: Kind| {
        if holds(model, k, kind_cond(&kind)) {
            apply_kind(model, k, &kind);
            "ok"
        } else {
            "ConditionalCheckFailedException"
        }
    };
    match op {
        Op::Put(k, v, c) => single(model, *k, Kind::Put(*v, c.clone())),
        Op::Add(k, d, c) => single(model, *k, Kind::Add(*d, c.clone())),
        Op::Delete(k, c) => single(model, *k, Kind::Delete(c.clone())),
        Op::Transact(actions) => {
            let mut keys: Vec<usize> = actions.iter().map(|(k, _)| *k).collect();
            keys.sort_unstable();
            keys.dedup();
            if keys.len() != actions.len() {
                return "ValidationException";
            }
            if actions
                .iter()
                .all(|(k, kind)| holds(model, *k, kind_cond(kind)))
            {
                for (k, kind) in actions {
                    apply_kind(model, *k, kind);
                }
                "ok"
            } else {
                "TransactionCanceledException"
            }
        }
    }
}

/// Adds the condition members to a request.
fn with_cond(mut body: Value, c: &Cond, values: &mut serde_json::Map<String, Value>) -> Value {
    match c {
        Cond::None => {}
        Cond::NotExists => body["ConditionExpression"] = json!("attribute_not_exists(pk)"),
        Cond::VEquals(x) => {
            body["ConditionExpression"] = json!("v = :cv");
            values.insert(":cv".into(), json!({"N": x.to_string()}));
        }
    }
    body
}

fn request(k: usize, kind: &Kind) -> (&'static str, Value) {
    let key = json!({"pk": {"S": KEYS[k]}});
    let mut values = serde_json::Map::new();
    let (name, body) = match kind {
        Kind::Put(v, c) => (
            "Put",
            with_cond(
                json!({"TableName": TABLE, "Item": {"pk": {"S": KEYS[k]}, "v": {"N": v.to_string()}}}),
                c,
                &mut values,
            ),
        ),
        Kind::Add(d, c) => {
            values.insert(":d".into(), json!({"N": d.to_string()}));
            values.insert(":z".into(), json!({"N": "0"}));
            (
                "Update",
                with_cond(
                    json!({"TableName": TABLE, "Key": key, "UpdateExpression": "SET v = if_not_exists(v, :z) + :d"}),
                    c,
                    &mut values,
                ),
            )
        }
        Kind::Delete(c) => (
            "Delete",
            with_cond(json!({"TableName": TABLE, "Key": key}), c, &mut values),
        ),
        Kind::Check(c) => (
            "ConditionCheck",
            with_cond(json!({"TableName": TABLE, "Key": key}), c, &mut values),
        ),
    };
    let mut body = body;
    if !values.is_empty() {
        body["ExpressionAttributeValues"] = Value::Object(values);
    }
    (name, body)
}

async fn emulator_step(emulator: &Emulator, op: &Op) -> String {
    let (target, body) = match op {
        Op::Put(k, v, c) => ("PutItem", request(*k, &Kind::Put(*v, c.clone())).1),
        Op::Add(k, d, c) => ("UpdateItem", request(*k, &Kind::Add(*d, c.clone())).1),
        Op::Delete(k, c) => ("DeleteItem", request(*k, &Kind::Delete(c.clone())).1),
        Op::Transact(actions) => {
            let items: Vec<Value> = actions
                .iter()
                .map(|(k, kind)| {
                    let (name, body) = request(*k, kind);
                    json!({ name: body })
                })
                .collect();
            ("TransactWriteItems", json!({"TransactItems": items}))
        }
    };
    let target = format!("DynamoDB_20120810.{target}");
    match emulator
        .call_json(&target, body.to_string().as_bytes())
        .await
    {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

async fn final_items(emulator: &Emulator) -> Model {
    let mut out = Model::new();
    for (i, k) in KEYS.iter().enumerate() {
        let body = json!({"TableName": TABLE, "Key": {"pk": {"S": k}}, "ConsistentRead": true});
        let r = emulator
            .call_json("DynamoDB_20120810.GetItem", body.to_string().as_bytes())
            .await
            .unwrap();
        if let Some(v) = r["Item"]["v"]["N"].as_str() {
            out.insert(i, v.parse().unwrap());
        }
    }
    out
}

#[test]
fn random_conditional_writes_agree_with_a_reference_model() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = PropConfig {
        cases: 48,
        failure_persistence: None,
        ..PropConfig::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    runner
        .run(&prop::collection::vec(op(), 1..25), |ops| {
            runtime.block_on(async {
                let emulator = Emulator::new(Config::default());
                let create = json!({
                    "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                });
                emulator
                    .call_json(
                        "DynamoDB_20120810.CreateTable",
                        create.to_string().as_bytes(),
                    )
                    .await
                    .unwrap();
                let mut model = Model::new();
                for op in &ops {
                    let expected = model_step(&mut model, op);
                    let got = emulator_step(&emulator, op).await;
                    prop_assert_eq!(got.as_str(), expected, "op {:?}", op);
                }
                prop_assert_eq!(final_items(&emulator).await, model);
                Ok(())
            })
        })
        .unwrap();
}
