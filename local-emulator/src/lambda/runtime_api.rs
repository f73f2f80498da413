//! The Lambda Runtime API, one URL prefix per execution environment.
//!
//! `AWS_LAMBDA_RUNTIME_API` is `http://<emulator>/_lambda/<function>/<env>`; the Rust
//! runtime client prepends that path to `/2018-06-01/runtime/...`
//! (`lambda_runtime_api_client::set_origin` keeps the base path), so every request
//! says which environment sent it without any connection tracking.
//! Shapes follow <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::InvokeOutcome;
use crate::Emulator;

/// Largest synchronous response Lambda accepts (6 MB).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

/// The path prefix of environment `env` of `function`.
pub fn prefix(function: &str, env: u64) -> String {
    format!("/_lambda/{function}/{env}")
}

/// Runtime API routes, to be merged into the emulator's router.
pub fn routes() -> Router<Arc<Emulator>> {
    Router::new()
        .route(
            "/_lambda/{function}/{env}/2018-06-01/runtime/invocation/next",
            get(next),
        )
        .route(
            "/_lambda/{function}/{env}/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route(
            "/_lambda/{function}/{env}/2018-06-01/runtime/invocation/{id}/error",
            post(error),
        )
        .route(
            "/_lambda/{function}/{env}/2018-06-01/runtime/init/error",
            post(init_error),
        )
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}

async fn next(
    State(emulator): State<Arc<Emulator>>,
    Path((function, env)): Path<(String, u64)>,
) -> Response {
    let Some(f) = emulator.lambda.function(&function) else {
        return unknown_function();
    };
    let Some(a) = f.next(env).await else {
        return runtime_error(
            StatusCode::FORBIDDEN,
            "InvalidEnvironment",
            "this execution environment has been shut down",
        );
    };
    let mut response = Response::new(Body::from(a.payload));
    let h = response.headers_mut();
    let headers = [
        ("lambda-runtime-aws-request-id", a.request_id),
        ("lambda-runtime-deadline-ms", a.deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            f.config().arn.clone(),
        ),
        ("lambda-runtime-trace-id", a.trace_id),
    ];
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn response(
    State(emulator): State<Arc<Emulator>>,
    Path((function, env, id)): Path<(String, u64, String)>,
    body: Bytes,
) -> Response {
    let Some(f) = emulator.lambda.function(&function) else {
        return unknown_function();
    };
    if body.len() > MAX_RESPONSE_BYTES {
        f.complete(
            env,
            &id,
            InvokeOutcome::error(
                "Function.ResponseSizeTooLarge",
                format!("Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).", body.len()),
            ),
        );
        return runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "response payload too large",
        );
    }
    completion(f.complete(env, &id, InvokeOutcome::Success(body)))
}

async fn error(
    State(emulator): State<Arc<Emulator>>,
    Path((function, env, id)): Path<(String, u64, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(f) = emulator.lambda.function(&function) else {
        return unknown_function();
    };
    let (error_type, payload) = error_document(&headers, &body);
    completion(f.complete(
        env,
        &id,
        InvokeOutcome::FunctionError {
            error_type,
            payload,
        },
    ))
}

async fn init_error(
    State(emulator): State<Arc<Emulator>>,
    Path((function, env)): Path<(String, u64)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(f) = emulator.lambda.function(&function) else {
        return unknown_function();
    };
    let (_, payload) = error_document(&headers, &body);
    f.init_failed(env, &payload);
    accepted()
}

fn unknown_function() -> Response {
    runtime_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        "unknown function",
    )
}

/// 202 when the invocation was in flight in this environment, else 400 as Lambda answers.
fn completion(in_flight: bool) -> Response {
    if in_flight {
        accepted()
    } else {
        runtime_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            "no such invocation in flight in this environment",
        )
    }
}

/// The error document a runtime posted, tolerating non-JSON bodies.
fn error_document(headers: &HeaderMap, body: &[u8]) -> (String, Value) {
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let payload = serde_json::from_slice::<Value>(body).unwrap_or_else(|_| {
        json!({
            "errorType": header_type.clone().unwrap_or_else(|| "Unhandled".to_owned()),
            "errorMessage": String::from_utf8_lossy(body),
        })
    });
    let error_type = payload
        .get("errorType")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(header_type)
        .unwrap_or_else(|| "Unhandled".to_owned());
    (error_type, payload)
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}
