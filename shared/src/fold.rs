//! Folding one key's records of a batch into its state: the pure part of the commit.
//!
//! The fold starts from the stored state, skips records at or below the key's
//! high-water mark for their shard (exactly-once mode) — or, given the batch's
//! [`Lineage`], records of a shard whose descendant already has a mark — and prunes the
//! marks of the ancestors of a shard it commits a change from (the rule and why it is
//! safe: [`crate::shards`]). Lineage is fetched before the fold, which stays synchronous.
//! It then applies the remaining records in shard order
//! and collects outputs under deterministic ids. Operator errors do not leave a
//! half-mutated state behind: the fold is restarted from the stored state with the
//! failing record marked — poison records are skipped (and dead-lettered by the
//! caller), and a retryable failure stops the key at that record. States that outgrow
//! the size limit are found by a checked re-fold that dead-letters the record whose
//! effect crosses it. Restarts are rare, so the common path never clones state.

use std::collections::{BTreeMap, HashMap};

use crate::batch::BatchRecord;
use crate::codec::Codec;
use crate::error::{Error, RetryClass};
use crate::ids::{EventTime, SequenceNumber, ShardId};
use crate::operator::{Context, Effects, Operator, Placement, TimerChange};
use crate::shards::Lineage;
use crate::state::KeyedState;
use crate::store::{OutputItem, OutputTable, StoredState};

/// What the fold must do with a record it already saw fail.
#[derive(Debug, Clone)]
pub enum Disposition {
    /// Skip it and count it as processed (it goes to the dead-letter table).
    Poison(String),
    /// Stop the key here: this record and the key's later records are re-delivered.
    /// Carries the error text.
    Stop(String),
}

/// The result of a successful fold.
#[derive(Debug)]
pub struct Folded {
    /// The new state, encoded.
    pub body: String,
    /// The new high-water marks.
    pub high_water: BTreeMap<ShardId, SequenceNumber>,
    /// Outputs and late events, with deterministic keys.
    pub outputs: Vec<OutputItem>,
    /// Timer registrations and deletions, in call order.
    pub timers: Vec<TimerChange>,
    /// Records applied.
    pub applied: u64,
    /// Records skipped as duplicates.
    pub duplicates: u64,
    /// Whether anything changed (applied or poisoned records): no change, no write.
    pub changed: bool,
    /// When the whole new state may expire (the item's TTL).
    pub lifetime: crate::state::Lifetime,
}

/// Inputs of one key's fold.
#[derive(Debug)]
pub struct KeyFold<'a> {
    /// The operator's name (output id prefix).
    pub operator_name: &'a str,
    /// The state key.
    pub key: &'a str,
    /// The batch's records.
    pub records: &'a [BatchRecord],
    /// Positions of this key's records in `records`, in order.
    pub positions: &'a [usize],
    /// Whether to skip records at or below the high-water marks.
    pub dedupe: bool,
    /// Largest encoded state.
    pub max_state_bytes: usize,
    /// Processing time.
    pub now: EventTime,
    /// The operator's watermark at the start of the batch.
    pub watermark: EventTime,
    /// The batch shards' ancestors and descendants, when the key's marks need them
    /// (`None`: no shard directory, or only the batch's own shard is marked).
    pub lineage: Option<&'a Lineage>,
}

impl KeyFold<'_> {
    /// Folds the key's records over `stored`; on an operator error returns the failing
    /// record's position and the error (the caller records a disposition and retries).
    pub fn run<O: Operator, C: Codec<O::Event>>(
        &self,
        operator: &O,
        codec: &C,
        stored: Option<&StoredState>,
        dispositions: &HashMap<usize, Disposition>,
        events: &mut [Option<O::Event>],
        checked: bool,
    ) -> Result<Folded, (usize, Error)> {
        let mut state: O::State = match stored {
            Some(s) => serde_json::from_str(&s.body).map_err(|e| {
                let err = Error::CorruptState {
                    key: self.key.to_owned(),
                    reason: e.to_string(),
                };
                (self.positions.first().copied().unwrap_or(0), err)
            })?,
            None => O::State::default(),
        };
        state.expire(self.now);
        let mut high_water = stored.map(|s| s.high_water.clone()).unwrap_or_default();
        let (mut outputs, mut timers) = (Vec::new(), Vec::new());
        let (mut applied, mut duplicates, mut changed) = (0, 0, false);
        for (i, &pos) in self.positions.iter().enumerate() {
            let Some(record) = self.records.get(pos) else {
                continue;
            };
            let meta = &record.meta;
            // Rule 1 of `shards`: at or below the shard's mark, or a descendant is marked.
            let seen = high_water
                .get(&meta.shard)
                .is_some_and(|hwm| &meta.sequence <= hwm)
                || self
                    .lineage
                    .is_some_and(|l| l.superseded(&meta.shard, &high_water));
            if self.dedupe && seen {
                duplicates += 1;
                continue;
            }
            match dispositions.get(&pos) {
                Some(Disposition::Stop(_)) => break,
                Some(Disposition::Poison(_)) => {}
                None => {
                    // Events decoded while grouping are used once; a re-fold decodes again.
                    let event = match events.get_mut(i).and_then(Option::take) {
                        Some(event) => event,
                        None => codec.decode(&record.data).map_err(|e| (pos, e))?,
                    };
                    let mut effects = Effects::default();
                    let mut ctx = Context::new(&mut state, &mut effects, Some(meta), self.now)
                        .with_watermark(self.watermark);
                    operator
                        .on_event(self.key, event, &mut ctx)
                        .map_err(|e| (pos, e))?;
                    let origin = || format!("{}#{}", meta.shard, meta.sequence.padded());
                    collect_effects(self.operator_name, self.key, origin, effects, &mut outputs)
                        .map_err(|e| (pos, e))?
                        .into_iter()
                        .for_each(|change| timers.push(change));
                    applied += 1;
                    if checked {
                        self.check_size(&state).map_err(|e| (pos, e))?;
                    }
                }
            }
            changed = true;
            if !seen {
                // Rule 2: this shard's mark subsumes its ancestors'.
                if let Some(lineage) = self.lineage {
                    lineage.prune(&meta.shard, &mut high_water);
                }
                high_water.insert(meta.shard.clone(), meta.sequence.clone());
            }
        }
        let body = serde_json::to_string(&state).map_err(|e| {
            (
                self.positions.first().copied().unwrap_or(0),
                Error::Service(e.to_string()),
            )
        })?;
        if body.len() > self.max_state_bytes && !checked {
            // Find the record whose effect crosses the limit with a checked re-fold.
            return self.run(operator, codec, stored, dispositions, events, true);
        }
        Ok(Folded {
            body,
            high_water,
            outputs,
            timers,
            applied,
            duplicates,
            changed,
            lifetime: state.lifetime(),
        })
    }

    fn check_size<S: KeyedState>(&self, state: &S) -> Result<(), Error> {
        let bytes = serde_json::to_vec(state)
            .map_err(|e| Error::Service(e.to_string()))?
            .len();
        if bytes > self.max_state_bytes {
            return Err(Error::StateTooLarge {
                key: self.key.to_owned(),
                bytes,
                limit: self.max_state_bytes,
            });
        }
        Ok(())
    }

    /// Folds until it succeeds, turning operator errors into dispositions. Returns the
    /// fold and the dispositions (poison records to dead-letter, the stop position).
    pub fn run_to_completion<O: Operator, C: Codec<O::Event>>(
        &self,
        operator: &O,
        codec: &C,
        stored: Option<&StoredState>,
        dispositions: &mut HashMap<usize, Disposition>,
        events: &mut [Option<O::Event>],
    ) -> Result<Folded, Error> {
        loop {
            match self.run(operator, codec, stored, dispositions, events, false) {
                Ok(folded) => return Ok(folded),
                Err((pos, err)) => match err.class() {
                    RetryClass::Poison => {
                        dispositions.insert(pos, Disposition::Poison(err.to_string()));
                    }
                    RetryClass::Retryable => {
                        dispositions.insert(pos, Disposition::Stop(err.to_string()));
                    }
                    RetryClass::Fatal => return Err(err),
                },
            }
        }
    }
}

/// The deterministic id of the `n`-th output of a record.
pub fn output_id(operator: &str, shard: &ShardId, sequence: &SequenceNumber, n: usize) -> String {
    format!("{operator}#{shard}#{}#{n}", sequence.padded())
}

/// Turns a callback's effects into output items (appended to `outputs`) and returns its
/// timer changes. `origin` names what triggered the callback (`<shard>#<padded sequence>`
/// for a record, `timer#<domain>#<time>` for a timer): default output ids and late-event
/// sort keys derive from it, so a replay produces the same items. It is formatted only when
/// there are outputs or late events: most events have neither, and formatting a padded
/// sequence number per event was ~1.5% of R1's CPU (perf).
pub fn collect_effects<O: serde::Serialize>(
    operator: &str,
    key: &str,
    origin: impl FnOnce() -> String,
    effects: Effects<O>,
    outputs: &mut Vec<OutputItem>,
) -> Result<Vec<TimerChange>, Error> {
    if effects.outputs.is_empty() && effects.late.is_empty() {
        return Ok(effects.timers);
    }
    let origin = origin();
    for (n, (placement, out)) in effects.outputs.into_iter().enumerate() {
        let body = serde_json::to_string(&out)
            .map_err(|e| Error::InvalidRecord(format!("output: {e}")))?;
        let (pk, sk) = match placement {
            Placement::Default => (format!("{operator}#{origin}#{n}"), operator.to_owned()),
            Placement::Keyed { pk, sk } => (pk, sk),
        };
        outputs.push(OutputItem {
            table: OutputTable::Outputs,
            pk,
            sk,
            key: key.to_owned(),
            body,
        });
    }
    for (n, late) in effects.late.into_iter().enumerate() {
        outputs.push(OutputItem {
            table: OutputTable::LateEvents,
            pk: format!("{operator}#{}", late.partition),
            sk: format!("{origin}#{n}"),
            key: key.to_owned(),
            body: late.body,
        });
    }
    Ok(effects.timers)
}
