//! `GET/POST /_shardwise/clock`: read and steer the emulated clock.
//!
//! `POST` takes any of `{"advance_seconds": 3600}`, `{"advance_to": "2026-01-02T02:00:00Z"}`
//! (never backwards), `{"rate": 60}` (emulated seconds per real second), applied in that
//! order, and answers like `GET`: `{"now": "<RFC 3339>", "now_millis": n, "rate": r}`.
//! Schedules, iterator expiry and TTL all follow it, so a nightly job fires in a test in
//! milliseconds.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Emulator;

fn describe(emulator: &Emulator) -> Value {
    let now = emulator.clock.now();
    json!({
        "now": rfc3339(now),
        "now_millis": emulator.clock.now_millis() as u64,
        "rate": emulator.clock.rate(),
    })
}

/// RFC 3339 text of a system time (UTC, milliseconds).
pub fn rfc3339(t: SystemTime) -> String {
    let nanos = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(nanos as i128)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub(crate) async fn get_clock(State(emulator): State<Arc<Emulator>>) -> Response {
    axum::Json(describe(&emulator)).into_response()
}

pub(crate) async fn set_clock(
    State(emulator): State<Arc<Emulator>>,
    body: axum::body::Bytes,
) -> Response {
    let bad =
        |m: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"message": m}))).into_response();
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
        return bad("expected a JSON object");
    };
    if let Some(v) = req.get("advance_seconds") {
        match v.as_f64().filter(|s| s.is_finite() && *s >= 0.0) {
            Some(s) => emulator.clock.advance(Duration::from_secs_f64(s)),
            None => return bad("advance_seconds must be a non-negative number"),
        }
    }
    if let Some(v) = req.get("advance_to") {
        let parsed = v
            .as_str()
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
            .and_then(|d| u64::try_from(d.unix_timestamp_nanos()).ok());
        match parsed {
            Some(n) => emulator
                .clock
                .advance_to(UNIX_EPOCH + Duration::from_nanos(n)),
            None => return bad("advance_to must be an RFC 3339 time after 1970"),
        }
    }
    if let Some(v) = req.get("rate") {
        match v.as_f64().filter(|r| r.is_finite() && *r >= 0.0) {
            Some(r) => emulator.clock.set_rate(r),
            None => return bad("rate must be a non-negative number"),
        }
    }
    axum::Json(describe(&emulator)).into_response()
}
