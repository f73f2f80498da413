//! Batch in, batch out: turning Lambda's `KinesisEvent` into records with parsed ids,
//! and the outcome into a `KinesisEventResponse`.
//!
//! Lambda checkpoints *before the lowest* reported sequence number and re-delivers
//! everything from it, so the response names exactly one record: the first failed record
//! of the batch (a batch holds one shard). Everything after it is re-delivered and
//! deduplicated by the per-key high-water marks: stop-at-first-failure keeps per-key
//! order without losing the work already committed for other keys.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;

use crate::error::Error;
use crate::ids::{EventTime, PartitionKey, SequenceNumber, ShardId};
use crate::operator::RecordMeta;

/// One record of a batch with its parsed origin and original bytes.
#[derive(Debug, Clone)]
pub struct BatchRecord {
    /// Shard, sequence number, partition key, arrival time.
    pub meta: RecordMeta,
    /// The record data, byte for byte.
    pub data: Vec<u8>,
}

/// The shard a batch came from (its first record's `eventID`); `None` for an empty batch.
pub fn shard_of(event: &KinesisEvent) -> Option<ShardId> {
    event
        .records
        .first()
        .and_then(|r| r.event_id.as_deref())
        .and_then(ShardId::from_event_id)
}

/// The batch's source stream (`eventSourceARN`; every record of a batch has the same).
pub fn source_arn(event: &KinesisEvent) -> Option<&str> {
    event
        .records
        .iter()
        .find_map(|r| r.event_source_arn.as_deref())
}

/// Parses every record's origin. A record without a shard id or with a malformed
/// sequence number cannot be deduplicated, dead-lettered or reported, so it fails the
/// whole invocation (Lambda never sends one).
pub fn parse_records(event: &KinesisEvent) -> Result<Vec<BatchRecord>, Error> {
    event
        .records
        .iter()
        .map(|record| {
            let event_id = record.event_id.as_deref().unwrap_or_default();
            let shard = ShardId::from_event_id(event_id).ok_or_else(|| {
                Error::InvalidRecord(format!("eventID {event_id:?} has no shard"))
            })?;
            let sequence = SequenceNumber::parse(&record.kinesis.sequence_number)?;
            Ok(BatchRecord {
                meta: RecordMeta {
                    shard,
                    sequence,
                    partition_key: PartitionKey(record.kinesis.partition_key.clone()),
                    arrival: EventTime(
                        record
                            .kinesis
                            .approximate_arrival_timestamp
                            .0
                            .timestamp_millis(),
                    ),
                },
                data: record.kinesis.data.0.clone(),
            })
        })
        .collect()
}

/// The Lambda response for a batch whose first failed record is `first_failure`.
pub fn response(first_failure: Option<&SequenceNumber>) -> KinesisEventResponse {
    let mut response = KinesisEventResponse::default();
    if let Some(sequence) = first_failure {
        response.add_failure(sequence.as_str());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"a",
        "sequenceNumber":"49590338271490256608559692538361571095921575989136588898","data":"eyJ4IjoxfQ==",
        "approximateArrivalTimestamp":1545084650.987},"eventSource":"aws:kinesis","eventVersion":"1.0",
        "eventID":"shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
        "eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::123456789012:role/r",
        "awsRegion":"us-east-2","eventSourceARN":"arn:aws:kinesis:us-east-2:123456789012:stream/s"}]}"#;

    #[test]
    fn records_carry_shard_sequence_arrival_and_original_bytes() {
        let event: KinesisEvent = serde_json::from_str(EVENT).unwrap();
        let records = parse_records(&event).unwrap();
        assert_eq!(records[0].meta.shard.as_str(), "shardId-000000000006");
        assert_eq!(records[0].meta.arrival, EventTime(1_545_084_650_987));
        assert_eq!(records[0].data, br#"{"x":1}"#);
    }

    #[test]
    fn response_names_only_the_first_failed_record() {
        let seq = SequenceNumber::parse("42").unwrap();
        let json = serde_json::to_value(response(Some(&seq))).unwrap();
        assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], "42");
        let ok = serde_json::to_value(response(None)).unwrap();
        assert_eq!(ok["batchItemFailures"].as_array().unwrap().len(), 0);
    }
}
