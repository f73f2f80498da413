//! DynamoDB workloads for the emulator-vs-moto benchmark: a conditional UpdateItem
//! (the exactly-once commit), a 100-key BatchGetItem, a one-page Query of 100 items and
//! a 10-action TransactWriteItems. Each setup creates its own on-demand table.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    ScalarAttributeType, TransactWriteItem, Update,
};

use super::{Op, Workload, payload};
use crate::TestEnv;

/// Items seeded per table.
const SEEDED: u64 = 100;

type SetupFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Op>> + Send + 'a>>;

/// This service's workloads.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "DynamoDB UpdateItem (conditional)",
            setup: update_setup,
        },
        Workload {
            name: "DynamoDB BatchGetItem (100 keys)",
            setup: batch_get_setup,
        },
        Workload {
            name: "DynamoDB Query (1 page)",
            setup: query_setup,
        },
        Workload {
            name: "DynamoDB TransactWriteItems (10 actions)",
            setup: transact_setup,
        },
    ]
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Creates a table keyed by `pk` (S) and, when `sorted`, `sk` (N).
async fn create(env: &TestEnv, client: &Client, sorted: bool) -> anyhow::Result<String> {
    let name = env.unique_name("bench");
    let def = |n: &str, t| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
            .build()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
    };
    let mut req = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(def("pk", ScalarAttributeType::S)?)
        .key_schema(key("pk", KeyType::Hash)?);
    if sorted {
        req = req
            .attribute_definitions(def("sk", ScalarAttributeType::N)?)
            .key_schema(key("sk", KeyType::Range)?);
    }
    req.send().await?;
    Ok(name)
}

/// Seeds `SEEDED` items of ~100 B: `k<i>` keys, or one partition `p` with sort keys.
async fn seed(client: &Client, table: &str, sorted: bool) -> anyhow::Result<()> {
    let body = String::from_utf8(payload(100, 1))?;
    for i in 0..SEEDED {
        let req = client
            .put_item()
            .table_name(table)
            .item("v", n(0))
            .item("body", s(body.clone()));
        let req = if sorted {
            req.item("pk", s("p")).item("sk", n(i))
        } else {
            req.item("pk", s(format!("k{i}")))
        };
        req.send().await?;
    }
    Ok(())
}

fn update_setup(env: &TestEnv) -> SetupFuture<'_> {
    Box::pin(async move {
        let client = env.dynamodb();
        let table = create(env, &client, false).await?;
        seed(&client, &table, false).await?;
        let op: Op = Arc::new(move |i| {
            let (client, table) = (client.clone(), table.clone());
            Box::pin(async move {
                client
                    .update_item()
                    .table_name(&table)
                    .key("pk", s(format!("k{}", i % SEEDED)))
                    .update_expression("SET v = v + :one")
                    .condition_expression("attribute_exists(pk) AND v >= :zero")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":zero", n(0))
                    .send()
                    .await?;
                Ok(())
            })
        });
        Ok(op)
    })
}

fn batch_get_setup(env: &TestEnv) -> SetupFuture<'_> {
    Box::pin(async move {
        let client = env.dynamodb();
        let table = create(env, &client, false).await?;
        seed(&client, &table, false).await?;
        let keys: Vec<_> = (0..SEEDED)
            .map(|i| {
                [("pk".to_owned(), s(format!("k{i}")))]
                    .into_iter()
                    .collect()
            })
            .collect();
        let request = KeysAndAttributes::builder().set_keys(Some(keys)).build()?;
        let op: Op = Arc::new(move |_| {
            let (client, table, request) = (client.clone(), table.clone(), request.clone());
            Box::pin(async move {
                let out = client
                    .batch_get_item()
                    .request_items(&table, request)
                    .send()
                    .await?;
                let got = out
                    .responses()
                    .and_then(|r| r.get(&table))
                    .map_or(0, Vec::len);
                anyhow::ensure!(got == SEEDED as usize, "BatchGetItem returned {got} items");
                Ok(())
            })
        });
        Ok(op)
    })
}

fn query_setup(env: &TestEnv) -> SetupFuture<'_> {
    Box::pin(async move {
        let client = env.dynamodb();
        let table = create(env, &client, true).await?;
        seed(&client, &table, true).await?;
        let op: Op = Arc::new(move |_| {
            let (client, table) = (client.clone(), table.clone());
            Box::pin(async move {
                let out = client
                    .query()
                    .table_name(&table)
                    .key_condition_expression("pk = :p")
                    .expression_attribute_values(":p", s("p"))
                    .send()
                    .await?;
                anyhow::ensure!(
                    out.count() == SEEDED as i32,
                    "Query returned {}",
                    out.count()
                );
                Ok(())
            })
        });
        Ok(op)
    })
}

fn transact_setup(env: &TestEnv) -> SetupFuture<'_> {
    Box::pin(async move {
        let client = env.dynamodb();
        let table = create(env, &client, false).await?;
        let op: Op = Arc::new(move |i| {
            let (client, table) = (client.clone(), table.clone());
            Box::pin(async move {
                let mut req = client.transact_write_items();
                for j in 0..10 {
                    let update = Update::builder()
                        .table_name(&table)
                        .key("pk", s(format!("t{}", i * 10 + j)))
                        .update_expression("ADD v :one")
                        .expression_attribute_values(":one", n(1))
                        .build()?;
                    req = req.transact_items(TransactWriteItem::builder().update(update).build());
                }
                req.send().await?;
                Ok(())
            })
        });
        Ok(op)
    })
}
