//! An in-memory shard log implementing [`ShardSource`]: enough of Kinesis (put with
//! partition-key routing, split, trim-horizon/latest/at-timestamp/after-sequence
//! iterators, closed-shard ends) to drive the mapping's delivery semantics in tests
//! without the Kinesis service. Sequence numbers are 56-digit decimals like Kinesis',
//! so numeric-versus-lexical comparison bugs show.

use std::sync::Mutex;

use base64::Engine as _;
use futures::future::BoxFuture;

use super::client::{IteratorStart, Page, ShardInfo};
use super::records::{Record, compare_sequence};
use super::source::ShardSource;
use crate::error::AwsJsonError;

#[derive(Debug)]
struct Shard {
    id: String,
    parents: Vec<String>,
    records: Vec<Record>,
    closed: bool,
}

/// One in-memory stream.
#[derive(Debug)]
pub struct MemoryStream {
    shards: Mutex<Vec<Shard>>,
    next_seq: Mutex<u128>,
}

impl MemoryStream {
    /// A stream with `shards` open shards.
    pub fn new(shards: usize) -> Self {
        Self {
            shards: Mutex::new(
                (0..shards)
                    .map(|i| Shard {
                        id: shard_id(i),
                        parents: Vec::new(),
                        records: Vec::new(),
                        closed: false,
                    })
                    .collect(),
            ),
            next_seq: Mutex::new(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Shard>> {
        self.shards.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a record to the open shard `pk` hashes to; returns (shard, sequence).
    /// With no open shard nothing is stored and the shard id is empty.
    pub fn put(&self, partition_key: &str, data: &[u8], arrival: f64) -> (String, String) {
        let seq = {
            let mut n = self.next_seq.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            format!("4959{:052}", *n)
        };
        let mut shards = self.lock();
        let open: Vec<usize> = (0..shards.len()).filter(|i| !shards[*i].closed).collect();
        let Some(&pick) = open.get(super::mapping::slot_of(partition_key, open.len())) else {
            return (String::new(), seq);
        };
        let shard = &mut shards[pick];
        shard.records.push(Record {
            sequence_number: seq.clone(),
            partition_key: partition_key.to_owned(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(data),
            arrival,
            encryption_type: None,
        });
        (shard.id.clone(), seq)
    }

    /// Appends a record to a specific shard.
    pub fn put_to(&self, shard: &str, partition_key: &str, data: &[u8], arrival: f64) -> String {
        let seq = {
            let mut n = self.next_seq.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            format!("4959{:052}", *n)
        };
        let mut shards = self.lock();
        if let Some(s) = shards.iter_mut().find(|s| s.id == shard && !s.closed) {
            s.records.push(Record {
                sequence_number: seq.clone(),
                partition_key: partition_key.to_owned(),
                data_base64: base64::engine::general_purpose::STANDARD.encode(data),
                arrival,
                encryption_type: None,
            });
        }
        seq
    }

    /// Closes `shard` and opens two children whose parent it is.
    pub fn split(&self, shard: &str) -> Vec<String> {
        let mut shards = self.lock();
        let n = shards.len();
        let Some(s) = shards.iter_mut().find(|s| s.id == shard) else {
            return Vec::new();
        };
        s.closed = true;
        let children = vec![shard_id(n), shard_id(n + 1)];
        for id in &children {
            shards.push(Shard {
                id: id.clone(),
                parents: vec![shard.to_owned()],
                records: Vec::new(),
                closed: false,
            });
        }
        children
    }
}

fn shard_id(i: usize) -> String {
    format!("shardId-{i:012}")
}

fn not_found(what: &str) -> AwsJsonError {
    AwsJsonError::client("ResourceNotFoundException", what.to_owned())
}

impl ShardSource for MemoryStream {
    fn list_shards<'a>(
        &'a self,
        _stream: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ShardInfo>, AwsJsonError>> {
        let shards = self
            .lock()
            .iter()
            .map(|s| ShardInfo {
                id: s.id.clone(),
                parents: s.parents.clone(),
            })
            .collect();
        Box::pin(async move { Ok(shards) })
    }

    fn iterator<'a>(
        &'a self,
        _stream: &'a str,
        shard: &'a str,
        start: &'a IteratorStart,
    ) -> BoxFuture<'a, Result<String, AwsJsonError>> {
        let result = self
            .lock()
            .iter()
            .find(|s| s.id == shard)
            .map(|s| {
                let pos = match start {
                    IteratorStart::TrimHorizon => 0,
                    IteratorStart::Latest => s.records.len(),
                    IteratorStart::AtTimestamp(t) => s
                        .records
                        .iter()
                        .position(|r| r.arrival >= *t)
                        .unwrap_or(s.records.len()),
                    IteratorStart::After(seq) => s
                        .records
                        .iter()
                        .position(|r| compare_sequence(&r.sequence_number, seq).is_gt())
                        .unwrap_or(s.records.len()),
                };
                format!("{shard}|{pos}")
            })
            .ok_or_else(|| not_found(shard));
        Box::pin(async move { result })
    }

    fn get_records<'a>(
        &'a self,
        iterator: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Page, AwsJsonError>> {
        let result = (|| {
            let (shard, pos) = iterator
                .split_once('|')
                .ok_or_else(|| not_found(iterator))?;
            let pos: usize = pos.parse().map_err(|_| not_found(iterator))?;
            let shards = self.lock();
            let s = shards
                .iter()
                .find(|s| s.id == shard)
                .ok_or_else(|| not_found(shard))?;
            let end = (pos + limit as usize).min(s.records.len());
            let records = s
                .records
                .get(pos..end)
                .map(<[Record]>::to_vec)
                .unwrap_or_default();
            let at_end = end >= s.records.len();
            Ok(Page {
                records,
                next_iterator: if s.closed && at_end {
                    None
                } else {
                    Some(format!("{shard}|{end}"))
                },
                millis_behind: if at_end { 0 } else { 1_000 },
            })
        })();
        Box::pin(async move { result })
    }
}
