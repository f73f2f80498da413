//! The HTTP front door: one port, every service.
//!
//! AWS JSON protocols are recognised by their `X-Amz-Target` header
//! (`Kinesis_20131202.<Op>` → Kinesis, `DynamoDB_20120810.<Op>` → DynamoDB); the
//! emulator's own endpoints live under `/_shardwise/`; every other request is S3 REST,
//! the only protocol here that is addressed by path and host rather than by header.
//!
//! Handlers never panic on bad input; as a last line of defence a panic inside a
//! service is caught and answered with a 500 `InternalFailure`, logged as the bug it is,
//! and the server keeps serving.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::FutureExt;
use serde_json::{Value, json};

use crate::error::AwsJsonError;
use crate::metrics::Metrics;
use crate::{Clock, Config, dynamodb, kinesis, s3};

/// The JSON-protocol target prefix of Kinesis.
pub const KINESIS_TARGET_PREFIX: &str = "Kinesis_20131202";
/// The JSON-protocol target prefix of DynamoDB.
pub const DYNAMODB_TARGET_PREFIX: &str = "DynamoDB_20120810";

/// One emulator instance: its services, clock and counters.
#[derive(Debug)]
pub struct Emulator {
    /// Start-up configuration.
    pub config: Config,
    /// The emulated clock shared by every service.
    pub clock: Clock,
    /// Request counters.
    pub metrics: Metrics,
    /// Kinesis Data Streams.
    pub kinesis: kinesis::Kinesis,
    /// Amazon S3.
    pub s3: s3::S3,
    /// Amazon DynamoDB.
    pub dynamodb: dynamodb::DynamoDb,
}

impl Emulator {
    /// Creates an emulator with empty services and a real-time clock.
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Clock::real())
    }

    /// Creates an emulator whose services read `clock`.
    pub fn with_clock(config: Config, clock: Clock) -> Self {
        Self {
            kinesis: kinesis::Kinesis::new(&config, clock.clone()),
            s3: s3::S3::new(&config, clock.clone()),
            dynamodb: dynamodb::DynamoDb::new(&config, clock.clone()),
            metrics: Metrics::default(),
            clock,
            config,
        }
    }

    /// The router serving every service; usable without a socket in tests.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/_shardwise/health", get(health))
            .route("/_shardwise/metrics", get(metrics))
            .route("/_shardwise/reset", post(reset))
            .fallback(dispatch)
            // Size limits are the services' business (S3 objects, 10 MiB PutRecords):
            // they answer with AWS's own errors rather than a generic 413.
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(self))
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Calls a JSON-protocol operation in-process, as if it had arrived over HTTP with
    /// `X-Amz-Target: <target>`. Used by the emulator's own pollers and by tests.
    /// Counted in the metrics like any request (with no wire bytes out).
    pub async fn call_json(&self, target: &str, body: &[u8]) -> Result<Value, AwsJsonError> {
        let result = self.route_json(target, body).await;
        let (service, operation) = metric_names(target);
        self.metrics
            .record(service, operation, body.len() as u64, 0, result.is_err());
        result
    }

    async fn route_json(&self, target: &str, body: &[u8]) -> Result<Value, AwsJsonError> {
        let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
        match prefix {
            KINESIS_TARGET_PREFIX => self.kinesis.handle(operation, body).await,
            DYNAMODB_TARGET_PREFIX => self.dynamodb.handle(operation, body).await,
            _ => Err(AwsJsonError::client(
                "UnknownOperationException",
                format!("Unknown operation target: {target}"),
            )),
        }
    }

    /// Forgets all streams, buckets, tables and counters.
    pub fn reset(&self) {
        self.kinesis.reset();
        self.s3.reset();
        self.dynamodb.reset();
        self.metrics.reset();
    }
}

/// The (service, operation) names a target is counted under.
fn metric_names(target: &str) -> (&'static str, &str) {
    let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
    let service = match prefix {
        KINESIS_TARGET_PREFIX => "kinesis",
        DYNAMODB_TARGET_PREFIX => "dynamodb",
        _ => "unknown",
    };
    let operation = if operation.is_empty() {
        "(none)"
    } else {
        operation
    };
    (service, operation)
}

async fn health(State(emulator): State<Arc<Emulator>>) -> Response {
    axum::Json(json!({
        "status": "ok",
        "services": ["kinesis", "dynamodb", "s3"],
        "region": emulator.config.region,
    }))
    .into_response()
}

async fn metrics(State(emulator): State<Arc<Emulator>>) -> Response {
    axum::Json(json!({
        "requests": emulator.metrics.to_json(),
        "kinesis": emulator.kinesis.metrics(),
        "dynamodb": emulator.dynamodb.metrics(),
        "s3": emulator.s3.metrics(),
    }))
    .into_response()
}

async fn reset(State(emulator): State<Arc<Emulator>>) -> Response {
    emulator.reset();
    axum::Json(json!({"reset": true})).into_response()
}

async fn dispatch(State(emulator): State<Arc<Emulator>>, request: Request) -> Response {
    let target = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let outcome = AssertUnwindSafe(async {
        match target {
            Some(target) => json_call(&emulator, &target, request).await,
            None => s3_call(&emulator, request).await,
        }
    })
    .catch_unwind()
    .await;
    outcome.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        tracing::error!(panic = what, "BUG: a service handler panicked");
        json_error_response(
            &AwsJsonError::with_status(500, "InternalFailure", "internal error"),
            "application/x-amz-json-1.1",
        )
    })
}

async fn json_call(emulator: &Emulator, target: &str, request: Request) -> Response {
    let content_type = if target.starts_with(DYNAMODB_TARGET_PREFIX) {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    let body = match axum::body::to_bytes(request.into_body(), usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            return json_error_response(
                &AwsJsonError::client("SerializationException", format!("unreadable body: {e}")),
                content_type,
            );
        }
    };
    // Serialized once: the same bytes are sent and counted.
    let result = emulator.route_json(target, &body).await;
    let (service, operation) = metric_names(target);
    let response = match result {
        Ok(value) => {
            let mut response = Response::new(Body::from(value.to_string()));
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            insert_request_id(h, "x-amzn-requestid");
            response
        }
        Err(e) => json_error_response(&e, content_type),
    };
    let bytes_out = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    let error = !response.status().is_success();
    emulator
        .metrics
        .record(service, operation, body.len() as u64, bytes_out, error);
    response
}

/// Builds the HTTP response AWS sends for a JSON-protocol error.
pub fn json_error_response(error: &AwsJsonError, content_type: &'static str) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = Response::new(Body::from(error.body().to_string()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Kinesis clients also read the code from this header.
    if let Ok(v) = HeaderValue::from_str(error.code()) {
        h.insert("x-amzn-errortype", v);
    }
    insert_request_id(h, "x-amzn-requestid");
    response
}

fn insert_request_id(headers: &mut axum::http::HeaderMap, name: &'static str) {
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert(name, v);
    }
}

async fn s3_call(emulator: &Emulator, request: Request) -> Response {
    let bytes_in = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let (operation, response) = emulator.s3.handle(request).await;
    let bytes_out = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    let error = response.status().is_client_error() || response.status().is_server_error();
    emulator
        .metrics
        .record("s3", operation, bytes_in, bytes_out, error);
    response
}
