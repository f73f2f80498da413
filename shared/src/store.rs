//! The `StateStore` seam: what the committer needs from a state backend.
//!
//! [`DynamoStateStore`](crate::dynamo_store::DynamoStateStore) implements it over
//! `aws-sdk-dynamodb`; tests wrap it to inject crashes, throttles and latency between
//! individual key commits. The trait speaks in whole keys: one read of many keys, one
//! atomic commit per key (state + outputs), and idempotent dead-letter writes.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use crate::deadletter::DeadLetter;
use crate::error::Error;
use crate::ids::{SequenceNumber, ShardId};
use crate::operator::Timer;
use crate::timer_store::{TimerEntry, TimerWrites};

/// A key's stored state as read from (or about to be written to) the store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoredState {
    /// Optimistic-concurrency version: bumped by every commit.
    pub version: u64,
    /// Per shard, the highest sequence number already applied to this key.
    pub high_water: BTreeMap<ShardId, SequenceNumber>,
    /// The operator's state, encoded (JSON).
    pub body: String,
    /// The record this key is stuck on, if the operator keeps asking to retry it.
    pub failing: Option<FailingRecord>,
    /// The key's registered timers and the bucket each one's item was written to: the
    /// truth the timers table indexes (an item without its entry here never fires).
    pub timers: BTreeMap<Timer, i64>,
    /// DynamoDB TTL (epoch seconds) when the whole item may expire, else `None`.
    pub ttl: Option<i64>,
}

/// A record whose application failed with a retryable operator error, and how often.
/// After `max_record_attempts` such failures the record is treated as poison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingRecord {
    /// Its shard.
    pub shard: ShardId,
    /// Its sequence number.
    pub sequence: SequenceNumber,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// Which table an output goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputTable {
    /// The operator's outputs table (`OUTPUTS_TABLE`, or e.g. the alerts table).
    Outputs,
    /// The late-events side output (`LATE_EVENTS_TABLE`).
    LateEvents,
    /// The dead-letter table (`DEAD_LETTER_TABLE`): a timer whose callback fails for good
    /// is dead-lettered in the same transaction that deletes it.
    DeadLetters,
}

/// An output committed with a key's state change.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputItem {
    /// Its table.
    pub table: OutputTable,
    /// Deterministic partition key: the same record always produces the same key, so a
    /// re-delivered record overwrites rather than duplicates.
    pub pk: String,
    /// Sort key.
    pub sk: String,
    /// The state key that produced it.
    pub key: String,
    /// The output, encoded (JSON).
    pub body: String,
}

impl OutputItem {
    /// Whether it was emitted under an operator-chosen key (`Placement::Keyed`): a later
    /// emission replaces it. Default placements use the operator's name as sort key.
    pub fn is_keyed(&self, operator: &str) -> bool {
        self.table == OutputTable::Outputs && self.sk != operator
    }
}

/// One key's commit: the new state, and what it must replace.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCommit {
    /// The state item's partition key (`operator#key`).
    pub item_key: String,
    /// The version read (`None`: the key had no item). Ignored when not `conditional`.
    pub expected_version: Option<u64>,
    /// Whether to guard the write with the version condition (exactly-once mode).
    pub conditional: bool,
    /// The state to store (its `version` is the new version).
    pub state: StoredState,
    /// Outputs to commit atomically with the state.
    pub outputs: Vec<OutputItem>,
    /// Timer items to put and delete in the same transaction (see [`crate::timer_store`]).
    pub timers: TimerWrites,
}

/// What became of a commit that reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitResult {
    /// Written.
    Committed,
    /// The version condition failed: someone else wrote the key; re-read and re-apply.
    Conflict,
}

/// A state backend.
pub trait StateStore: Send + Sync + 'static {
    /// Reads the items of `item_keys` (any number; the store chunks and retries
    /// unprocessed keys). Absent keys are absent from the map.
    fn get_many(
        &self,
        item_keys: &[String],
        consistent: bool,
    ) -> impl Future<Output = Result<HashMap<String, StoredState>, Error>> + Send;

    /// Commits one key atomically (state + outputs).
    fn commit(
        &self,
        commit: &KeyCommit,
    ) -> impl Future<Output = Result<CommitResult, Error>> + Send;

    /// Writes a dead letter under its deterministic id (idempotent).
    fn dead_letter(&self, letter: &DeadLetter) -> impl Future<Output = Result<(), Error>> + Send;

    /// Reads up to `limit` timer items of one timers-table partition whose sort key is
    /// below `sk_before`, in sort-key order (a `Query`, never a `Scan`). Stores without a
    /// timers table report a configuration error.
    fn query_timers(
        &self,
        partition: &str,
        sk_before: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TimerEntry>, Error>> + Send {
        let _ = (partition, sk_before, limit);
        async { Err(Error::Config("this store has no timers table".into())) }
    }

    /// Writes outputs outside any state commit, idempotently under their deterministic
    /// ids: the shard-log backend publishes a version's outbox after its checkpoint.
    /// A keyed output (non-default sort key) carries `version` and only replaces a value
    /// of an older version, so a late re-publication never reverts a newer one.
    fn put_outputs(
        &self,
        operator: &str,
        outputs: &[OutputItem],
        version: u64,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = (operator, outputs, version);
        async {
            Err(Error::Config(
                "this store cannot publish outputs alone".into(),
            ))
        }
    }

    /// Called before a batch of `shard` reads or commits any key (the shard-log backend
    /// loads or catches up the shard's state here, and a new shard inherits its
    /// `parents`' state). Default: nothing.
    fn begin_shard(
        &self,
        shard: &ShardId,
        parents: crate::shards::ShardParents<'_>,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = (shard, parents);
        async { Ok(()) }
    }

    /// Called after a batch's key commits: makes them durable if the store buffers them.
    /// An error means none of the batch's commits are durable. Default: nothing.
    fn finish_shard(&self, shard: &ShardId) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = shard;
        async { Ok(()) }
    }

    /// Called when a batch begun with `begin_shard` failed: forget its buffered commits.
    fn abandon_shard(&self, shard: &ShardId) -> impl Future<Output = ()> + Send {
        let _ = shard;
        async {}
    }

    /// Whether every record's state key must equal its partition key (state partitioned
    /// by shard).
    fn requires_partition_keys(&self) -> bool {
        false
    }

    /// Whether the processor fires due timers itself at the start of each batch (the
    /// timers live with the shard's state, not in a table a dispatcher queries).
    fn fires_timers_in_process(&self) -> bool {
        false
    }

    /// Deletes timer items unconditionally (orphans whose state no longer references them).
    fn delete_timer_items(
        &self,
        entries: &[TimerEntry],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        let _ = entries;
        async { Err(Error::Config("this store has no timers table".into())) }
    }
}
