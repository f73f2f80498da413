//! Kinesis records as the mapping sees them, the event JSON Lambda sends, and the
//! verdict on a function's response.
//!
//! Event shape per aws-semantics §1 (the `aws_lambda_events` fixture and
//! <https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html>); partial-batch
//! rules per
//! <https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html>.

use std::cmp::Ordering;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

/// One record read from a shard.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Sequence number (decimal string, compared numerically).
    pub sequence_number: String,
    /// Partition key.
    pub partition_key: String,
    /// Base64 data exactly as GetRecords returned it.
    pub data_base64: String,
    /// `ApproximateArrivalTimestamp` in epoch seconds.
    pub arrival: f64,
    /// `EncryptionType` when the stream is encrypted.
    pub encryption_type: Option<String>,
}

impl Record {
    /// Approximate size counted against the 6 MB invocation payload limit.
    pub fn payload_size(&self) -> usize {
        self.data_base64.len() + self.partition_key.len() + self.sequence_number.len() + 400
    }
}

/// Numeric comparison of decimal sequence numbers of any length.
pub fn compare_sequence(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Fixed facts about the mapping that appear in every record.
#[derive(Debug, Clone)]
pub struct EventContext {
    /// Stream ARN (`eventSourceARN`).
    pub stream_arn: String,
    /// Region (`awsRegion`).
    pub region: String,
    /// Execution role ARN (`invokeIdentityArn`).
    pub role_arn: String,
}

/// A tumbling window's part of the event.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowEvent {
    /// Window start (epoch seconds).
    pub start: i64,
    /// Window end (epoch seconds).
    pub end: i64,
    /// State returned by the previous invocation of this window (`{}` at its start).
    pub state: Value,
    /// True for the last invocation of the window.
    pub is_final: bool,
}

/// The Lambda event of a batch, as JSON bytes (`{"Records": [...]}` plus, for a tumbling
/// window, its fields). Serialized from borrowed, typed fields: building a
/// `serde_json::Value` tree per record (with a copy of every record's data) was the
/// emulator's largest cost on 10,000-record batches (perf).
pub fn event(
    ctx: &EventContext,
    shard_id: &str,
    records: &[Record],
    window: Option<&WindowEvent>,
) -> Bytes {
    let event = Event {
        records: records
            .iter()
            .map(|r| EventRecord {
                kinesis: KinesisData {
                    kinesis_schema_version: "1.0",
                    partition_key: &r.partition_key,
                    sequence_number: &r.sequence_number,
                    data: &r.data_base64,
                    approximate_arrival_timestamp: (r.arrival * 1000.0).round() / 1000.0,
                    encryption_type: r.encryption_type.as_deref(),
                },
                event_source: "aws:kinesis",
                event_version: "1.0",
                event_id: EventId(shard_id, &r.sequence_number),
                event_name: "aws:kinesis:record",
                invoke_identity_arn: &ctx.role_arn,
                aws_region: &ctx.region,
                event_source_arn: &ctx.stream_arn,
            })
            .collect(),
        window: window.map(|w| WindowFields {
            window: WindowBounds {
                start: iso(w.start),
                end: iso(w.end),
            },
            state: &w.state,
            shard_id,
            event_source_arn: &ctx.stream_arn,
            is_final_invoke_for_window: w.is_final,
            is_window_terminated_early: false,
        }),
    };
    // Plain structs of strings and numbers always serialize.
    Bytes::from(serde_json::to_vec(&event).unwrap_or_default())
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "Records")]
    records: Vec<EventRecord<'a>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    window: Option<WindowFields<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventRecord<'a> {
    kinesis: KinesisData<'a>,
    event_source: &'static str,
    event_version: &'static str,
    #[serde(rename = "eventID")]
    event_id: EventId<'a>,
    event_name: &'static str,
    invoke_identity_arn: &'a str,
    aws_region: &'a str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KinesisData<'a> {
    kinesis_schema_version: &'static str,
    partition_key: &'a str,
    sequence_number: &'a str,
    data: &'a str,
    approximate_arrival_timestamp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_type: Option<&'a str>,
}

/// `<shard id>:<sequence number>`, written without an intermediate string.
struct EventId<'a>(&'a str, &'a str);

impl Serialize for EventId<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}:{}", self.0, self.1))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WindowFields<'a> {
    window: WindowBounds,
    state: &'a Value,
    shard_id: &'a str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
    is_final_invoke_for_window: bool,
    is_window_terminated_early: bool,
}

#[derive(Serialize)]
struct WindowBounds {
    start: String,
    end: String,
}

fn iso(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// What a function's answer means for a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every record succeeded (with the tumbling-window state, if any).
    Success(Option<Value>),
    /// Records before this index succeeded; re-deliver from it.
    Partial(usize),
    /// The whole batch failed.
    Failed,
}

/// Interprets a successful invocation's response body.
pub fn verdict(body: &[u8], batch: &[Record], report_failures: bool, tumbling: bool) -> Verdict {
    let parsed: Option<Value> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice(body).ok()
    };
    let state = parsed.as_ref().and_then(|v| v.get("state")).cloned();
    if tumbling && state.is_none() {
        // "The response must contain a state property", else the batch failed.
        return Verdict::Failed;
    }
    if !report_failures {
        return Verdict::Success(state);
    }
    let failures = match parsed.as_ref().and_then(|v| v.get("batchItemFailures")) {
        None | Some(Value::Null) => return Verdict::Success(state),
        Some(Value::Array(items)) if items.is_empty() => return Verdict::Success(state),
        Some(Value::Array(items)) => items,
        Some(_) => return Verdict::Failed,
    };
    let mut lowest: Option<usize> = None;
    for item in failures {
        // Empty, null or missing identifiers (e.g. a wrong key name) fail the batch.
        let Some(id) = item
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Verdict::Failed;
        };
        // An identifier that is not in the batch: AWS does not document this; failing
        // the whole batch is the only choice that can never skip a record.
        let Some(index) = batch.iter().position(|r| r.sequence_number == id) else {
            return Verdict::Failed;
        };
        lowest = Some(lowest.map_or(index, |l| l.min(index)));
    }
    match lowest {
        Some(0) => Verdict::Failed,
        Some(i) => Verdict::Partial(i),
        None => Verdict::Success(state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(seqs: &[&str]) -> Vec<Record> {
        seqs.iter()
            .map(|s| Record {
                sequence_number: (*s).to_owned(),
                partition_key: "k".into(),
                data_base64: "eA==".into(),
                arrival: 1.5,
                encryption_type: None,
            })
            .collect()
    }

    #[test]
    fn sequence_numbers_compare_numerically_not_lexically() {
        assert_eq!(compare_sequence("9", "10"), Ordering::Less);
        assert_eq!(compare_sequence("0010", "10"), Ordering::Equal);
        let a = "49590338271490256608559692538361571095921575989136588898";
        let b = "49590338271490256608559692540925702759324208523137515618";
        assert_eq!(compare_sequence(a, b), Ordering::Less);
    }

    #[test]
    fn partial_failure_resumes_from_the_lowest_reported_record() {
        let b = batch(&["1", "2", "3", "4"]);
        let body = br#"{"batchItemFailures":[{"itemIdentifier":"4"},{"itemIdentifier":"2"}]}"#;
        assert_eq!(verdict(body, &b, true, false), Verdict::Partial(1));
    }

    #[test]
    fn empty_or_null_failure_lists_mean_full_success() {
        let b = batch(&["1", "2"]);
        for body in [
            &b""[..],
            b"null",
            b"{}",
            br#"{"batchItemFailures":[]}"#,
            br#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(
                verdict(body, &b, true, false),
                Verdict::Success(None),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn malformed_identifiers_fail_the_whole_batch() {
        let b = batch(&["1", "2"]);
        for body in [
            &br#"{"batchItemFailures":[{"itemIdentifier":""}]}"#[..],
            br#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            br#"{"batchItemFailures":[{"itemId":"2"}]}"#,
            br#"{"batchItemFailures":[{"itemIdentifier":"99"}]}"#,
            br#"{"batchItemFailures":[{"itemIdentifier":"1"}]}"#,
        ] {
            assert_eq!(
                verdict(body, &b, true, false),
                Verdict::Failed,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn failures_are_ignored_unless_the_mapping_reports_them() {
        let b = batch(&["1", "2"]);
        let body = br#"{"batchItemFailures":[{"itemIdentifier":"2"}]}"#;
        assert_eq!(verdict(body, &b, false, false), Verdict::Success(None));
    }

    #[test]
    fn tumbling_window_responses_must_carry_state() {
        let b = batch(&["1"]);
        assert_eq!(verdict(b"{}", &b, false, true), Verdict::Failed);
        assert_eq!(
            verdict(br#"{"state":{"n":1}}"#, &b, false, true),
            Verdict::Success(Some(json!({"n": 1})))
        );
    }

    #[test]
    fn events_carry_every_field_lambda_sends() {
        let ctx = EventContext {
            stream_arn: "arn:aws:kinesis:us-east-1:0:stream/s".into(),
            region: "us-east-1".into(),
            role_arn: "arn:aws:iam::0:role/r".into(),
        };
        let e: Value =
            serde_json::from_slice(&event(&ctx, "shardId-000000000000", &batch(&["7"]), None))
                .unwrap();
        let r = &e["Records"][0];
        assert_eq!(r["eventID"], "shardId-000000000000:7");
        assert_eq!(r["eventName"], "aws:kinesis:record");
        assert_eq!(r["eventSource"], "aws:kinesis");
        assert_eq!(r["kinesis"]["kinesisSchemaVersion"], "1.0");
        assert_eq!(r["kinesis"]["approximateArrivalTimestamp"], 1.5);
        assert_eq!(r["invokeIdentityArn"], "arn:aws:iam::0:role/r");
        assert!(e.get("window").is_none());
    }
}
