//! The awsJson error shape shared by Kinesis (awsJson1_1) and DynamoDB (awsJson1_0).
//!
//! AWS answers a failed JSON-protocol call with an HTTP status (400 for client faults,
//! 500/503 for service faults) and a body `{"__type": "...", "message": "..."}`. The
//! SDKs read the error code from `__type` (ignoring any `namespace#` prefix), so
//! DynamoDB's fully-qualified names and Kinesis' bare names both parse. Some errors carry
//! extra members (DynamoDB's `CancellationReasons`, `Item`), kept in `extra`.

use serde_json::{Map, Value};

/// An error answered over an AWS JSON protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsJsonError {
    /// HTTP status code.
    pub status: u16,
    /// The `__type` member, e.g. `ResourceNotFoundException` or
    /// `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException`.
    pub type_name: String,
    /// Human-readable message.
    pub message: String,
    /// Additional top-level members of the error body.
    pub extra: Map<String, Value>,
}

impl AwsJsonError {
    /// A 400 client error.
    pub fn client(type_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::with_status(400, type_name, message)
    }

    /// An error with an explicit status.
    pub fn with_status(
        status: u16,
        type_name: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            type_name: type_name.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds an extra member to the error body.
    #[must_use]
    pub fn with_member(mut self, name: &str, value: Value) -> Self {
        self.extra.insert(name.to_owned(), value);
        self
    }

    /// The short error code (the part after any `#`).
    pub fn code(&self) -> &str {
        self.type_name.rsplit('#').next().unwrap_or(&self.type_name)
    }

    /// The JSON body AWS sends.
    pub fn body(&self) -> Value {
        let mut body = self.extra.clone();
        body.insert("__type".to_owned(), Value::String(self.type_name.clone()));
        body.insert("message".to_owned(), Value::String(self.message.clone()));
        Value::Object(body)
    }
}

impl std::fmt::Display for AwsJsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

impl std::error::Error for AwsJsonError {}
