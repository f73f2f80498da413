//! Constructors for DynamoDB's awsJson1_0 errors.
//!
//! DynamoDB names its own errors fully qualified (`com.amazonaws.dynamodb.v20120810#Name`)
//! and the request-validation errors in the coral namespaces; the SDKs strip the
//! namespace either way. Every constructor here answers 400 unless it says otherwise. Service-side errors (transactions, throttling, …) live in `faults.rs`,
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

/// `__type` of a validation failure: DynamoDB answers it from the shared coral
/// validation layer, e.g. `{"__type":"com.amazon.coral.validate#ValidationException",…}`
/// (real responses quoted in baopham/laravel-dynamodb#284 and ExtendDB/extenddb#78).
pub const VALIDATION_TYPE: &str = "com.amazon.coral.validate#ValidationException";
/// `__type` of a request body that does not deserialize.
pub const SERIALIZATION_TYPE: &str = "com.amazon.coral.service#SerializationException";

/// `ValidationException`: the request is well-formed JSON but semantically invalid.
pub fn validation(msg: impl Into<String>) -> AwsJsonError {
    AwsJsonError::client(VALIDATION_TYPE, msg)
}

/// `SerializationException`: bad JSON or members of the wrong JSON type.
pub fn serialization(msg: impl Into<String>) -> AwsJsonError {
    AwsJsonError::client(SERIALIZATION_TYPE, msg)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_the_type_names_dynamodb_sends() {
        assert_eq!(
            validation("x").type_name,
            "com.amazon.coral.validate#ValidationException"
        );
        assert_eq!(validation("x").code(), "ValidationException");
        assert_eq!(serialization("x").code(), "SerializationException");
        assert_eq!(
            resource_not_found("x").type_name,
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
        );
        let failed = conditional_check_failed(Some(serde_json::json!({"pk": {"S": "a"}})));
        assert_eq!(failed.message, "The conditional request failed");
        assert_eq!(failed.body()["Item"]["pk"]["S"], "a");
        assert_eq!(failed.status, 400);
    }
}
