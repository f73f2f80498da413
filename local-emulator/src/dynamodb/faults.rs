//! The service-side errors (transactions, throttling, limits) — kept apart from the
//! expression engineer's `errors.rs`, built on its `client_error` so every `__type`
//! carries DynamoDB's namespace.

use serde_json::Value;

use super::errors::client_error;
use crate::error::AwsJsonError;

/// `TransactionCanceledException` with one reason per action, in action order.
pub fn transaction_canceled(reasons: Vec<Value>) -> AwsJsonError {
    let codes: Vec<&str> = reasons
        .iter()
        .map(|r| r.get("Code").and_then(Value::as_str).unwrap_or("None"))
        .collect();
    let msg = format!(
        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
        codes.join(", ")
    );
    client_error("TransactionCanceledException", msg)
        .with_member("CancellationReasons", Value::Array(reasons))
}

/// `IdempotentParameterMismatchException`.
pub fn idempotent_parameter_mismatch() -> AwsJsonError {
    client_error(
        "IdempotentParameterMismatchException",
        "One or more parameter values were invalid: The request uses the same client token as a previous, but non-identical request.",
    )
}

/// `ProvisionedThroughputExceededException` (provisioned tables).
pub fn provisioned_throughput_exceeded() -> AwsJsonError {
    client_error(
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    )
}

/// `ThrottlingException` (on-demand tables).
pub fn throttling() -> AwsJsonError {
    client_error(
        "ThrottlingException",
        "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.",
    )
}

/// `LimitExceededException`.
pub fn limit_exceeded(msg: impl Into<String>) -> AwsJsonError {
    client_error("LimitExceededException", msg)
}

/// `UnknownOperationException` (AWS names it in the coral namespace).
pub fn unknown_operation(operation: &str) -> AwsJsonError {
    AwsJsonError::client(
        "com.amazon.coral.service#UnknownOperationException",
        format!("Unknown operation {operation}"),
    )
}

/// "Requested resource not found" for a missing table named by an item operation.
pub fn item_table_not_found() -> AwsJsonError {
    super::errors::resource_not_found("Requested resource not found")
}

/// "Requested resource not found: Table: x not found" (table operations).
pub fn table_not_found(name: &str) -> AwsJsonError {
    super::errors::resource_not_found(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}
