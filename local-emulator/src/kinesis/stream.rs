//! The in-memory model of one stream: its shards, their hash key ranges and record logs.
//!
//! Locking is per stream and per shard, never global across a copy:
//! - [`Stream::state`] (`RwLock`) holds the shard list, which shards are open and the
//!   retention period. Writers and readers take it shared; only resharding, retention
//!   changes and listing take it exclusively or briefly. Because appends happen while it
//!   is held shared, a split or merge (exclusive) sees a stable last position and closes
//!   a shard with an exact `EndingSequenceNumber`.
//! - each [`Shard::log`] (`Mutex`) holds that shard's records and throughput counters.
//!   Record payloads are `Bytes` and partition keys `Arc<str>`, so GetRecords clones
//!   handles under the lock and base64-encodes after releasing it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use serde_json::{Value, json};

use super::limits::ShardLimits;
use super::sequence::SequenceNumber;

/// Milliseconds in an hour.
pub(crate) const HOUR_MILLIS: u64 = 3_600_000;

/// `StreamMode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamMode {
    /// Fixed shard count, changed by the caller.
    Provisioned,
    /// Capacity managed by AWS.
    OnDemand,
}

impl StreamMode {
    /// The wire name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Provisioned => "PROVISIONED",
            Self::OnDemand => "ON_DEMAND",
        }
    }
}

/// One record as stored.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Approximate arrival time, epoch ms (non-decreasing within a shard).
    pub(crate) arrival_millis: u64,
    pub(crate) partition_key: Arc<str>,
    pub(crate) data: Bytes,
}

impl Record {
    /// Bytes counted against quotas: key + data, as AWS counts them.
    pub(crate) fn size(&self) -> u64 {
        (self.partition_key.len() + self.data.len()) as u64
    }
}

/// A shard's records and usage counters.
#[derive(Debug, Default)]
pub(crate) struct ShardLog {
    records: VecDeque<Record>,
    /// Position of `records[0]`: how many records retention has trimmed.
    trimmed: u64,
    pub(crate) limits: ShardLimits,
}

impl ShardLog {
    /// Position of the oldest record still kept.
    pub(crate) fn first_position(&self) -> u64 {
        self.trimmed
    }

    /// Position the next appended record will get.
    pub(crate) fn next_position(&self) -> u64 {
        self.trimmed + self.records.len() as u64
    }

    /// Appends a record; returns its position. Arrival times never go backwards.
    pub(crate) fn append(&mut self, mut record: Record) -> u64 {
        if let Some(last) = self.records.back() {
            record.arrival_millis = record.arrival_millis.max(last.arrival_millis);
        }
        self.records.push_back(record);
        self.next_position() - 1
    }

    /// The record at `position`, if kept.
    pub(crate) fn get(&self, position: u64) -> Option<&Record> {
        let offset = usize::try_from(position.checked_sub(self.trimmed)?).ok()?;
        self.records.get(offset)
    }

    /// Drops records that arrived before `horizon_millis`.
    pub(crate) fn trim(&mut self, horizon_millis: u64) {
        while self
            .records
            .front()
            .is_some_and(|r| r.arrival_millis < horizon_millis)
        {
            self.records.pop_front();
            self.trimmed += 1;
        }
    }

    /// Position of the first record that arrived at or after `millis`.
    pub(crate) fn position_at_time(&self, millis: u64) -> u64 {
        self.trimmed + self.records.partition_point(|r| r.arrival_millis < millis) as u64
    }
}

/// One shard. Immutable apart from its log.
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) index: u32,
    pub(crate) start_hash: u128,
    pub(crate) end_hash: u128,
    pub(crate) parent: Option<u32>,
    pub(crate) adjacent_parent: Option<u32>,
    pub(crate) created_millis: u64,
    pub(crate) log: Mutex<ShardLog>,
}

impl Shard {
    /// Locks the log (a poisoned lock only means a panic elsewhere; the data is plain).
    pub(crate) fn lock(&self) -> MutexGuard<'_, ShardLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The shard id AWS would give shard number `index`.
pub(crate) fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Parses `shardId-000000000007` (also accepting the bare number's shorter forms AWS
/// tolerates) into the index.
pub(crate) fn parse_shard_id(id: &str) -> Option<u32> {
    id.strip_prefix("shardId-")?.parse().ok()
}

/// Why and when a shard closed.
#[derive(Debug, Clone)]
pub(crate) struct Closure {
    pub(crate) at_millis: u64,
    /// Position one past the shard's last record.
    pub(crate) end_position: u64,
    pub(crate) children: Vec<u32>,
}

/// A shard plus its open/closed status, as the stream sees it.
#[derive(Debug)]
pub(crate) struct ShardEntry {
    pub(crate) shard: Arc<Shard>,
    pub(crate) closure: Option<Closure>,
}

/// Mutable stream-wide state.
#[derive(Debug)]
pub(crate) struct StreamState {
    /// All shards by index (shard ids are dense).
    pub(crate) shards: Vec<ShardEntry>,
    /// Indices of open shards, sorted by starting hash key (for routing).
    pub(crate) open: Vec<u32>,
    pub(crate) retention_hours: u32,
}

impl StreamState {
    /// The entry of shard `index`.
    pub(crate) fn entry(&self, index: u32) -> Option<&ShardEntry> {
        self.shards.get(usize::try_from(index).ok()?)
    }

    /// The open shard whose hash key range contains `hash`.
    pub(crate) fn route(&self, hash: u128) -> Option<&Arc<Shard>> {
        let at = self
            .open
            .partition_point(|&i| self.entry(i).is_some_and(|e| e.shard.end_hash < hash));
        let shard = &self.entry(*self.open.get(at)?)?.shard;
        (shard.start_hash <= hash && hash <= shard.end_hash).then_some(shard)
    }

    /// Earliest arrival time still retained at `now_millis`.
    pub(crate) fn horizon(&self, now_millis: u64) -> u64 {
        now_millis.saturating_sub(u64::from(self.retention_hours) * HOUR_MILLIS)
    }

    /// Whether shard `entry` is still listed: closed shards disappear once retention has
    /// passed since they closed, as on AWS.
    pub(crate) fn is_visible(&self, entry: &ShardEntry, now_millis: u64) -> bool {
        entry
            .closure
            .as_ref()
            .is_none_or(|c| c.at_millis >= self.horizon(now_millis))
    }

    /// Adds a new open shard; returns its index. The caller keeps `open` sorted.
    pub(crate) fn add_shard(
        &mut self,
        (start_hash, end_hash): (u128, u128),
        parents: (Option<u32>, Option<u32>),
        now_millis: u64,
    ) -> u32 {
        let index = u32::try_from(self.shards.len()).unwrap_or(u32::MAX);
        self.shards.push(ShardEntry {
            shard: Arc::new(Shard {
                index,
                start_hash,
                end_hash,
                parent: parents.0,
                adjacent_parent: parents.1,
                created_millis: now_millis,
                log: Mutex::new(ShardLog::default()),
            }),
            closure: None,
        });
        index
    }

    /// Rebuilds the routing list from the entries.
    pub(crate) fn rebuild_open(&mut self) {
        let mut open: Vec<(u128, u32)> = self
            .shards
            .iter()
            .filter(|e| e.closure.is_none())
            .map(|e| (e.shard.start_hash, e.shard.index))
            .collect();
        open.sort_unstable();
        self.open = open.into_iter().map(|(_, i)| i).collect();
    }
}

/// Per-stream counters for `/_shardwise/metrics`.
#[derive(Debug, Default)]
pub(crate) struct StreamMetrics {
    pub(crate) records_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) records_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) throttled: AtomicU64,
}

impl StreamMetrics {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// One stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) name: String,
    pub(crate) arn: String,
    /// Unique per stream incarnation; part of sequence numbers and iterators.
    pub(crate) epoch: u64,
    pub(crate) created_millis: u64,
    pub(crate) mode: StreamMode,
    pub(crate) state: RwLock<StreamState>,
    pub(crate) metrics: StreamMetrics,
}

impl Stream {
    /// Shared access to the shard list.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, StreamState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access to the shard list.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, StreamState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The sequence number of position `position` in shard `shard`.
    pub(crate) fn sequence(&self, shard: u32, position: u64) -> SequenceNumber {
        SequenceNumber {
            epoch: self.epoch,
            shard,
            position,
        }
    }

    /// The `Shard` structure of DescribeStream and ListShards.
    pub(crate) fn shard_json(&self, entry: &ShardEntry) -> Value {
        let shard = &entry.shard;
        let mut range = json!({
            "StartingSequenceNumber": self.sequence(shard.index, 0).to_string(),
        });
        if let Some(closure) = &entry.closure {
            range["EndingSequenceNumber"] =
                Value::String(self.sequence(shard.index, closure.end_position).to_string());
        }
        let mut out = json!({
            "ShardId": shard_id(shard.index),
            "HashKeyRange": hash_range_json(shard),
            "SequenceNumberRange": range,
        });
        if let Some(p) = shard.parent {
            out["ParentShardId"] = Value::String(shard_id(p));
        }
        if let Some(p) = shard.adjacent_parent {
            out["AdjacentParentShardId"] = Value::String(shard_id(p));
        }
        out
    }
}

/// `HashKeyRange` of a shard.
pub(crate) fn hash_range_json(shard: &Shard) -> Value {
    json!({
        "StartingHashKey": shard.start_hash.to_string(),
        "EndingHashKey": shard.end_hash.to_string(),
    })
}

/// Hash key ranges of `count` equal shards covering 0..=2^128-1, as CreateStream and
/// UNIFORM_SCALING lay them out: shard `i` starts at `i * floor(2^128 / count)` and the
/// last one ends at 2^128-1.
pub(crate) fn uniform_ranges(count: u32) -> Vec<(u128, u128)> {
    let n = u128::from(count.max(1));
    if n == 1 {
        return vec![(0, u128::MAX)];
    }
    // floor(2^128 / n) without overflowing: floor((2^128-1)/n), plus one when n divides
    // 2^128 exactly (n a power of two, n >= 2 so no overflow).
    let step = u128::MAX / n + u128::from(n.is_power_of_two());
    (0..n)
        .map(|i| {
            let start = i * step;
            let end = if i + 1 == n {
                u128::MAX
            } else {
                (i + 1) * step - 1
            };
            (start, end)
        })
        .collect()
}

/// The routing hash of a partition key: MD5 read as a big-endian unsigned 128-bit
/// integer (KPL and kinesalite practice).
pub(crate) fn partition_hash(key: &str) -> u128 {
    use md5::{Digest, Md5};
    let digest: [u8; 16] = Md5::digest(key.as_bytes()).into();
    u128::from_be_bytes(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_uniform_shards_split_the_hash_space_at_two_to_the_127() {
        let r = uniform_ranges(2);
        assert_eq!(r[0], (0, (1u128 << 127) - 1));
        assert_eq!(r[1], (1u128 << 127, u128::MAX));
    }

    #[test]
    fn uniform_ranges_are_contiguous_for_any_count() {
        for n in [1, 3, 5, 7, 10, 100] {
            let r = uniform_ranges(n);
            assert_eq!(r.len(), n as usize);
            assert_eq!(r[0].0, 0);
            assert_eq!(r[r.len() - 1].1, u128::MAX);
            for w in r.windows(2) {
                assert_eq!(w[0].1 + 1, w[1].0);
            }
        }
    }

    #[test]
    fn partition_hash_reads_md5_big_endian() {
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(
            partition_hash("a"),
            u128::from_str_radix("0cc175b9c0f1b6a831c399e269772661", 16).unwrap()
        );
    }

    #[test]
    fn trimming_keeps_positions_stable() {
        let mut log = ShardLog::default();
        for t in [10, 20, 30] {
            log.append(Record {
                arrival_millis: t,
                partition_key: Arc::from("k"),
                data: Bytes::new(),
            });
        }
        log.trim(15);
        assert_eq!(log.first_position(), 1);
        assert_eq!(log.get(2).unwrap().arrival_millis, 30);
        assert!(log.get(0).is_none());
        assert_eq!(log.position_at_time(25), 2);
    }
}
