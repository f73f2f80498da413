//! S3 — placeholder until its issue lands: every request answers `NotImplemented`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use crate::{Clock, Config};

/// The S3 service.
#[derive(Debug)]
pub struct S3 {
    _clock: Clock,
}

impl S3 {
    /// Creates the service with no buckets.
    pub fn new(_config: &Config, clock: Clock) -> Self {
        Self { _clock: clock }
    }

    /// Handles one REST request; returns the operation name (for metrics) and response.
    pub async fn handle(&self, _request: Request) -> (&'static str, Response) {
        let mut response = Response::new(Body::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NotImplemented</Code><Message>not implemented</Message></Error>",
        ));
        *response.status_mut() = StatusCode::NOT_IMPLEMENTED;
        ("Unknown", response)
    }

    /// Drops every bucket.
    pub fn reset(&self) {}

    /// Service-specific metrics.
    pub fn metrics(&self) -> Value {
        Value::Null
    }
}
