//! The handler: a route → the day's totals from the reconciled report when it exists,
//! else from the stream layer, labelled with their `source`.
//!
//! The batch source is `reports/dt=<day>/reconciliation.json` (its `totals` are the
//! reconciled batch totals); a `NoSuchKey` means "not reconciled yet", so the answer
//! comes from daily-totals' items in the outputs table. A day with neither is 404.

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
use reconciler::report::Reconciliation;
use reconciler::totals::{Dimension, TotalRow, rows};
use reconciler::{RECONCILIATION_JSON, report_prefix, stream};
use serde::Serialize;

use crate::route::{ApiError, Route, route};

/// Where a day's totals came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The reconciled batch report.
    Batch,
    /// The stream layer's daily totals.
    Stream,
}

/// The body of a totals response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TotalsBody {
    /// The day.
    pub day: String,
    /// Where the totals came from.
    pub source: Source,
    /// The dimension asked for (absent: both).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<Dimension>,
    /// The reconciliation verdict (batch source only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<reconciler::compare::Verdict>,
    /// The totals, in key order.
    pub totals: Vec<TotalRow>,
}

/// The query API with injected clients.
#[derive(Debug, Clone)]
pub struct QueryApi {
    s3: aws_sdk_s3::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    bucket: String,
    outputs_table: String,
}

fn json_response(status: u16, body: &impl Serialize) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = i64::from(status);
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers = headers;
    response.body = Some(serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned()));
    response
}

fn internal(message: String) -> ApiError {
    tracing::error!(%message, "query failed");
    ApiError {
        status: 502,
        error: "upstream_error",
        message,
    }
}

impl QueryApi {
    /// An API reading reports from `bucket` and stream totals from `outputs_table`.
    pub fn new(
        s3: aws_sdk_s3::Client,
        dynamodb: aws_sdk_dynamodb::Client,
        bucket: &str,
        outputs_table: &str,
    ) -> Self {
        Self {
            s3,
            dynamodb,
            bucket: bucket.to_owned(),
            outputs_table: outputs_table.to_owned(),
        }
    }

    /// Answers one function URL request (never fails: errors are JSON responses).
    pub async fn handle(&self, request: &LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
        let http = &request.request_context.http;
        let method = http.method.as_deref().unwrap_or("GET");
        let path = request
            .raw_path
            .as_deref()
            .or(http.path.as_deref())
            .unwrap_or("/");
        let result = match route(method, path, &request.query_string_parameters) {
            Ok(Route::Health) => Ok(json_response(200, &serde_json::json!({"status": "ok"}))),
            Ok(Route::Totals { day, dimension }) => self
                .totals(&day, dimension)
                .await
                .map(|body| json_response(200, &body)),
            Err(e) => Err(e),
        };
        result.unwrap_or_else(|e| json_response(e.status, &e))
    }

    /// The totals of `day`, from the batch report if there is one.
    pub async fn totals(
        &self,
        day: &str,
        dimension: Option<Dimension>,
    ) -> Result<TotalsBody, ApiError> {
        let keep = |r: &TotalRow| dimension.is_none_or(|d| r.dimension == d);
        if let Some(report) = self.batch_report(day).await? {
            return Ok(TotalsBody {
                day: day.to_owned(),
                source: Source::Batch,
                dimension,
                verdict: Some(report.verdict),
                totals: report.totals.into_iter().filter(keep).collect(),
            });
        }
        let (totals, _) = stream::read_stream_totals(&self.dynamodb, &self.outputs_table, day)
            .await
            .map_err(|e| internal(e.to_string()))?;
        if totals.is_empty() {
            return Err(ApiError {
                status: 404,
                error: "no_totals",
                message: format!("no reconciled report and no stream totals for {day}"),
            });
        }
        Ok(TotalsBody {
            day: day.to_owned(),
            source: Source::Stream,
            dimension,
            verdict: None,
            totals: rows(&totals).into_iter().filter(keep).collect(),
        })
    }

    async fn batch_report(&self, day: &str) -> Result<Option<Reconciliation>, ApiError> {
        let key = format!("{}{RECONCILIATION_JSON}", report_prefix(day));
        let out = match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(internal(format!("get {key}: {e:?}"))),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| internal(format!("read {key}: {e}")))?
            .into_bytes();
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| internal(format!("{key} is not a reconciliation: {e}")))
    }
}
