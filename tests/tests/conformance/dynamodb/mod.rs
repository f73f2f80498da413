//! DynamoDB conformance cases, one module per area: control plane, single-item writes
//! and conditions, reads (Query/Scan/batches), transactions, capacity and knobs, and
//! robustness (malformed bodies, random input, concurrency, a model-based property test).
//!
//! Helpers here create tables through the SDK with unique names, so the same cases run
//! against the in-process emulator and against moto.

mod bench;
mod capacity;
mod items;
mod limits;
mod model;
mod reads;
mod robustness;
mod tables;
mod transact;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use shardwise_tests::TestEnv;

/// An item as the SDK spells it.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// An item from (name, value) pairs.
pub fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A client that does not retry, so throttling and errors are observed as sent.
pub fn no_retry_client(env: &TestEnv) -> Client {
    let conf = aws_sdk_dynamodb::config::Builder::from(&env.sdk_config)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// Creates an on-demand table keyed by `pk` (S) and optionally `sk` of `sort_type`.
pub async fn create_table(env: &TestEnv, sort_type: Option<ScalarAttributeType>) -> String {
    let name = env.unique_name("ddb");
    let client = env.dynamodb();
    let mut req = client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash));
    if let Some(t) = sort_type {
        req = req
            .attribute_definitions(attr("sk", t))
            .key_schema(key("sk", KeyType::Range));
    }
    req.send().await.expect("create table");
    name
}

/// An attribute definition.
pub fn attr(name: &str, t: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(t)
        .build()
        .unwrap()
}

/// A key schema element.
pub fn key(name: &str, t: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(t)
        .build()
        .unwrap()
}

/// The error code of a failed SDK call.
pub fn code<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    err.code().unwrap_or("<none>").to_owned()
}

/// The error message of a failed SDK call.
pub fn message<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    err.message().unwrap_or("").to_owned()
}
