//! Lambda's Kinesis event, read fast into `aws_lambda_events`' own [`KinesisEvent`].
//!
//! A stream function receives `LambdaEvent<KinesisBatch>` instead of
//! `LambdaEvent<KinesisEvent>` and takes the `KinesisEvent` out: same type, same fields,
//! only the parsing differs. perf put `lambda_runtime`'s deserialization of a batch at
//! ~10% of each stream function's CPU (~7% of the pipeline benchmark's): the runtime runs
//! every event through `serde_path_to_error`, which allocates the name of every field of
//! every record to track its path, and `aws_lambda_events` reads the arrival timestamp
//! through an untagged enum (a formatted error for the string variant it tries first, on
//! every record) and then formats the float to split it at the dot. Here the runtime only
//! captures the event as raw JSON ([`RawValue`] passes through the path tracker as one
//! value), and [`parse`] reads it in one pass with plain `serde_json`, decoding `data`
//! straight from the borrowed base64 text.
//!
//! The arrival timestamp is rounded to the millisecond it stands for (Kinesis gives
//! milliseconds: `1545084650.987`). `aws_lambda_events` took the digits after the dot as
//! milliseconds, so `…650.98` (a float prints `.980` that way) became 98 ms instead of
//! 980 ms.

use std::borrow::Cow;

use aws_lambda_events::event::kinesis::{
    KinesisEncryptionType, KinesisEvent, KinesisEventRecord, KinesisRecord,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A Kinesis event as a Lambda handler's payload type (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KinesisBatch(pub KinesisEvent);

impl KinesisBatch {
    /// The event.
    pub fn into_inner(self) -> KinesisEvent {
        self.0
    }
}

impl<'de> Deserialize<'de> for KinesisBatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <Box<RawValue>>::deserialize(deserializer)?;
        parse(raw.get().as_bytes())
            .map(KinesisBatch)
            .map_err(D::Error::custom)
    }
}

/// Reads a Kinesis event from its JSON.
pub fn parse(json: &[u8]) -> Result<KinesisEvent, serde_json::Error> {
    let wire: Wire<'_> = serde_json::from_slice(json)?;
    let mut event = KinesisEvent::default();
    event.records = wire
        .records
        .into_iter()
        .map(WireRecord::into_record)
        .collect::<Result<_, _>>()?;
    Ok(event)
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<WireRecord<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRecord<'a> {
    #[serde(default)]
    aws_region: Option<String>,
    #[serde(default, rename = "eventID")]
    event_id: Option<String>,
    #[serde(default)]
    event_name: Option<String>,
    #[serde(default)]
    event_source: Option<String>,
    #[serde(default, rename = "eventSourceARN")]
    event_source_arn: Option<String>,
    #[serde(default)]
    event_version: Option<String>,
    #[serde(default)]
    invoke_identity_arn: Option<String>,
    #[serde(borrow)]
    kinesis: WireKinesis<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireKinesis<'a> {
    approximate_arrival_timestamp: Seconds,
    /// Borrowed: base64 has no escapes, so this is a slice of the event.
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(default)]
    encryption_type: KinesisEncryptionType,
    #[serde(default)]
    partition_key: String,
    #[serde(default)]
    sequence_number: String,
    #[serde(default)]
    kinesis_schema_version: Option<String>,
}

impl WireRecord<'_> {
    fn into_record(self) -> Result<KinesisEventRecord, serde_json::Error> {
        let k = self.kinesis;
        let data = STANDARD
            .decode(k.data.as_bytes())
            .map_err(|e| serde_json::Error::custom(format!("kinesis.data: {e}")))?;
        let millis = (k.approximate_arrival_timestamp.0 * 1000.0).round() as i64;
        let arrival = chrono::DateTime::from_timestamp_millis(millis).ok_or_else(|| {
            serde_json::Error::custom(format!(
                "kinesis.approximateArrivalTimestamp {} is out of range",
                k.approximate_arrival_timestamp.0
            ))
        })?;
        let mut kinesis = KinesisRecord::default();
        kinesis.approximate_arrival_timestamp.0 = arrival;
        kinesis.data.0 = data;
        kinesis.encryption_type = k.encryption_type;
        kinesis.partition_key = k.partition_key;
        kinesis.sequence_number = k.sequence_number;
        kinesis.kinesis_schema_version = k.kinesis_schema_version;
        let mut record = KinesisEventRecord::default();
        record.aws_region = self.aws_region;
        record.event_id = self.event_id;
        record.event_name = self.event_name;
        record.event_source = self.event_source;
        record.event_source_arn = self.event_source_arn;
        record.event_version = self.event_version;
        record.invoke_identity_arn = self.invoke_identity_arn;
        record.kinesis = kinesis;
        Ok(record)
    }
}

/// Epoch seconds as a JSON number, or a string holding one (what `aws_lambda_events`
/// accepts too).
struct Seconds(f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Seconds;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("epoch seconds (a number or a string holding one)")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Seconds, E> {
                v.trim().parse().map(Seconds).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"acc-1",
        "sequenceNumber":"49590338271490256608559692538361571095921575989136588898","data":"eyJ4IjoxfQ==",
        "approximateArrivalTimestamp":1545084650.987},"eventSource":"aws:kinesis","eventVersion":"1.0",
        "eventID":"shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
        "eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/lambda-role",
        "awsRegion":"us-east-2","eventSourceARN":"arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"},
        {"kinesis":{"partitionKey":"acc-\"2\"","sequenceNumber":"2","data":"",
        "approximateArrivalTimestamp":"1545084651","encryptionType":"KMS"}}]}"#;

    #[test]
    fn the_fast_read_gives_the_same_event_as_aws_lambda_events_own_deserializer() {
        let fast = parse(EVENT.as_bytes()).unwrap();
        let reference: KinesisEvent = serde_json::from_str(EVENT).unwrap();
        assert_eq!(fast, reference);
        assert_eq!(fast.records[0].kinesis.data.0, br#"{"x":1}"#);
        assert_eq!(fast.records[1].kinesis.partition_key, r#"acc-"2""#);
        assert_eq!(
            fast.records[1].kinesis.encryption_type,
            KinesisEncryptionType::Kms
        );
    }

    #[test]
    fn a_lambda_payload_of_kinesis_batch_reads_through_the_runtimes_path_tracking() {
        let mut de = serde_json::Deserializer::from_str(EVENT);
        let batch: KinesisBatch = serde_path_to_error::deserialize(&mut de).unwrap();
        assert_eq!(batch.into_inner().records.len(), 2);
    }

    #[test]
    fn arrival_times_keep_their_milliseconds_even_with_trailing_zeros() {
        let event = EVENT.replace("1545084650.987", "1545084650.980");
        let fast = parse(event.as_bytes()).unwrap();
        let millis = |e: &KinesisEvent, i: usize| {
            e.records[i]
                .kinesis
                .approximate_arrival_timestamp
                .0
                .timestamp_millis()
        };
        assert_eq!(millis(&fast, 0), 1_545_084_650_980);
        assert_eq!(millis(&fast, 1), 1_545_084_651_000);
    }

    #[test]
    fn bad_base64_or_a_missing_kinesis_member_is_an_error_naming_it() {
        let bad = EVENT.replace("eyJ4IjoxfQ==", "!!");
        let err = parse(bad.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("kinesis.data"), "{err}");
        let err = parse(br#"{"Records":[{"eventID":"x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("kinesis"), "{err}");
        assert!(
            parse(br#"{"Records":[{"kinesis":{"data":"","approximateArrivalTimestamp":"soon"}}]}"#)
                .is_err()
        );
    }
}
