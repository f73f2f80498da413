//! What the shard log stores: the checkpoint (one DynamoDB item per operator and shard)
//! and the log objects (S3) it points to, and how a log object is encoded.
//!
//! A log object holds the *full* new value of every item a commit changed (not a diff):
//! replaying the objects a checkpoint lists, oldest first, over an empty map rebuilds the
//! shard's items exactly, and replaying one twice is harmless. A snapshot object is the
//! same format holding every live item. Both carry the outputs their version produced
//! (the outbox): whoever adopts a version it did not write re-publishes them, so an
//! output is never lost between the checkpoint write and its publication.
//!
//! Format 2 embeds each item's state (already JSON) as a raw JSON value; format 1 wrapped
//! it in a JSON string, whose escaping of every quote was a tenth of fraud-detector's CPU
//! on the Flink benchmark's R1 (perf). Format 1 objects are still read.
//!
//! Objects are stored as LZ4 frames of that JSON ([`seal`]; `lz4 -d` opens one). Item
//! states repeat their field names item after item: session-tracker's objects shrink
//! 6.4 times, fraud-detector's 2.7 times, at ~800 MB/s. Uncompressed, the pipeline
//! benchmark moved 778 MB of objects for 300,000 events, and hashing, copying and
//! page-faulting them cost more than compressing does. Plain JSON objects (written
//! before) are still read: a frame starts with the LZ4 magic number, JSON with `{`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::Error;
use crate::ids::{SequenceNumber, ShardId};
use crate::operator::Timer;
use crate::store::{FailingRecord, OutputItem, OutputTable, StoredState};

/// Format version written into every object.
pub const FORMAT: u32 = 2;
/// The format that stored item bodies as JSON strings (still read).
const FORMAT_STRING_BODIES: u32 = 1;

/// The durable head of one operator's shard: which objects make up its state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// Bumped by every commit; the optimistic-concurrency condition.
    pub version: u64,
    /// The latest snapshot object, if any.
    pub snapshot: Option<String>,
    /// Log objects written after the snapshot, oldest first.
    pub log: Vec<String>,
    /// Encoded size of the snapshot (bytes).
    pub snapshot_bytes: u64,
    /// Encoded size of the log objects together (bytes).
    pub log_bytes: u64,
    /// Objects of the previous generation, deleted at the next snapshot (readers that
    /// started from the previous checkpoint can still finish).
    pub retired: Vec<String>,
    /// The earliest processing-time timer of the shard (epoch ms), for the dispatcher.
    pub next_processing: Option<i64>,
    /// The earliest event-time timer of the shard (epoch ms), for the dispatcher.
    pub next_event: Option<i64>,
    /// A child shard inherited this (closed) shard's state after a reshard: its timers
    /// are the child's to fire now, so this shard fires none.
    pub superseded: bool,
}

/// One item in a log object, as read.
#[derive(Debug, Clone, Deserialize)]
struct ItemRecord {
    k: String,
    v: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    hwm: BTreeMap<ShardId, SequenceNumber>,
    /// The state as raw JSON (format 2), or a JSON string holding it (format 1).
    body: Box<RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failing: Option<(ShardId, SequenceNumber, u32)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    timers: Vec<(Timer, i64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

/// [`ItemRecord`] borrowed from the store's memory, for encoding without a copy. The
/// body is not a field: [`encode_parts`] appends it raw.
#[derive(Debug, Serialize)]
struct ItemRecordRef<'a> {
    k: &'a str,
    v: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    hwm: &'a BTreeMap<ShardId, SequenceNumber>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failing: Option<(&'a ShardId, &'a SequenceNumber, u32)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    timers: Vec<(Timer, i64)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
}

impl<'a> ItemRecordRef<'a> {
    fn of(k: &'a str, s: &'a StoredState) -> Self {
        Self {
            k,
            v: s.version,
            hwm: &s.high_water,
            failing: s
                .failing
                .as_ref()
                .map(|f| (&f.shard, &f.sequence, f.attempts)),
            timers: s.timers.iter().map(|(t, b)| (*t, *b)).collect(),
            ttl: s.ttl,
        }
    }
}

/// One output in a log object's outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OutputRecord {
    table: OutputTable,
    pk: String,
    sk: String,
    key: String,
    body: String,
}

/// [`OutputRecord`] borrowed from the outbox, for encoding without a copy (a busy
/// session-tracker batch carries thousands of session summaries).
#[derive(Debug, Serialize)]
struct OutputRecordRef<'a> {
    table: OutputTable,
    pk: &'a str,
    sk: &'a str,
    key: &'a str,
    body: &'a str,
}

/// A log or snapshot object as written (borrowing everything).
#[derive(Debug, Serialize)]
struct ObjectRef<'a> {
    format: u32,
    operator: &'a str,
    shard: &'a ShardId,
    version: u64,
    snapshot: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    outputs: Vec<OutputRecordRef<'a>>,
}

/// A log or snapshot object as read.
#[derive(Debug, Clone, Deserialize)]
struct Object {
    format: u32,
    operator: String,
    shard: ShardId,
    /// The checkpoint version this object became part of.
    version: u64,
    snapshot: bool,
    items: Vec<ItemRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    outputs: Vec<OutputRecord>,
}

/// A decoded log or snapshot object.
#[derive(Debug, Clone, PartialEq)]
pub struct LogObject {
    /// The operator.
    pub operator: String,
    /// The shard.
    pub shard: ShardId,
    /// The checkpoint version it was written for.
    pub version: u64,
    /// Whether it holds every item (a snapshot) or only the changed ones.
    pub snapshot: bool,
    /// Items by item key.
    pub items: Vec<(String, StoredState)>,
    /// The outputs its version produced, to publish.
    pub outputs: Vec<OutputItem>,
}

impl LogObject {
    /// Encodes the object (JSON).
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let items: Vec<(&str, &StoredState)> =
            self.items.iter().map(|(k, s)| (k.as_str(), s)).collect();
        encode_parts(
            &self.operator,
            &self.shard,
            (self.version, self.snapshot),
            &items,
            &self.outputs,
        )
    }

    /// Decodes a stored object (sealed or plain JSON); `name` (its key) is only used in
    /// the error.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<Self, Error> {
        let bytes = unseal(name, bytes)?;
        let object: Object = serde_json::from_slice(&bytes).map_err(|e| Error::CorruptState {
            key: name.to_owned(),
            reason: format!("shard log object: {e}"),
        })?;
        if object.format != FORMAT && object.format != FORMAT_STRING_BODIES {
            return Err(Error::CorruptState {
                key: name.to_owned(),
                reason: format!(
                    "shard log object format {} (this build reads {FORMAT_STRING_BODIES} and {FORMAT})",
                    object.format
                ),
            });
        }
        let string_bodies = object.format == FORMAT_STRING_BODIES;
        let corrupt = |e: serde_json::Error| Error::CorruptState {
            key: name.to_owned(),
            reason: format!("shard log object: item body: {e}"),
        };
        Ok(Self {
            operator: object.operator,
            shard: object.shard,
            version: object.version,
            snapshot: object.snapshot,
            items: object
                .items
                .into_iter()
                .map(|r| {
                    let body = if string_bodies {
                        serde_json::from_str::<String>(r.body.get()).map_err(corrupt)?
                    } else {
                        Box::<str>::from(r.body).into_string()
                    };
                    let state = StoredState {
                        version: r.v,
                        high_water: r.hwm,
                        body,
                        failing: r.failing.map(|(shard, sequence, attempts)| FailingRecord {
                            shard,
                            sequence,
                            attempts,
                        }),
                        timers: r.timers.into_iter().collect(),
                        ttl: r.ttl,
                    };
                    Ok((r.k, state))
                })
                .collect::<Result<_, Error>>()?,
            outputs: object
                .outputs
                .into_iter()
                .map(|o| OutputItem {
                    table: o.table,
                    pk: o.pk,
                    sk: o.sk,
                    key: o.key,
                    body: o.body,
                })
                .collect(),
        })
    }
}

/// Encodes an object from borrowed parts (the store's memory, without copying items):
/// `(version, snapshot)` as in [`LogObject`]. Each item's body is written as it is: it is
/// the fold's `serde_json` output, so it is one JSON value already.
pub fn encode_parts(
    operator: &str,
    shard: &ShardId,
    (version, snapshot): (u64, bool),
    items: &[(&str, &StoredState)],
    outputs: &[OutputItem],
) -> Result<Vec<u8>, Error> {
    let head = ObjectRef {
        format: FORMAT,
        operator,
        shard,
        version,
        snapshot,
        outputs: outputs
            .iter()
            .map(|o| OutputRecordRef {
                table: o.table,
                pk: &o.pk,
                sk: &o.sk,
                key: &o.key,
                body: &o.body,
            })
            .collect(),
    };
    // Sized up front: growing a multi-megabyte buffer copied it over and again (perf:
    // session-tracker's outbox of session summaries). An output's body is written as a JSON
    // string, its quotes escaped: ~1/8 more.
    let bodies: usize = items.iter().map(|(_, s)| s.body.len() + 96).sum();
    let outbox: usize = outputs
        .iter()
        .map(|o| o.pk.len() + o.sk.len() + o.key.len() + o.body.len() * 9 / 8 + 64)
        .sum();
    let mut out = Vec::with_capacity(bodies + outbox + 256);
    let encode = |e: serde_json::Error| Error::Service(format!("encoding log object: {e}"));
    serde_json::to_writer(&mut out, &head).map_err(encode)?;
    // Every part is a JSON object: its closing brace is reopened to append a field.
    reopen(&mut out);
    out.extend_from_slice(br#","items":["#);
    for (n, (k, state)) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &ItemRecordRef::of(k, state)).map_err(encode)?;
        reopen(&mut out);
        out.extend_from_slice(br#","body":"#);
        out.extend_from_slice(state.body.as_bytes());
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// The first four bytes of an LZ4 frame (little-endian 0x184D2204).
const LZ4_FRAME_MAGIC: [u8; 4] = [0x04, 0x22, 0x4d, 0x18];

/// An encoded object as stored: one LZ4 frame.
pub fn seal(json: &[u8]) -> Result<Vec<u8>, Error> {
    let failed = |e: std::io::Error| Error::Service(format!("compressing log object: {e}"));
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(json.len() / 3));
    encoder.write_all(json).map_err(failed)?;
    encoder
        .finish()
        .map_err(|e| failed(std::io::Error::other(e)))
}

/// The JSON of a stored object: a sealed one decompressed, a plain one as it is.
fn unseal<'a>(name: &str, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, Error> {
    if !bytes.starts_with(&LZ4_FRAME_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut json = Vec::with_capacity(bytes.len() * 4);
    lz4_flex::frame::FrameDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| Error::CorruptState {
            key: name.to_owned(),
            reason: format!("shard log object: LZ4 frame: {e}"),
        })?;
    Ok(Cow::Owned(json))
}

/// Drops the closing `}` of the JSON object just written to `out`.
fn reopen(out: &mut Vec<u8>) {
    debug_assert_eq!(out.last(), Some(&b'}'));
    out.pop();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EventTime;
    use crate::operator::TimeDomain;

    #[test]
    fn a_log_object_survives_encoding_with_marks_timers_failures_and_outputs() {
        let state = StoredState {
            version: 7,
            high_water: BTreeMap::from([(
                ShardId("shardId-0".into()),
                SequenceNumber::parse("4959").unwrap(),
            )]),
            body: r#"{"n":1}"#.into(),
            failing: Some(FailingRecord {
                shard: ShardId("shardId-0".into()),
                sequence: SequenceNumber::parse("4960").unwrap(),
                attempts: 2,
            }),
            timers: BTreeMap::from([(
                Timer {
                    domain: TimeDomain::Event,
                    time: EventTime(1_000),
                },
                0,
            )]),
            ttl: Some(99),
        };
        let object = LogObject {
            operator: "op".into(),
            shard: ShardId("shardId-0".into()),
            version: 3,
            snapshot: false,
            items: vec![("op#a".into(), state)],
            outputs: vec![OutputItem {
                table: OutputTable::LateEvents,
                pk: "p".into(),
                sk: "s".into(),
                key: "a".into(),
                body: "{}".into(),
            }],
        };
        let bytes = object.encode().unwrap();
        assert_eq!(LogObject::decode("x", &bytes).unwrap(), object);
    }

    #[test]
    fn item_bodies_are_embedded_as_json_not_as_escaped_strings() {
        let state = StoredState {
            version: 1,
            body: r#"{"note":"say \"hi\"\n","n":[1,2]}"#.into(),
            ..StoredState::default()
        };
        let object = LogObject {
            operator: "op".into(),
            shard: ShardId("shardId-0".into()),
            version: 1,
            snapshot: true,
            items: vec![("op#a".into(), state.clone()), ("op#b".into(), state)],
            outputs: Vec::new(),
        };
        let bytes = object.encode().unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.contains(r#""body":{"note":"say \"hi\"\n","n":[1,2]}}"#),
            "{text}"
        );
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap();
        assert_eq!(LogObject::decode("x", &bytes).unwrap(), object);
    }

    #[test]
    fn a_sealed_object_is_an_lz4_frame_that_decodes_like_the_plain_json() {
        let state = StoredState {
            version: 4,
            body: r#"{"open":{"value":[{"start":1,"end":2}]}}"#.into(),
            ..StoredState::default()
        };
        let object = LogObject {
            operator: "op".into(),
            shard: ShardId("shardId-0".into()),
            version: 2,
            snapshot: false,
            items: (0..200)
                .map(|n| (format!("op#k{n}"), state.clone()))
                .collect(),
            outputs: Vec::new(),
        };
        let json = object.encode().unwrap();
        let sealed = seal(&json).unwrap();
        assert!(sealed.starts_with(&LZ4_FRAME_MAGIC));
        assert!(
            sealed.len() * 4 < json.len(),
            "{} of {}",
            sealed.len(),
            json.len()
        );
        let mut plain = Vec::new();
        lz4_flex::frame::FrameDecoder::new(&sealed[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, json);
        assert_eq!(LogObject::decode("x", &sealed).unwrap(), object);
        assert_eq!(LogObject::decode("x", &json).unwrap(), object);
    }

    #[test]
    fn a_truncated_lz4_frame_is_a_clear_corrupt_state_error() {
        let object = LogObject {
            operator: "op".into(),
            shard: ShardId("shardId-0".into()),
            version: 1,
            snapshot: true,
            items: vec![("op#a".into(), StoredState::default())],
            outputs: Vec::new(),
        };
        let sealed = seal(&object.encode().unwrap()).unwrap();
        let err = LogObject::decode("k", &sealed[..sealed.len() / 2]).unwrap_err();
        assert!(matches!(err, Error::CorruptState { .. }), "{err}");
        assert!(err.to_string().contains("LZ4"), "{err}");
    }

    #[test]
    fn format_1_objects_with_string_bodies_are_still_read() {
        let bytes = br#"{"format":1,"operator":"op","shard":"s","version":2,"snapshot":false,
            "items":[{"k":"op#a","v":3,"body":"{\"n\":1}"}]}"#;
        let object = LogObject::decode("x", bytes).unwrap();
        assert_eq!(object.items.len(), 1);
        assert_eq!(object.items[0].0, "op#a");
        assert_eq!(object.items[0].1.body, r#"{"n":1}"#);
        assert_eq!(object.items[0].1.version, 3);
    }

    #[test]
    fn an_object_of_another_format_is_a_clear_corrupt_state_error() {
        let err = LogObject::decode(
            "k",
            br#"{"format":9,"operator":"o","shard":"s","version":1,"snapshot":true,"items":[]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("format 9"), "{err}");
    }
}
