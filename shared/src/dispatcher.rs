//! The timer dispatcher: fires due timers exactly once, within about a second of due.
//!
//! Run by a scheduled function (`rate(1 minute)`), [`Dispatcher::run_until`] polls about
//! every second until shortly before the invocation's deadline. Each poll, per
//! registered operator:
//! 1. reads the operator's watermark document and dispatcher cursor (one `BatchGetItem`)
//!    and persists idle-shard advancement ([`crate::watermark`]);
//! 2. processing time: `Query`s every spread partition of the buckets from the cursor to
//!    the current bucket for items due (`sk < now + 1`); event time: `Query`s every event
//!    spread partition for items at or below the operator watermark;
//! 3. fires the due items with bounded concurrency. A firing reads the key's state
//!    (consistently), skips the timer unless the state still references it, runs
//!    `on_timer`, and commits the new state, its outputs, its timer changes AND the
//!    conditional delete of the fired item in ONE transaction conditioned on the state
//!    version. A retried, overlapping or crashed-and-restarted dispatcher therefore either
//!    finds the timer gone from the state, or loses the version/existence condition and
//!    re-reads: a timer's effects commit once;
//! 4. advances the processing-time cursor ("swept up to", on the pseudo state item
//!    `<operator>#__dispatcher`) over buckets that were completely drained and are more
//!    than `lookback_buckets` old. A dispatcher that fell behind resumes from the cursor
//!    and catches up oldest bucket first (at most `max_buckets_per_poll` a poll), so it
//!    loses nothing. The lookback covers writers whose clock lags the dispatcher's (a
//!    timer registered "now" goes to the writer's current bucket, see `timer_store`).
//!    Without a cursor (first run) it starts `initial_lookback` back.
//!
//! A poll whose partitions returned full pages (a backlog) is followed immediately by the
//! next; otherwise the dispatcher sleeps until the next second.

use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::error::{Error, RetryClass};
use crate::ids::EventTime;
use crate::operator::Operator;
use crate::retry::backoff;
use crate::store::{CommitResult, KeyCommit, StateStore, StoredState};
use crate::timer_callback::{OperatorCallback, TimerCallback};
use crate::timer_store::{TimerEntry, apply_changes, plan_writes, sk_before};
use crate::watermark::{self, Watermarks};

pub use crate::dispatcher_config::{DispatchReport, DispatcherConfig};

/// The reserved state key of an operator's dispatcher cursor.
pub const CURSOR_KEY: &str = "__dispatcher";

/// The persisted cursor: processing-time buckets before this are drained.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    processing_swept_before: Option<i64>,
}

/// One partition's query result, with its processing-time bucket (`None`: event time).
type Page = (Option<i64>, Result<Vec<TimerEntry>, Error>);

/// How one firing ended.
enum Outcome {
    Fired(i64),
    Skipped,
    Deferred,
    DeadLettered,
}

/// Fires the due timers of its registered operators.
pub struct Dispatcher<S> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    config: DispatcherConfig,
    operators: Vec<Arc<dyn TimerCallback>>,
}

impl<S> std::fmt::Debug for Dispatcher<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.operators.iter().map(|o| o.name()).collect();
        f.debug_struct("Dispatcher")
            .field("operators", &names)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: StateStore> Dispatcher<S> {
    /// A dispatcher with no operators yet.
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, config: DispatcherConfig) -> Self {
        Self {
            store,
            clock,
            config,
            operators: Vec::new(),
        }
    }

    /// Registers an operator (by its name) to fire timers for.
    #[must_use]
    pub fn register<O: Operator>(mut self, operator: O) -> Self {
        let callback = OperatorCallback::new(operator, self.config.max_state_bytes);
        self.operators.push(Arc::new(callback));
        self
    }

    /// The registered operators' names.
    pub fn operator_names(&self) -> Vec<&str> {
        self.operators.iter().map(|o| o.name()).collect()
    }

    /// Its configuration.
    pub fn config(&self) -> &DispatcherConfig {
        &self.config
    }

    /// The operator's watermark now, as a poll would use it (idle shards' effective
    /// watermarks; the poll persists them). The shard-log backend asks which shards have
    /// event-time timers due before restoring any.
    pub async fn operator_watermark(&self, name: &str) -> Result<EventTime, Error> {
        let marks = watermark::read(&*self.store, name).await?;
        Ok(marks.operator_watermark(self.clock.now(), &self.config.watermark))
    }

    /// Polls until `deadline − safety_margin`: immediately again after a poll that left a
    /// backlog, else after `poll_interval`.
    pub async fn run_until(&self, deadline: Instant) -> Result<DispatchReport, Error> {
        let stop = deadline
            .checked_sub(self.config.safety_margin)
            .unwrap_or(deadline);
        let mut total = DispatchReport::default();
        while Instant::now() < stop {
            let started = Instant::now();
            let report = self.poll_once().await?;
            let backlog = report.backlog;
            total.absorb(report);
            if !backlog {
                let next = (started + self.config.poll_interval).min(stop);
                tokio::time::sleep_until(next.into()).await;
            }
        }
        Ok(total)
    }

    /// One poll over every registered operator.
    pub async fn poll_once(&self) -> Result<DispatchReport, Error> {
        let mut report = DispatchReport {
            polls: 1,
            ..DispatchReport::default()
        };
        for operator in &self.operators {
            report.absorb(self.poll_operator(operator).await?);
        }
        report.polls = 1;
        Ok(report)
    }

    async fn poll_operator(&self, op: &Arc<dyn TimerCallback>) -> Result<DispatchReport, Error> {
        let name = op.name();
        let now = self.clock.now();
        let (index, count) = (self.config.slice.0, self.config.slice.1.max(1));
        let cursor_key = if count > 1 {
            format!("{name}#{CURSOR_KEY}#{index}of{count}")
        } else {
            format!("{name}#{CURSOR_KEY}")
        };
        let wm_key = watermark::item_key(name);
        let spreads: Vec<u32> = (0..self.config.layout.spread)
            .filter(|s| s % count == index)
            .collect();
        let mut docs = self
            .store
            .get_many(&[wm_key.clone(), cursor_key.clone()], true)
            .await?;
        let wm_item = docs.remove(&wm_key);
        let mut marks = Watermarks::from_stored(wm_item.as_ref());
        let policy = self.config.watermark;
        if marks.advance_idle(now, &policy) {
            let persisted = watermark::update_doc(
                &*self.store,
                &wm_key,
                Some(wm_item),
                |w: &mut Watermarks| w.advance_idle(now, &policy),
            )
            .await;
            // Not persisting is harmless: the effective watermark is the same either way.
            match persisted {
                Ok(fresh) => marks = fresh,
                Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                Err(e) => {
                    tracing::warn!(operator = name, error = %e, "idle watermark advance not persisted")
                }
            }
        }
        let wm = marks.operator_watermark(now, &policy);
        let cursor_item = docs.remove(&cursor_key);
        let cursor: Cursor = cursor_item
            .as_ref()
            .and_then(|s| serde_json::from_str(&s.body).ok())
            .unwrap_or_default();

        // Which partitions to read: processing buckets from the cursor, event spreads.
        let layout = self.config.layout;
        let current = layout.bucket_of(now.0);
        let lookback_ms =
            i64::try_from(self.config.initial_lookback.as_millis()).unwrap_or(i64::MAX);
        let first = cursor
            .processing_swept_before
            .unwrap_or_else(|| layout.bucket_of(now.0.saturating_sub(lookback_ms)));
        // The oldest undrained buckets (catching up), and always the recent ones, so
        // timers due now fire on time even while a backlog is worked off.
        let recent = current - self.config.lookback_buckets.max(0) * layout.bucket_ms;
        let mut buckets: Vec<i64> = (0..self.config.max_buckets_per_poll)
            .map(|i| first + i64::try_from(i).unwrap_or(0) * layout.bucket_ms)
            .take_while(|b| *b <= current)
            .collect();
        buckets.extend(
            (0..=self.config.lookback_buckets.max(0))
                .map(|i| recent + i * layout.bucket_ms)
                .filter(|b| *b >= first),
        );
        buckets.sort_unstable();
        buckets.dedup();
        let mut partitions: Vec<(Option<i64>, String, EventTime)> = Vec::new();
        for &b in &buckets {
            for &s in &spreads {
                partitions.push((Some(b), layout.processing_partition(name, b, s), now));
            }
        }
        if wm > EventTime::MIN {
            for &s in &spreads {
                partitions.push((None, layout.event_partition(name, s), wm));
            }
        }

        // Read every due page, then fire everything with bounded concurrency.
        let page = self.config.page_size;
        let pages: Vec<Page> = stream::iter(partitions)
            .map(|(bucket, pk, horizon)| async move {
                let result = self
                    .store
                    .query_timers(&pk, &sk_before(horizon), page)
                    .await;
                (bucket, result)
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let mut report = DispatchReport::default();
        let mut undrained: Vec<i64> = Vec::new();
        let mut due = Vec::new();
        for (bucket, result) in pages {
            report.queries += 1;
            match result {
                Ok(items) => {
                    if items.len() >= page {
                        report.backlog = true;
                        undrained.extend(bucket);
                    }
                    due.extend(items.into_iter().map(|item| (bucket, item)));
                }
                Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                Err(e) => {
                    tracing::warn!(operator = name, error = %e, "timer query failed; retrying next poll");
                    undrained.extend(bucket);
                }
            }
        }
        let outcomes: Vec<(Option<i64>, Result<Outcome, Error>)> = stream::iter(due)
            .map(|(bucket, item)| async move { (bucket, self.fire(op, &item, wm).await) })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        for (bucket, outcome) in outcomes {
            match outcome? {
                Outcome::Fired(delay) => {
                    report.fired += 1;
                    if bucket.is_some() {
                        report.delays_ms.push(delay);
                    }
                }
                Outcome::Skipped => report.skipped += 1,
                Outcome::DeadLettered => report.dead_lettered += 1,
                Outcome::Deferred => {
                    report.deferred += 1;
                    undrained.extend(bucket);
                }
            }
        }

        // Advance the cursor over the leading drained buckets that are old enough.
        let mut swept = first;
        while swept < recent && buckets.contains(&swept) && !undrained.contains(&swept) {
            swept += layout.bucket_ms;
        }
        if swept > first || cursor.processing_swept_before.is_none() {
            if swept < current {
                // Still behind after this poll: come back at once.
                report.backlog |= swept > first;
            }
            let saved = watermark::update_doc(
                &*self.store,
                &cursor_key,
                Some(cursor_item),
                |c: &mut Cursor| {
                    let before = c.processing_swept_before;
                    c.processing_swept_before = Some(before.map_or(swept, |b| b.max(swept)));
                    c.processing_swept_before != before
                },
            )
            .await;
            // Not saving only means the next poll sweeps these buckets again (cheap).
            match saved {
                Ok(_) => {}
                Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                Err(e) => {
                    tracing::warn!(operator = name, error = %e, "dispatcher cursor not saved")
                }
            }
        }
        Ok(report)
    }

    /// Fires one timer item exactly once (see the module docs).
    async fn fire(
        &self,
        op: &Arc<dyn TimerCallback>,
        item: &TimerEntry,
        watermark: EventTime,
    ) -> Result<Outcome, Error> {
        let name = op.name();
        let item_key = format!("{name}#{}", item.key);
        let layout = self.config.layout;
        let timer = item.timer;
        for attempt in 0..self.config.max_attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt - 1)).await;
            }
            let stored = match self
                .store
                .get_many(std::slice::from_ref(&item_key), true)
                .await
            {
                Ok(mut found) => found.remove(&item_key),
                Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                Err(_) => continue,
            };
            // The state is the truth: a timer it does not reference (fired, deleted, or an
            // item left in another bucket) is an orphan item.
            let bucket = stored.as_ref().and_then(|s| s.timers.get(&timer).copied());
            let referenced =
                bucket.is_some_and(|b| layout.entry(name, &item.key, timer, b).pk == item.pk);
            let Some(stored) = stored.filter(|_| referenced) else {
                self.store
                    .delete_timer_items(std::slice::from_ref(item))
                    .await
                    .or_else(|e| {
                        if e.class() == RetryClass::Fatal {
                            Err(e)
                        } else {
                            Ok(())
                        }
                    })?;
                return Ok(Outcome::Skipped);
            };
            let now = self.clock.now();
            let mut base = stored.timers.clone();
            base.remove(&timer);
            let (body, outputs, after, ttl_lifetime, dropped) = match op.fire(
                &item.key,
                timer,
                Some(&stored.body),
                now,
                watermark,
            ) {
                Ok(f) => {
                    let after = apply_changes(&layout, &base, &f.changes, now);
                    (f.body, f.outputs, after, f.lifetime, false)
                }
                Err(e) => match e.class() {
                    RetryClass::Retryable => return Ok(Outcome::Deferred),
                    RetryClass::Fatal => return Err(e),
                    RetryClass::Poison => {
                        tracing::warn!(operator = name, key = %item.key, error = %e, "timer callback failed; dead-lettering the timer");
                        let letter = crate::deadletter::timer_dead_letter(
                            name,
                            &item.key,
                            timer,
                            &e,
                            now,
                            &stored.body,
                        );
                        (
                            stored.body.clone(),
                            vec![letter],
                            base.clone(),
                            crate::state::Lifetime::Forever,
                            true,
                        )
                    }
                },
            };
            let mut writes = plan_writes(&layout, name, &item.key, &base, &after);
            // Re-registered into the very same item: keep it (the version condition still
            // makes this firing's effects commit once).
            let same_item = |e: &TimerEntry| e.pk == item.pk && e.sk == item.sk;
            if writes.puts.iter().any(same_item) {
                writes.puts.retain(|e| !same_item(e));
            } else {
                writes.fired = Some(item.clone());
            }
            let ttl = if after.is_empty() {
                ttl_lifetime.ttl_seconds()
            } else {
                None
            };
            let commit = KeyCommit {
                item_key: item_key.clone(),
                expected_version: Some(stored.version),
                conditional: true,
                state: StoredState {
                    version: stored.version + 1,
                    high_water: stored.high_water.clone(),
                    body,
                    failing: stored.failing.clone(),
                    timers: after,
                    ttl,
                },
                outputs: crate::commit::last_per_item(outputs),
                timers: writes,
            };
            match self.store.commit(&commit).await {
                Ok(CommitResult::Committed) if dropped => return Ok(Outcome::DeadLettered),
                Ok(CommitResult::Committed) => {
                    return Ok(Outcome::Fired(self.clock.now().0 - timer.time.0));
                }
                Ok(CommitResult::Conflict) => {}
                Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                Err(e) => {
                    tracing::debug!(operator = name, key = %item.key, error = %e, "timer commit failed; retrying");
                }
            }
        }
        Ok(Outcome::Deferred)
    }
}
