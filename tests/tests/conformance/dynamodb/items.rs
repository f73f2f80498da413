//! Single-item operations: PutItem, GetItem, UpdateItem, DeleteItem with conditions,
//! ReturnValues, ReturnValuesOnConditionCheckFailure, key and size validation.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use shardwise_tests::{TestEnv, skip_on};

use super::{code, create_table, item, message, n, s};

#[tokio::test]
async fn put_then_get_returns_the_item_and_projection_limits_attributes() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .set_item(Some(item(&[("pk", s("a")), ("x", n(1)), ("y", s("why"))])))
        .send()
        .await
        .unwrap();
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(got.item().unwrap().get("y"), Some(&s("why")));
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .projection_expression("x")
        .send()
        .await
        .unwrap();
    let it = got.item().unwrap();
    assert_eq!(it.len(), 1);
    assert_eq!(it.get("x"), Some(&n(1)));
    let missing = c
        .get_item()
        .table_name(&t)
        .key("pk", s("zz"))
        .send()
        .await
        .unwrap();
    assert!(missing.item().is_none());
}

#[tokio::test]
async fn numbers_are_normalized_on_output() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto does not normalize numbers");
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("v", n("0010.500"))
        .send()
        .await
        .unwrap();
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.item().unwrap().get("v"), Some(&n("10.5")));
}

#[tokio::test]
async fn failed_condition_returns_the_old_item_when_asked() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("v", n(1))
        .send()
        .await
        .unwrap();
    let err = c
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("v", n(2))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ConditionalCheckFailedException");
    assert_eq!(message(&err), "The conditional request failed");
    match err.into_service_error() {
        PutItemError::ConditionalCheckFailedException(e) => {
            assert_eq!(e.item().and_then(|i| i.get("v")), Some(&n(1)));
        }
        other => panic!("unexpected {other:?}"),
    }
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.item().unwrap().get("v"),
        Some(&n(1)),
        "failed write left no trace"
    );
}

#[tokio::test]
async fn put_returns_all_old_and_rejects_all_new() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("v", n(1))
        .send()
        .await
        .unwrap();
    let out = c
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("v", n(2))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes().unwrap().get("v"), Some(&n(1)));
    let err = c
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn update_item_upserts_and_returns_updated_new() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("counter"))
        .update_expression("SET hits = if_not_exists(hits, :zero) + :one")
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes().unwrap().get("hits"), Some(&n(1)));
    let out = c
        .update_item()
        .table_name(&t)
        .key("pk", s("counter"))
        .update_expression("SET hits = hits + :one")
        .condition_expression("hits = :one")
        .expression_attribute_values(":one", n(1))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes().unwrap().get("hits"), Some(&n(1)));
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("counter"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.item().unwrap().get("hits"), Some(&n(2)));
}

#[tokio::test]
async fn updating_a_key_attribute_is_rejected() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let err = env
        .dynamodb()
        .update_item()
        .table_name(&t)
        .key("pk", s("a"))
        .update_expression("SET pk = :v")
        .expression_attribute_values(":v", s("b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("Cannot update attribute pk. This attribute is part of the key"),
        "{}",
        message(&err)
    );
}

#[tokio::test]
async fn key_type_mismatch_and_missing_key_are_validation_errors() {
    let env = TestEnv::start().await;
    let t = create_table(&env, Some(ScalarAttributeType::N)).await;
    let c = env.dynamodb();
    let err = c
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("sk", s("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("Type mismatch for key"),
        "{}",
        message(&err)
    );
    let err = c
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    let err = c
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    skip_on!(
        env,
        Moto,
        "moto's message for a key missing its sort key is 'Validation Exception'"
    );
    assert!(
        message(&err).contains("does not match the schema"),
        "{}",
        message(&err)
    );
}

#[tokio::test]
async fn oversized_items_and_keys_are_rejected() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    let big = "x".repeat(401 * 1024);
    let err = c
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("v", s(&big))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(message(&err).contains("Item size has exceeded the maximum allowed size"));
    let long_key = "k".repeat(2049);
    let err = c
        .put_item()
        .table_name(&t)
        .item("pk", s(&long_key))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
}

#[tokio::test]
async fn delete_with_condition_and_all_old() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .item("v", n(7))
        .send()
        .await
        .unwrap();
    let err = c
        .delete_item()
        .table_name(&t)
        .key("pk", s("a"))
        .condition_expression("v = :x")
        .expression_attribute_values(":x", n(8))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ConditionalCheckFailedException");
    let out = c
        .delete_item()
        .table_name(&t)
        .key("pk", s("a"))
        .condition_expression("v = :x")
        .expression_attribute_values(":x", n(7))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes().unwrap().get("v"), Some(&n(7)));
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    assert!(got.item().is_none());
}

#[tokio::test]
async fn writing_to_a_missing_table_is_resource_not_found() {
    let env = TestEnv::start().await;
    let err = env
        .dynamodb()
        .put_item()
        .table_name(env.unique_name("missing"))
        .item("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ResourceNotFoundException");
}

#[tokio::test]
async fn attribute_values_without_any_expression_are_rejected() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto accepts ExpressionAttributeValues without any expression"
    );
    let t = create_table(&env, None).await;
    let err = env
        .dynamodb()
        .put_item()
        .table_name(&t)
        .item("pk", s("a"))
        .expression_attribute_values(":v", n(1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert_eq!(
        message(&err),
        "ExpressionAttributeValues can only be specified when using expressions"
    );
}
