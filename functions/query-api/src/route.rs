//! Requests → routes, and the error responses for the ones that are not.
//!
//! Function URLs deliver the payload format 2.0 (`rawPath`, `requestContext.http.method`,
//! decoded `queryStringParameters`):
//! <https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html>. Unknown query
//! parameters are refused rather than ignored, so a typo (`dimensions=`) is an error and
//! never a silently different answer.

use std::collections::HashMap;

use reconciler::day::{format_day, parse_day};
use reconciler::totals::Dimension;
use serde::Serialize;

/// The health check path.
pub const HEALTH_PATH: &str = "/health";
/// The totals path.
pub const TOTALS_PATH: &str = "/totals";
const PARAM_DAY: &str = "day";
const PARAM_DIMENSION: &str = "dimension";

/// A request the API serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`.
    Health,
    /// `GET /totals?day=YYYY-MM-DD[&dimension=merchant|product]`.
    Totals {
        /// The day.
        day: String,
        /// Only this dimension, if given.
        dimension: Option<Dimension>,
    },
}

/// An error response: HTTP status and a JSON body `{"error": code, "message": text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    /// HTTP status.
    #[serde(skip)]
    pub status: u16,
    /// Stable machine-readable code.
    pub error: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// 400 with `code` and `message`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            error: code,
            message: message.into(),
        }
    }
}

/// The route for a method, path and decoded query parameters.
pub fn route(method: &str, path: &str, query: &HashMap<String, String>) -> Result<Route, ApiError> {
    let known = match path {
        HEALTH_PATH => &[][..],
        TOTALS_PATH => &[PARAM_DAY, PARAM_DIMENSION][..],
        _ => {
            return Err(ApiError {
                status: 404,
                error: "not_found",
                message: format!("no route for {path}; try {TOTALS_PATH} or {HEALTH_PATH}"),
            });
        }
    };
    if method != "GET" {
        return Err(ApiError {
            status: 405,
            error: "method_not_allowed",
            message: format!("{method} {path}: only GET is supported"),
        });
    }
    let mut unknown: Vec<&str> = query
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    unknown.sort_unstable();
    if let Some(first) = unknown.first() {
        return Err(ApiError::bad_request(
            "unknown_parameter",
            format!("unknown query parameter `{first}`"),
        ));
    }
    if path == HEALTH_PATH {
        return Ok(Route::Health);
    }
    let day_text = query.get(PARAM_DAY).ok_or_else(|| {
        ApiError::bad_request(
            "missing_day",
            "query parameter `day` (YYYY-MM-DD) is required",
        )
    })?;
    let day = parse_day(day_text)
        .map(format_day)
        .map_err(|e| ApiError::bad_request("invalid_day", e.to_string()))?;
    let dimension = query
        .get(PARAM_DIMENSION)
        .map(|d| {
            Dimension::parse(d).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_dimension",
                    format!("dimension `{d}` is not `merchant` or `product`"),
                )
            })
        })
        .transpose()?;
    Ok(Route::Totals { day, dimension })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn totals_requests_parse_day_and_optional_dimension() {
        assert_eq!(
            route("GET", "/totals", &q(&[("day", "2026-11-21")])),
            Ok(Route::Totals {
                day: "2026-11-21".into(),
                dimension: None
            })
        );
        assert_eq!(
            route(
                "GET",
                "/totals",
                &q(&[("day", "2026-11-21"), ("dimension", "product")])
            ),
            Ok(Route::Totals {
                day: "2026-11-21".into(),
                dimension: Some(Dimension::Product)
            })
        );
        assert_eq!(route("GET", "/health", &q(&[])), Ok(Route::Health));
    }

    #[test]
    fn bad_requests_are_400_with_a_reason() {
        let cases = [
            (q(&[]), "missing_day"),
            (q(&[("day", "2026-02-30")]), "invalid_day"),
            (q(&[("day", "21/11/2026")]), "invalid_day"),
            (
                q(&[("day", "2026-11-21"), ("dimension", "account")]),
                "invalid_dimension",
            ),
            (
                q(&[("day", "2026-11-21"), ("dimensions", "merchant")]),
                "unknown_parameter",
            ),
        ];
        for (query, code) in cases {
            let e = route("GET", "/totals", &query).unwrap_err();
            assert_eq!((e.status, e.error), (400, code), "{query:?}");
        }
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        assert_eq!(route("GET", "/", &q(&[])).unwrap_err().status, 404);
        assert_eq!(route("POST", "/totals", &q(&[])).unwrap_err().status, 405);
    }
}
