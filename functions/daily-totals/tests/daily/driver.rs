//! A small in-memory driver doing what the framework and the timer dispatcher do: apply
//! each record to every operator's key with the batch's watermark, collect outputs and
//! late events with the framework's own item mapping, and fire registered event timers
//! whose time is at or below the watermark, in time order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use shardwise::fold::collect_effects;
use shardwise::{
    Context, Effects, EventTime, Operator, OutputTable, RecordMeta, TimeDomain, Timer, TimerChange,
};

/// Everything written, by (pk, sk).
#[derive(Debug, Default)]
pub struct Written {
    /// Output items' bodies.
    pub outputs: BTreeMap<(String, String), String>,
    /// How many times each output item was written.
    pub writes: BTreeMap<(String, String), u32>,
    /// Late-event items' bodies.
    pub late: BTreeMap<(String, String), String>,
}

pub struct Driver<O: Operator> {
    operators: Vec<O>,
    states: HashMap<String, O::State>,
    timers: BTreeSet<(i64, String)>,
    pub watermark: EventTime,
    pub written: Written,
}

impl<O: Operator> Driver<O>
where
    O::Event: Clone,
{
    pub fn new(operators: Vec<O>) -> Self {
        Self {
            operators,
            states: HashMap::new(),
            timers: BTreeSet::new(),
            watermark: EventTime::MIN,
            written: Written::default(),
        }
    }

    fn absorb(&mut self, key: &str, origin: &str, effects: Effects<O::Output>) {
        let name = self.operators[0].name().to_owned();
        let mut items = Vec::new();
        let timers =
            collect_effects(&name, key, || origin.to_owned(), effects, &mut items).unwrap();
        for change in timers {
            match change {
                TimerChange::Set(t) if t.domain == TimeDomain::Event => {
                    self.timers.insert((t.time.0, key.to_owned()));
                }
                TimerChange::Delete(t) => {
                    self.timers.remove(&(t.time.0, key.to_owned()));
                }
                TimerChange::Set(_) => panic!("daily-totals uses event-time timers only"),
            }
        }
        for item in items {
            let at = (item.pk, item.sk);
            match item.table {
                OutputTable::Outputs => {
                    *self.written.writes.entry(at.clone()).or_default() += 1;
                    self.written.outputs.insert(at, item.body);
                }
                OutputTable::DeadLetters => {}
                OutputTable::LateEvents => {
                    self.written.late.insert(at, item.body);
                }
            }
        }
    }

    /// Applies one record's event to every operator.
    pub fn apply(&mut self, meta: &RecordMeta, event: &O::Event) {
        for i in 0..self.operators.len() {
            let key = self.operators[i].key(event, meta).unwrap();
            let mut effects = Effects::default();
            let state = self.states.entry(key.clone()).or_default();
            let mut ctx = Context::new(state, &mut effects, Some(meta), meta.arrival)
                .with_watermark(self.watermark);
            self.operators[i]
                .on_event(&key, event.clone(), &mut ctx)
                .unwrap();
            let origin = format!("{}#{}", meta.shard, meta.sequence.padded());
            self.absorb(&key, &origin, effects);
        }
    }

    /// Moves the watermark (never back) and fires every due timer.
    pub fn advance(&mut self, watermark: EventTime) {
        self.watermark = self.watermark.max(watermark);
        while let Some((time, key)) = self
            .timers
            .iter()
            .next()
            .filter(|(t, _)| *t <= self.watermark.0)
            .cloned()
        {
            self.timers.remove(&(time, key.clone()));
            let timer = Timer {
                domain: TimeDomain::Event,
                time: EventTime(time),
            };
            let mut effects = Effects::default();
            let state = self.states.entry(key.clone()).or_default();
            let mut ctx = Context::new(state, &mut effects, None, self.watermark)
                .with_watermark(self.watermark)
                .with_timer(timer);
            // Any instance fires any key: the dimension comes from the key.
            self.operators[0].on_timer(&key, timer, &mut ctx).unwrap();
            self.absorb(&key, &format!("timer#event#{time}"), effects);
        }
    }

    /// Number of keys holding state.
    pub fn keys(&self) -> usize {
        self.states.len()
    }

    /// Timers still registered.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }
}
