//! `POST /2015-03-31/functions/{name}/invocations` — the Invoke API (restJson1).
//!
//! `X-Amz-Invocation-Type`: `RequestResponse` (default) answers 200 with the payload,
//! adding `X-Amz-Function-Error: Unhandled` and the error document when the function
//! failed; `Event` answers 202 at once and invokes in the background (with Lambda's
//! async retries, see [`super::async_invoke`]); `DryRun` answers
//! 204. Errors use Lambda's shape: `x-amzn-ErrorType` plus `{"Type", "message"}`
//! (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>).

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use super::async_invoke::invoke_async;
use super::runtime_api::MAX_RESPONSE_BYTES;
use super::{Admission, InvokeError, InvokeOutcome};
use crate::Emulator;

/// Invoke API routes, to be merged into the emulator's router.
pub fn routes() -> Router<Arc<Emulator>> {
    Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke))
}

/// The function name in a name, partial ARN or ARN, without a qualifier.
pub fn function_name(id: &str) -> &str {
    if id.starts_with("arn:") {
        return id.split(':').nth(6).unwrap_or(id);
    }
    id.split(':').next().unwrap_or(id)
}

fn lambda_error(status: StatusCode, code: &'static str, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"Type": "User", "message": message})),
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(code));
    response
}

async fn invoke(
    State(emulator): State<Arc<Emulator>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    payload: Bytes,
) -> Response {
    let name = function_name(&name).to_owned();
    if emulator.lambda.function(&name).is_none() {
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            emulator.config.region, emulator.config.account_id
        );
        return lambda_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {arn}"),
        );
    }
    if payload.len() > MAX_RESPONSE_BYTES {
        return lambda_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
        );
    }
    let kind = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    match kind {
        "DryRun" => StatusCode::NO_CONTENT.into_response(),
        "Event" => {
            let em = Arc::clone(&emulator);
            tokio::spawn(async move {
                let _ = invoke_async(&em.lambda, &em.clock, &name, payload).await;
            });
            StatusCode::ACCEPTED.into_response()
        }
        "RequestResponse" => match emulator
            .lambda
            .invoke(&name, payload, Admission::FailFast)
            .await
        {
            Ok(InvokeOutcome::Success(body)) => ok(Body::from(body), None),
            Ok(InvokeOutcome::FunctionError { payload, .. }) => {
                ok(Body::from(payload.to_string()), Some("Unhandled"))
            }
            Err(InvokeError::Throttled) => {
                let mut r = lambda_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    "Rate Exceeded.",
                );
                if let Ok(body) = serde_json::to_vec(&json!({
                    "Type": "User", "message": "Rate Exceeded.",
                    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"
                })) {
                    *r.body_mut() = Body::from(body);
                }
                r
            }
            Err(e) => lambda_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                &e.to_string(),
            ),
        },
        other => lambda_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            &format!("Unsupported invocation type {other}"),
        ),
    }
}

fn ok(body: Body, function_error: Option<&'static str>) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if let Some(e) = function_error {
        h.insert("x-amz-function-error", HeaderValue::from_static(e));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::function_name;

    #[test]
    fn names_arns_and_qualifiers_reduce_to_the_function_name() {
        assert_eq!(function_name("f"), "f");
        assert_eq!(function_name("f:$LATEST"), "f");
        assert_eq!(function_name("arn:aws:lambda:us-east-1:0:function:f"), "f");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:0:function:f:3"),
            "f"
        );
    }
}
