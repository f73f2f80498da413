//! TransactWriteItems / TransactGetItems: all-or-nothing, cancellation reasons in action
//! order with the old item, one action per item, ClientRequestToken idempotency.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Get, Put, ReturnValuesOnConditionCheckFailure, TransactGetItem,
    TransactWriteItem, Update,
};
use shardwise_tests::{TestEnv, skip_on};

use super::{code, create_table, item, message, n, s};

fn put(t: &str, pk: &str, v: i64) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(t)
                .set_item(Some(item(&[("pk", s(pk)), ("v", n(v))])))
                .build()
                .unwrap(),
        )
        .build()
}

fn check_absent(t: &str, pk: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name(t)
                .key("pk", s(pk))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn a_failed_condition_cancels_every_action_with_reasons_in_order() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .item("pk", s("taken"))
        .item("v", n(1))
        .send()
        .await
        .unwrap();
    let err = c
        .transact_write_items()
        .transact_items(put(&t, "new", 5))
        .transact_items(check_absent(&t, "taken"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "TransactionCanceledException");
    assert!(
        message(&err).contains("[None, ConditionalCheckFailed]"),
        "{}",
        message(&err)
    );
    match err.into_service_error() {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            let reasons = e.cancellation_reasons();
            assert_eq!(reasons.len(), 2);
            assert_eq!(reasons[0].code(), Some("None"));
            assert_eq!(reasons[1].code(), Some("ConditionalCheckFailed"));
            assert_eq!(reasons[1].item().and_then(|i| i.get("v")), Some(&n(1)));
        }
        other => panic!("unexpected {other:?}"),
    }
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("new"))
        .send()
        .await
        .unwrap();
    assert!(
        got.item().is_none(),
        "nothing of a cancelled transaction is applied"
    );
}

#[tokio::test]
async fn a_successful_transaction_applies_every_action() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    c.put_item()
        .table_name(&t)
        .item("pk", s("acc"))
        .item("v", n(10))
        .send()
        .await
        .unwrap();
    c.transact_write_items()
        .transact_items(put(&t, "a", 1))
        .transact_items(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&t)
                        .key("pk", s("acc"))
                        .update_expression("SET v = v - :d")
                        .condition_expression("v >= :d")
                        .expression_attribute_values(":d", n(3))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(check_absent(&t, "nobody"))
        .send()
        .await
        .unwrap();
    let r = c
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name(&t)
                        .key("pk", s("acc"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name(&t)
                        .key("pk", s("a"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name(&t)
                        .key("pk", s("none"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let responses = r.responses();
    assert_eq!(responses[0].item().unwrap().get("v"), Some(&n(7)));
    assert_eq!(responses[1].item().unwrap().get("v"), Some(&n(1)));
    assert!(responses[2].item().is_none());
}

#[tokio::test]
async fn two_actions_on_one_item_are_rejected() {
    let env = TestEnv::start().await;
    let t = create_table(&env, None).await;
    let err = env
        .dynamodb()
        .transact_write_items()
        .transact_items(put(&t, "x", 1))
        .transact_items(check_absent(&t, "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationException");
    assert!(
        message(&err).contains("multiple operations on one item"),
        "{}",
        message(&err)
    );
}

#[tokio::test]
async fn client_request_token_makes_a_retry_idempotent_and_rejects_other_parameters() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto ignores ClientRequestToken");
    let t = create_table(&env, None).await;
    let c = env.dynamodb();
    let bump = || {
        TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(&t)
                    .key("pk", s("n"))
                    .update_expression("ADD v :one")
                    .expression_attribute_values(":one", n(1))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    for _ in 0..2 {
        c.transact_write_items()
            .client_request_token("tok-1")
            .transact_items(bump())
            .send()
            .await
            .unwrap();
    }
    let got = c
        .get_item()
        .table_name(&t)
        .key("pk", s("n"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.item().unwrap().get("v"),
        Some(&n(1)),
        "the retry did not apply twice"
    );
    let err = c
        .transact_write_items()
        .client_request_token("tok-1")
        .transact_items(put(&t, "other", 1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "IdempotentParameterMismatchException");
}
