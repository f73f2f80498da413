//! One Kinesis batch → archive objects in S3, and the batch response.
//!
//! Records are grouped by (day, shard): the day is the transaction's event day when the
//! record validates (so the reconciler finds a late transaction under its own day) and
//! the arrival day otherwise. Validation uses the record's arrival time as "now", so the
//! grouping — and therefore every key and byte — is the same on every retry. (The
//! stream functions validate against their processing clock instead; arrival ≤
//! processing time, so only a record whose event time lies more than the allowed skew
//! ahead of its arrival can be judged differently — archived as invalid under its
//! arrival day here, accepted there.)
//!
//! Objects are written concurrently with `If-None-Match: *` ([`S3Sink::put_once`]): an
//! object that already exists was written by an earlier attempt with the same bytes.
//! When some writes fail, the response names the lowest sequence number among the
//! records of the failed objects: Lambda re-delivers from there, so no record is lost
//! (records after it that were already archived are archived again in differently split
//! objects, which readers dedupe by (shard, sequence)).

use std::collections::BTreeMap;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use futures::StreamExt;
use monitoring::validate::Validator;
use shardwise::batch::{BatchRecord, parse_records, response};
use shardwise::sinks::S3Sink;
use shardwise::{Error, SequenceNumber};

use crate::format::{ArchiveLine, day_of_ms, encode_object, object_key};

/// At most this many PutObject calls in flight per batch.
const MAX_CONCURRENT_PUTS: usize = 8;

/// One object to write: its key, the records' lowest sequence number and the lines.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedObject {
    /// Deterministic key.
    pub key: String,
    /// The lowest sequence number of the object's records.
    pub first: SequenceNumber,
    /// The records, in delivery (= sequence) order.
    pub lines: Vec<ArchiveLine>,
}

/// The day a record is archived under: its event day if it validates, else its arrival day.
pub fn archive_day(validator: &Validator, data: &[u8], arrival_ms: i64) -> String {
    match validator.validate(data, arrival_ms) {
        Ok(tx) => day_of_ms(tx.event_time.millis()),
        Err(_) => day_of_ms(arrival_ms),
    }
}

/// Groups a batch into objects, one per (day, shard), in key order.
pub fn plan_objects(validator: &Validator, records: &[BatchRecord]) -> Vec<PlannedObject> {
    let mut groups: BTreeMap<(String, String), Vec<&BatchRecord>> = BTreeMap::new();
    for r in records {
        let day = archive_day(validator, &r.data, r.meta.arrival.0);
        groups
            .entry((day, r.meta.shard.0.clone()))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .filter_map(|((day, shard), rs)| {
            let first = rs.iter().map(|r| &r.meta.sequence).min()?.clone();
            let last = rs.iter().map(|r| &r.meta.sequence).max()?.clone();
            let lines = rs
                .iter()
                .map(|r| {
                    ArchiveLine::new(
                        &shard,
                        r.meta.sequence.as_str(),
                        r.meta.arrival.0,
                        &r.meta.partition_key.0,
                        &r.data,
                    )
                })
                .collect();
            Some(PlannedObject {
                key: object_key(&day, &shard, first.as_str(), last.as_str()),
                first,
                lines,
            })
        })
        .collect()
}

/// The first record not durably archived: the lowest `first` among failed objects.
pub fn first_unarchived<'a>(
    outcomes: impl IntoIterator<Item = (&'a PlannedObject, bool)>,
) -> Option<SequenceNumber> {
    outcomes
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(o, _)| o.first.clone())
        .min()
}

/// The archiver: a Kinesis batch handler writing to one bucket.
#[derive(Debug, Clone)]
pub struct Archiver {
    sink: S3Sink,
    validator: Validator,
}

impl Archiver {
    /// An archiver writing to `bucket` with `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: &str) -> Self {
        Self {
            sink: S3Sink::new(client, bucket),
            validator: Validator::default(),
        }
    }

    /// Archives one batch. A record without a parseable origin fails the invocation
    /// (Lambda never sends one); S3 failures become a `batchItemFailures` entry.
    pub async fn handle(&self, event: &KinesisEvent) -> Result<KinesisEventResponse, Error> {
        let records = parse_records(event)?;
        let objects = plan_objects(&self.validator, &records);
        let results: Vec<bool> = futures::stream::iter(objects.iter())
            .map(|o| async move {
                match self.sink.put_once(&o.key, encode_object(&o.lines)).await {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(key = %o.key, error = %e, "archive write failed");
                        false
                    }
                }
            })
            .buffered(MAX_CONCURRENT_PUTS)
            .collect()
            .await;
        let failed_from = first_unarchived(objects.iter().zip(results));
        tracing::info!(records = records.len(), objects = objects.len(),
            failed_from = ?failed_from.as_ref().map(ToString::to_string), "batch archived");
        Ok(response(failed_from.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardwise::{EventTime, PartitionKey, RecordMeta, ShardId};

    const ARRIVAL_MS: i64 = 1_795_305_600_500; // 2026-11-22T00:00:00.500Z

    fn tx_json(id: &str, event_time: &str) -> Vec<u8> {
        format!(
            r#"{{"transaction_id":"{id}","account_id":"acc-1","card_id":"card-1","merchant_id":"m-1","mcc":"5411","product_id":"p-1","amount_minor":100,"currency":"EUR","event_time":"{event_time}","country":"DE","lat":52.5,"lon":13.4,"device_id":"dev-1","channel":"pos"}}"#
        )
        .into_bytes()
    }

    fn record(seq: &str, data: Vec<u8>) -> BatchRecord {
        BatchRecord {
            meta: RecordMeta {
                shard: ShardId("shardId-000000000000".into()),
                sequence: SequenceNumber::parse(seq).unwrap(),
                partition_key: PartitionKey("acc-1".into()),
                arrival: EventTime(ARRIVAL_MS),
            },
            data,
        }
    }

    #[test]
    fn valid_records_go_to_their_event_day_and_invalid_ones_to_their_arrival_day() {
        let records = vec![
            record("100", tx_json("t1", "2026-11-21T23:59:59.900Z")),
            record("101", b"not json".to_vec()),
            record("102", tx_json("t2", "2026-11-21T23:59:58.000Z")),
        ];
        let objects = plan_objects(&Validator::default(), &records);
        let keys: Vec<_> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "raw/dt=2026-11-21/shard=shardId-000000000000/100-102.jsonl.gz",
                "raw/dt=2026-11-22/shard=shardId-000000000000/101-101.jsonl.gz",
            ]
        );
        assert_eq!(objects[0].lines.len(), 2);
        assert_eq!(objects[1].lines[0].data().unwrap(), b"not json");
    }

    #[test]
    fn the_first_unarchived_record_is_the_lowest_of_the_failed_objects() {
        let records = vec![
            record("100", tx_json("t1", "2026-11-21T10:00:00.000Z")),
            record("101", b"bad".to_vec()),
            record("102", tx_json("t2", "2026-11-21T10:00:00.000Z")),
            record("103", b"bad".to_vec()),
        ];
        let objects = plan_objects(&Validator::default(), &records);
        assert_eq!(objects.len(), 2);
        let only_second_failed = first_unarchived([(&objects[0], true), (&objects[1], false)]);
        assert_eq!(only_second_failed.unwrap().as_str(), "101");
        let both = first_unarchived([(&objects[0], false), (&objects[1], false)]);
        assert_eq!(both.unwrap().as_str(), "100");
        assert_eq!(
            first_unarchived([(&objects[0], true), (&objects[1], true)]),
            None
        );
    }

    #[test]
    fn planning_is_deterministic_for_a_retried_batch() {
        let records = vec![record("7", tx_json("t1", "2026-11-21T10:00:00.000Z"))];
        let a = plan_objects(&Validator::default(), &records);
        let b = plan_objects(&Validator::default(), &records);
        assert_eq!(a, b);
        assert_eq!(encode_object(&a[0].lines), encode_object(&b[0].lines));
    }
}
