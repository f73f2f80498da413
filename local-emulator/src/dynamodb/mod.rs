//! DynamoDb — placeholder until its issue lands: every operation answers
//! `UnknownOperationException`, as AWS does for an operation it does not know.

pub mod errors;
pub mod expr;
pub mod number;
pub mod types;

use serde_json::Value;

use crate::error::AwsJsonError;
use crate::{Clock, Config};

/// The DynamoDb service.
#[derive(Debug)]
pub struct DynamoDb {
    _clock: Clock,
}

impl DynamoDb {
    /// Creates the service with no resources.
    pub fn new(_config: &Config, clock: Clock) -> Self {
        Self { _clock: clock }
    }

    /// Handles one JSON-protocol operation.
    pub async fn handle(&self, operation: &str, _body: &[u8]) -> Result<Value, AwsJsonError> {
        Err(AwsJsonError::client(
            "UnknownOperationException",
            format!("Unknown operation {operation}"),
        ))
    }

    /// Drops every resource.
    pub fn reset(&self) {}

    /// Service-specific metrics.
    pub fn metrics(&self) -> Value {
        Value::Null
    }
}
