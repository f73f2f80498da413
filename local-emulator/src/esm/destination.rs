//! `DestinationConfig.OnFailure` to an S3 bucket: the failure record AWS sends to
//! SQS/SNS, plus (S3 only) the whole invocation payload under `payload`.
//!
//! Object key, following the documented S3-destination convention (exact form
//! unconfirmed from a primary source in this session):
//! `aws/lambda/<mapping uuid>/<shard id>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>`.

use axum::body::Body;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::records::Record;
use crate::Emulator;
use crate::clock_api::rfc3339;

/// Why the batch was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `MaximumRetryAttempts` reached.
    RetryAttemptsExhausted,
    /// `MaximumRecordAgeInSeconds` exceeded.
    RecordAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Self::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Self::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// Everything the failure record describes.
#[derive(Debug)]
pub struct Failure<'a> {
    /// Mapping UUID.
    pub mapping_uuid: &'a str,
    /// Function ARN.
    pub function_arn: &'a str,
    /// Stream ARN.
    pub stream_arn: &'a str,
    /// Shard id.
    pub shard_id: &'a str,
    /// The discarded records.
    pub records: &'a [Record],
    /// Why.
    pub condition: Condition,
    /// Invocations made for this batch.
    pub invoke_count: u32,
    /// The last invocation's payload (the event, JSON).
    pub payload: &'a str,
}

/// The failure record (aws-semantics §1) plus `payload`.
pub fn failure_record(f: &Failure<'_>, now: std::time::SystemTime) -> Value {
    let arrival = |r: Option<&Record>| {
        r.and_then(|r| {
            let nanos = (r.arrival * 1e9) as i128;
            OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
        })
        .map(|t| rfc3339(t.into()))
    };
    json!({
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": f.function_arn,
            "condition": f.condition.as_str(),
            "approximateInvokeCount": f.invoke_count,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": "1.0",
        "timestamp": rfc3339(now),
        "KinesisBatchInfo": {
            "shardId": f.shard_id,
            "startSequenceNumber": f.records.first().map(|r| r.sequence_number.clone()),
            "endSequenceNumber": f.records.last().map(|r| r.sequence_number.clone()),
            "approximateArrivalOfFirstRecord": arrival(f.records.first()),
            "approximateArrivalOfLastRecord": arrival(f.records.last()),
            "batchSize": f.records.len(),
            "streamArn": f.stream_arn,
        },
        "payload": f.payload,
    })
}

/// The object key for a failure record.
pub fn object_key(mapping_uuid: &str, shard_id: &str, now: std::time::SystemTime) -> String {
    let t = OffsetDateTime::from(now);
    let day = t
        .format(format_description!("[year]/[month]/[day]"))
        .unwrap_or_default();
    let stamp = t
        .format(format_description!(
            "[year]-[month]-[day]T[hour].[minute].[second]"
        ))
        .unwrap_or_default();
    format!(
        "aws/lambda/{mapping_uuid}/{shard_id}/{day}/{stamp}-{}",
        uuid::Uuid::new_v4()
    )
}

/// Writes the record into `bucket` through the S3 service; returns the key.
pub async fn write_to_s3(
    emulator: &Emulator,
    bucket: &str,
    f: &Failure<'_>,
) -> Result<String, String> {
    let now = emulator.clock.now();
    let key = object_key(f.mapping_uuid, f.shard_id, now);
    let body = failure_record(f, now).to_string();
    let request = axum::http::Request::builder()
        .method("PUT")
        .uri(format!("/{bucket}/{key}"))
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string())
        .body(Body::from(body))
        .map_err(|e| e.to_string())?;
    let (_, response) = emulator.s3.handle(request).await;
    if response.status().is_success() {
        Ok(key)
    } else {
        Err(format!("S3 PutObject answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn failure_record_describes_the_discarded_batch() {
        let records = vec![
            Record {
                sequence_number: "5".into(),
                partition_key: "a".into(),
                data_base64: "".into(),
                arrival: 10.0,
                encryption_type: None,
            },
            Record {
                sequence_number: "9".into(),
                partition_key: "a".into(),
                data_base64: "".into(),
                arrival: 11.5,
                encryption_type: None,
            },
        ];
        let payload = json!({"Records": []}).to_string();
        let f = Failure {
            mapping_uuid: "u",
            function_arn: "arn:aws:lambda:us-east-1:0:function:f",
            stream_arn: "arn:aws:kinesis:us-east-1:0:stream/s",
            shard_id: "shardId-000000000000",
            records: &records,
            condition: Condition::RetryAttemptsExhausted,
            invoke_count: 3,
            payload: &payload,
        };
        let r = failure_record(&f, UNIX_EPOCH + Duration::from_secs(100));
        assert_eq!(r["requestContext"]["condition"], "RetryAttemptsExhausted");
        assert_eq!(r["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(r["KinesisBatchInfo"]["startSequenceNumber"], "5");
        assert_eq!(r["KinesisBatchInfo"]["endSequenceNumber"], "9");
        assert_eq!(r["KinesisBatchInfo"]["batchSize"], 2);
        assert_eq!(
            r["KinesisBatchInfo"]["approximateArrivalOfLastRecord"],
            "1970-01-01T00:00:11.5Z"
        );
        assert!(
            object_key("u", "shardId-000000000000", UNIX_EPOCH)
                .starts_with("aws/lambda/u/shardId-000000000000/1970/01/01/1970-01-01T00.00.00-")
        );
    }
}
