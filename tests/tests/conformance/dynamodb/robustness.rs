//! Robustness: malformed bodies and unknown operations get AWS's 400 errors, random bytes
//! and random expression strings never crash the server, and of 16 concurrent
//! conditional updates on one version exactly one wins.

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shardwise_tests::raw_http::aws_json;
use shardwise_tests::{TestEnv, skip_on};

use super::{code, create_table, n, s};

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

#[tokio::test]
async fn malformed_json_is_a_serialization_exception() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto answers malformed bodies with a 500");
    let r = aws_json(
        &env.authority(),
        "DynamoDB_20120810.PutItem",
        CONTENT_TYPE,
        b"{not json",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.json()["__type"]
            .as_str()
            .unwrap()
            .ends_with("SerializationException")
    );
    let r = aws_json(
        &env.authority(),
        "DynamoDB_20120810.PutItem",
        CONTENT_TYPE,
        br#"{"TableName": 5}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.json()["__type"]
            .as_str()
            .unwrap()
            .ends_with("SerializationException")
    );
}

#[tokio::test]
async fn unknown_operation_is_a_400() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto answers unknown operations with an HTML 500"
    );
    let r = aws_json(
        &env.authority(),
        "DynamoDB_20120810.Frobnicate",
        CONTENT_TYPE,
        b"{}",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.json()["__type"]
            .as_str()
            .unwrap()
            .ends_with("UnknownOperationException")
    );
}

fn random_text(rng: &mut SmallRng, alphabet: &[&str], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
        .collect::<Vec<_>>()
        .join("")
}

#[tokio::test]
async fn random_bytes_and_expressions_never_crash_the_server() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto answers garbage with 500s");
    let t = create_table(&env, None).await;
    let mut rng = SmallRng::seed_from_u64(7);
    let ops = [
        "PutItem",
        "GetItem",
        "UpdateItem",
        "Query",
        "Scan",
        "TransactWriteItems",
        "BatchWriteItem",
        "CreateTable",
    ];
    let tokens = [
        "SET ",
        "REMOVE ",
        "ADD ",
        "DELETE ",
        "a",
        "#n",
        ":v",
        " = ",
        "+",
        "-",
        "(",
        ")",
        "[",
        "]",
        "1",
        ".",
        ",",
        " AND ",
        " OR ",
        "NOT ",
        "size(",
        "attribute_exists(",
        "begins_with(",
        "if_not_exists(",
        "list_append(",
        "BETWEEN",
        " IN ",
        "<>",
        "<=",
        "\"",
        "\u{0}",
        "é",
        "99999999999999999999",
    ];
    for i in 0..300 {
        let op = ops[i % ops.len()];
        let body: Vec<u8> = if i % 3 == 0 {
            (0..rng.random_range(0..64)).map(|_| rng.random()).collect()
        } else {
            let len = rng.random_range(0..12);
            let expr = random_text(&mut rng, &tokens, len);
            serde_json::json!({
                "TableName": t,
                "Key": {"pk": {"S": "k"}},
                "Item": {"pk": {"S": "k"}},
                "UpdateExpression": expr,
                "ConditionExpression": expr,
                "KeyConditionExpression": expr,
                "FilterExpression": expr,
                "ExpressionAttributeNames": {"#n": "n"},
                "ExpressionAttributeValues": {":v": {"N": "1"}},
            })
            .to_string()
            .into_bytes()
        };
        let r = aws_json(
            &env.authority(),
            &format!("DynamoDB_20120810.{op}"),
            CONTENT_TYPE,
            &body,
        )
        .await
        .unwrap();
        if r.status != 200 {
            assert!(
                (400..500).contains(&r.status),
                "{op} {:?} -> {} {}",
                String::from_utf8_lossy(&body),
                r.status,
                r.text()
            );
            assert!(r.json()["__type"].is_string());
        }
    }
    env.dynamodb()
        .put_item()
        .table_name(&t)
        .item("pk", s("still-fine"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn of_sixteen_concurrent_conditional_updates_exactly_one_wins() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .item("pk", s("doc"))
        .item("version", n(1))
        .send()
        .await
        .unwrap();
    let c = Arc::new(c);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (c, t) = (Arc::clone(&c), t.clone());
        tasks.push(tokio::spawn(async move {
            c.update_item()
                .table_name(&t)
                .key("pk", s("doc"))
                .update_expression("SET version = :next, writer = :w")
                .condition_expression("version = :cur")
                .expression_attribute_values(":cur", n(1))
                .expression_attribute_values(":next", n(2))
                .expression_attribute_values(":w", n(i))
                .send()
                .await
                .map_err(|e| code(&e))
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(code) => assert_eq!(code, "ConditionalCheckFailedException"),
        }
    }
    assert_eq!(wins, 1);
}
