//! Constructors for DynamoDB's awsJson1_0 errors.
//!
//! DynamoDB names its errors fully qualified (`com.amazonaws.dynamodb.v20120810#Name`);
//! the SDKs strip the namespace. Every constructor here answers 400 unless it says
//! otherwise. Service-side errors (transactions, throttling, …) live in `faults.rs`,
//! built on [`client_error`].

use serde_json::Value;

use crate::error::AwsJsonError;

/// The namespace prefix of every DynamoDB error `__type`.
pub const ERROR_NAMESPACE: &str = "com.amazonaws.dynamodb.v20120810#";

/// The message AWS sends with `ConditionalCheckFailedException`.
pub const CONDITIONAL_CHECK_FAILED_MESSAGE: &str = "The conditional request failed";

/// A 400 error with the fully qualified DynamoDB type name.
pub fn client_error(name: &str, msg: impl Into<String>) -> AwsJsonError {
    AwsJsonError::client(format!("{ERROR_NAMESPACE}{name}"), msg)
}

/// `ValidationException`: the request is well-formed JSON but semantically invalid.
pub fn validation(msg: impl Into<String>) -> AwsJsonError {
    client_error("ValidationException", msg)
}

/// `SerializationException`: bad JSON or members of the wrong JSON type.
pub fn serialization(msg: impl Into<String>) -> AwsJsonError {
    client_error("SerializationException", msg)
}

/// `ResourceNotFoundException`.
pub fn resource_not_found(msg: impl Into<String>) -> AwsJsonError {
    client_error("ResourceNotFoundException", msg)
}

/// `ResourceInUseException`.
pub fn resource_in_use(msg: impl Into<String>) -> AwsJsonError {
    client_error("ResourceInUseException", msg)
}

/// `ConditionalCheckFailedException`, carrying the old item when the request asked for
/// `ReturnValuesOnConditionCheckFailure: ALL_OLD`.
pub fn conditional_check_failed(item: Option<Value>) -> AwsJsonError {
    let err = client_error(
        "ConditionalCheckFailedException",
        CONDITIONAL_CHECK_FAILED_MESSAGE,
    );
    match item {
        Some(item) => err.with_member("Item", item),
        None => err,
    }
}
