//! An operator test harness (in the spirit of Flink's
//! `KeyedOneInputStreamOperatorTestHarness`): drives an [`Operator`] through its
//! callbacks with in-memory keyed state, timers, a chosen watermark and processing time,
//! and no store, so an operator's logic — windows, sessions, timers — can be unit-tested
//! against an oracle in microseconds.
//!
//! It applies the framework's semantics: state is expired on read at processing time,
//! timer registrations are idempotent per key, domain and time, an event-time timer fires
//! once the watermark reaches it, a processing-time timer once the clock does, in time
//! order, including timers registered while firing. The exactly-once machinery (commits,
//! high-water marks, re-delivery) is not involved: test that through
//! [`Processor`](crate::Processor).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;
use crate::ids::{EventTime, PartitionKey, SequenceNumber, ShardId};
use crate::operator::{
    Context, Effects, LateEvent, Operator, Placement, RecordMeta, TimeDomain, Timer, TimerChange,
};
use crate::state::KeyedState;

/// Drives one operator in memory.
#[derive(Debug)]
pub struct Harness<O: Operator> {
    operator: O,
    states: BTreeMap<String, O::State>,
    timers: BTreeSet<(Timer, String)>,
    watermark: EventTime,
    now: EventTime,
    sequence: u64,
    /// Every output in emission order, with its key and placement.
    pub outputs: Vec<(String, Placement, O::Output)>,
    /// Every late event in emission order.
    pub late: Vec<LateEvent>,
}

impl<O: Operator> Harness<O> {
    /// A harness at processing time 0 with the watermark unknown.
    pub fn new(operator: O) -> Self {
        Self {
            operator,
            states: BTreeMap::new(),
            timers: BTreeSet::new(),
            watermark: EventTime::MIN,
            now: EventTime(0),
            sequence: 0,
            outputs: Vec::new(),
            late: Vec::new(),
        }
    }

    /// Applies one event (from shard `shardId-000000000000`, the next sequence number).
    pub fn process(&mut self, event: O::Event) -> Result<(), Error> {
        self.sequence += 1;
        let meta = RecordMeta {
            shard: ShardId("shardId-000000000000".into()),
            sequence: SequenceNumber::parse(&self.sequence.to_string())?,
            partition_key: PartitionKey(String::new()),
            arrival: self.now,
        };
        let key = self.operator.key(&event, &meta)?;
        let mut state = self.states.remove(&key).unwrap_or_default();
        state.expire(self.now);
        let mut effects = Effects::default();
        let result = {
            let mut ctx = Context::new(&mut state, &mut effects, Some(&meta), self.now)
                .with_watermark(self.watermark);
            self.operator.on_event(&key, event, &mut ctx)
        };
        self.states.insert(key.clone(), state);
        result?;
        self.absorb(&key, effects);
        Ok(())
    }

    /// Moves the watermark forward to `watermark` (never back) and fires the event-time
    /// timers it passes.
    pub fn advance_watermark(&mut self, watermark: EventTime) -> Result<(), Error> {
        self.watermark = self.watermark.max(watermark);
        self.fire(TimeDomain::Event, self.watermark)
    }

    /// Moves processing time forward to `now` and fires the processing-time timers due.
    pub fn advance_processing_time(&mut self, now: EventTime) -> Result<(), Error> {
        self.now = self.now.max(now);
        self.fire(TimeDomain::Processing, self.now)
    }

    /// The current watermark.
    pub fn watermark(&self) -> EventTime {
        self.watermark
    }

    /// A key's state, if it has any.
    pub fn state(&self, key: &str) -> Option<&O::State> {
        self.states.get(key)
    }

    /// The registered timers, in firing order.
    pub fn timers(&self) -> impl Iterator<Item = &(Timer, String)> {
        self.timers.iter()
    }

    fn fire(&mut self, domain: TimeDomain, upto: EventTime) -> Result<(), Error> {
        loop {
            let due = self
                .timers
                .iter()
                .find(|(t, _)| t.domain == domain && t.time <= upto)
                .cloned();
            let Some((timer, key)) = due else {
                return Ok(());
            };
            self.timers.remove(&(timer, key.clone()));
            let mut state = self.states.remove(&key).unwrap_or_default();
            state.expire(self.now);
            let mut effects = Effects::default();
            let result = {
                let mut ctx = Context::new(&mut state, &mut effects, None, self.now)
                    .with_watermark(self.watermark)
                    .with_timer(timer);
                self.operator.on_timer(&key, timer, &mut ctx)
            };
            self.states.insert(key.clone(), state);
            result?;
            self.absorb(&key, effects);
        }
    }

    fn absorb(&mut self, key: &str, effects: Effects<O::Output>) {
        for change in effects.timers {
            match change {
                TimerChange::Set(t) => self.timers.insert((t, key.to_owned())),
                TimerChange::Delete(t) => self.timers.remove(&(t, key.to_owned())),
            };
        }
        self.outputs.extend(
            effects
                .outputs
                .into_iter()
                .map(|(placement, out)| (key.to_owned(), placement, out)),
        );
        self.late.extend(effects.late);
    }
}
