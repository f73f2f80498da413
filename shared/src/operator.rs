//! The operator API: one required method, [`Operator::on_event`], plus default hooks.
//!
//! An operator declares its event type (decoded by a [`Codec`](crate::codec::Codec)),
//! its per-key state (a [`KeyedState`] serde struct) and its output type, and says how
//! to extract the state key from an event. The framework reads the key's state once per
//! batch, calls `on_event` for each new record of that key in shard order, and commits
//! the state and the emitted outputs together. `on_timer` and `on_watermark` are hooks
//! for the time issue (timers, watermarks, windows); they default to doing nothing.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::ids::{EventTime, PartitionKey, SequenceNumber, ShardId};
use crate::state::KeyedState;

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMeta {
    /// The shard the record was read from.
    pub shard: ShardId,
    /// Its sequence number in that shard.
    pub sequence: SequenceNumber,
    /// The producer's partition key.
    pub partition_key: PartitionKey,
    /// Kinesis' approximate arrival time.
    pub arrival: EventTime,
}

/// A stateful stream operator.
pub trait Operator: Send + Sync + 'static {
    /// The decoded record type.
    type Event: DeserializeOwned + Send + 'static;
    /// The per-key state.
    type State: KeyedState;
    /// What `on_event` emits (written to the outputs table with the state change).
    type Output: Serialize + Send + Sync + 'static;

    /// The operator's name: prefixes its state keys, output ids and dead letters, so
    /// several operators can share tables.
    fn name(&self) -> &str;

    /// The state key of an event (e.g. the account id). An error is a poison record.
    ///
    /// With ParallelizationFactor > 1, Lambda keeps order per *partition key* only, so
    /// the state key must be determined by the partition key (use the same id for both):
    /// otherwise two concurrent batches of one shard could apply a key's records out of
    /// order, and the per-shard high-water mark would skip the older one.
    fn key(&self, event: &Self::Event, record: &RecordMeta) -> Result<String, Error>;

    /// Applies one event to its key's state. Return [`Error::InvalidRecord`] (or any
    /// poison error) to dead-letter the record, [`Error::OperatorRetry`] to have it
    /// re-delivered. Must be deterministic: a conflict re-applies it to fresher state.
    fn on_event(
        &self,
        key: &str,
        event: Self::Event,
        ctx: &mut Context<'_, Self::State, Self::Output>,
    ) -> Result<(), Error>;

    /// Called when a timer of `key` fires (timers come with the time issue).
    fn on_timer(
        &self,
        key: &str,
        time: EventTime,
        ctx: &mut Context<'_, Self::State, Self::Output>,
    ) -> Result<(), Error> {
        let _ = (key, time, ctx);
        Ok(())
    }

    /// Called when the operator's watermark advances (the time issue).
    fn on_watermark(&self, watermark: EventTime) -> Result<(), Error> {
        let _ = watermark;
        Ok(())
    }
}

/// What `on_event` sees: the key's state, the record's origin, "now", and an output
/// buffer.
#[derive(Debug)]
pub struct Context<'a, S, O> {
    state: &'a mut S,
    outputs: &'a mut Vec<O>,
    record: Option<&'a RecordMeta>,
    now: EventTime,
}

impl<'a, S, O> Context<'a, S, O> {
    /// A context over `state` (the framework builds these; public for operator tests).
    pub fn new(
        state: &'a mut S,
        outputs: &'a mut Vec<O>,
        record: Option<&'a RecordMeta>,
        now: EventTime,
    ) -> Self {
        Self {
            state,
            outputs,
            record,
            now,
        }
    }

    /// The key's state.
    pub fn state(&mut self) -> &mut S {
        self.state
    }

    /// Emits an output, committed atomically with this key's state change under a
    /// deterministic id (operator, shard, sequence number, index).
    pub fn emit(&mut self, output: O) {
        self.outputs.push(output);
    }

    /// The record being applied (`None` inside `on_timer`).
    pub fn record(&self) -> Option<&RecordMeta> {
        self.record
    }

    /// Processing time from the injected clock.
    pub fn now(&self) -> EventTime {
        self.now
    }
}
