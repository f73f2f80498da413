//! The operator API: one required method, [`Operator::on_event`], plus default hooks.
//!
//! An operator declares its event type (decoded by a [`Codec`](crate::codec::Codec)),
//! its per-key state (a [`KeyedState`] serde struct) and its output type, and says how
//! to extract the state key from an event. The framework reads the key's state once per
//! batch, calls `on_event` for each new record of that key in shard order, and commits
//! the state and the emitted outputs together. Callbacks may register and delete
//! processing-time and event-time timers (fired through `on_timer` by the dispatcher),
//! read the operator's watermark, emit keyed outputs that later emissions overwrite
//! (window results) and route late events to a side output.

use serde::{Deserialize, Serialize};

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
    /// The decoded record type (the [`Codec`](crate::codec::Codec) makes it; the default
    /// JSON codec needs it to be `DeserializeOwned`).
    type Event: Send + 'static;
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

    /// The event time of an event, if it has one: feeds the shard's watermark (see
    /// [`crate::watermark`]). The default, `None`, leaves the watermark alone.
    fn event_time(&self, event: &Self::Event) -> Option<EventTime> {
        let _ = event;
        None
    }

    /// Applies one event to its key's state. Return [`Error::InvalidRecord`] (or any
    /// poison error) to dead-letter the record, [`Error::OperatorRetry`] to have it
    /// re-delivered. Must be deterministic: a conflict re-applies it to fresher state.
    fn on_event(
        &self,
        key: &str,
        event: Self::Event,
        ctx: &mut Context<'_, Self::State, Self::Output>,
    ) -> Result<(), Error>;

    /// Called when a timer of `key` fires: a processing-time timer when the clock passes
    /// it, an event-time timer when the operator's watermark passes it. The context holds
    /// the key's state; outputs and timer changes commit atomically with the deletion of
    /// the fired timer, so a timer fires exactly once.
    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, Self::State, Self::Output>,
    ) -> Result<(), Error> {
        let _ = (key, timer, ctx);
        Ok(())
    }
}

/// A shared operator is an operator: the processor and its in-process timer dispatcher
/// hold the same instance.
impl<O: Operator> Operator for std::sync::Arc<O> {
    type Event = O::Event;
    type State = O::State;
    type Output = O::Output;

    fn name(&self) -> &str {
        (**self).name()
    }

    fn key(&self, event: &Self::Event, record: &RecordMeta) -> Result<String, Error> {
        (**self).key(event, record)
    }

    fn event_time(&self, event: &Self::Event) -> Option<EventTime> {
        (**self).event_time(event)
    }

    fn on_event(
        &self,
        key: &str,
        event: Self::Event,
        ctx: &mut Context<'_, Self::State, Self::Output>,
    ) -> Result<(), Error> {
        (**self).on_event(key, event, ctx)
    }

    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, Self::State, Self::Output>,
    ) -> Result<(), Error> {
        (**self).on_timer(key, timer, ctx)
    }
}

/// Which clock a timer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeDomain {
    /// Wall-clock time: fires when the dispatcher's clock reaches it.
    Processing,
    /// Event time: fires when the operator's watermark reaches it.
    Event,
}

/// A timer of one key: at most one per (domain, time), so registering twice is a no-op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Timer {
    /// The clock it follows.
    pub domain: TimeDomain,
    /// When it is due (epoch ms).
    pub time: EventTime,
}

/// A timer registration or deletion requested by an operator, in call order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerChange {
    /// Register (idempotent).
    Set(Timer),
    /// Delete (a no-op if absent).
    Delete(Timer),
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// The outputs table under a deterministic id derived from the record (or timer).
    Default,
    /// The outputs table under an operator-chosen key: a later emission with the same key
    /// overwrites (window results updated by allowed-late events, for example).
    Keyed {
        /// Partition key.
        pk: String,
        /// Sort key.
        sk: String,
    },
}

/// An event routed to the late-events side output instead of being applied.
#[derive(Debug, Clone, PartialEq)]
pub struct LateEvent {
    /// Groups late events (e.g. the event's day): item pk = `<operator>#<partition>`.
    pub partition: String,
    /// The item body: `{"reason": …, "event": …}` as JSON.
    pub body: String,
}

/// Everything a callback produced besides state changes.
#[derive(Debug)]
pub struct Effects<O> {
    /// Outputs in emission order, with their placement.
    pub outputs: Vec<(Placement, O)>,
    /// Timer changes in call order (the framework nets them per timer).
    pub timers: Vec<TimerChange>,
    /// Late events.
    pub late: Vec<LateEvent>,
}

impl<O> Default for Effects<O> {
    fn default() -> Self {
        Self {
            outputs: Vec::new(),
            timers: Vec::new(),
            late: Vec::new(),
        }
    }
}

/// What a callback sees: the key's state, the record (or timer) being handled, "now",
/// the watermark, and buffers for outputs, timer changes and late events.
#[derive(Debug)]
pub struct Context<'a, S, O> {
    state: &'a mut S,
    effects: &'a mut Effects<O>,
    record: Option<&'a RecordMeta>,
    timer: Option<Timer>,
    now: EventTime,
    watermark: EventTime,
}

impl<'a, S, O> Context<'a, S, O> {
    /// A context over `state` (the framework builds these; public for operator tests).
    /// The watermark starts at [`EventTime::MIN`] (nothing is known to be complete).
    pub fn new(
        state: &'a mut S,
        effects: &'a mut Effects<O>,
        record: Option<&'a RecordMeta>,
        now: EventTime,
    ) -> Self {
        Self {
            state,
            effects,
            record,
            timer: None,
            now,
            watermark: EventTime::MIN,
        }
    }

    /// Sets the operator watermark the callback sees.
    #[must_use]
    pub fn with_watermark(mut self, watermark: EventTime) -> Self {
        self.watermark = watermark;
        self
    }

    /// Marks the context as handling `timer` (inside `on_timer`).
    #[must_use]
    pub fn with_timer(mut self, timer: Timer) -> Self {
        self.timer = Some(timer);
        self
    }

    /// The key's state.
    pub fn state(&mut self) -> &mut S {
        self.state
    }

    /// Emits an output, committed atomically with this key's state change under a
    /// deterministic id (operator, shard, sequence number, index — or the timer).
    pub fn emit(&mut self, output: O) {
        self.effects.outputs.push((Placement::Default, output));
    }

    /// Emits an output under an operator-chosen `pk`/`sk` in the outputs table; a later
    /// emission under the same key replaces it.
    pub fn emit_keyed(&mut self, pk: impl Into<String>, sk: impl Into<String>, output: O) {
        let placement = Placement::Keyed {
            pk: pk.into(),
            sk: sk.into(),
        };
        self.effects.outputs.push((placement, output));
    }

    /// Routes `event` to the late-events side output (committed with the state change),
    /// with the reason it was not applied.
    pub fn emit_late<E: Serialize>(
        &mut self,
        partition: impl Into<String>,
        event: &E,
        reason: &str,
    ) -> Result<(), Error> {
        let body = serde_json::to_string(&serde_json::json!({ "reason": reason, "event": event }))
            .map_err(|e| Error::InvalidRecord(format!("late event: {e}")))?;
        self.effects.late.push(LateEvent {
            partition: partition.into(),
            body,
        });
        Ok(())
    }

    /// Registers a processing-time timer for this key at `time` (idempotent).
    pub fn register_processing_timer(&mut self, time: EventTime) {
        self.set_timer(TimeDomain::Processing, time);
    }

    /// Registers an event-time timer for this key at `time` (idempotent).
    pub fn register_event_timer(&mut self, time: EventTime) {
        self.set_timer(TimeDomain::Event, time);
    }

    /// Registers a timer (idempotent per key, domain and time).
    pub fn set_timer(&mut self, domain: TimeDomain, time: EventTime) {
        self.effects
            .timers
            .push(TimerChange::Set(Timer { domain, time }));
    }

    /// Deletes a timer of this key (a no-op if it is not registered).
    pub fn delete_timer(&mut self, domain: TimeDomain, time: EventTime) {
        self.effects
            .timers
            .push(TimerChange::Delete(Timer { domain, time }));
    }

    /// The record being applied (`None` inside `on_timer`).
    pub fn record(&self) -> Option<&RecordMeta> {
        self.record
    }

    /// The timer being fired (`None` inside `on_event`).
    pub fn timer(&self) -> Option<Timer> {
        self.timer
    }

    /// Processing time from the injected clock.
    pub fn now(&self) -> EventTime {
        self.now
    }

    /// The operator's watermark: event times at or below it are complete (the minimum
    /// over its shards' watermarks). [`EventTime::MIN`] until one is known.
    pub fn watermark(&self) -> EventTime {
        self.watermark
    }
}
