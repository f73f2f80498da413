//! The exactly-once batch commit (ARCHITECTURE.md, "Exactly-once, concretely").
//!
//! 1. Decode each record and extract its key; undecodable or keyless records are
//!    dead-lettered. Group records by key, keeping shard order within a key.
//! 2. Read every key's item once (`BatchGetItem`, ≤ 100 keys a call, unprocessed keys
//!    retried) — consistently in exactly-once mode.
//! 3. Per key, concurrently up to `commit_concurrency`: fold the new records (those
//!    above the key's high-water mark for their shard) and commit ONE conditional write
//!    (`version = :read`, or `attribute_not_exists` for a new key) carrying the state,
//!    the new high-water marks and the outputs (one transaction when there are outputs).
//!    A condition failure means another writer got there first: re-read the key and
//!    re-fold. Throttling is retried with jittered backoff.
//! 4. The batch response names the first record that could not be committed; Lambda
//!    re-delivers from it and the high-water marks skip whatever was already committed.
//!
//! A crash between two key commits is therefore harmless: committed keys are skipped on
//! re-delivery, uncommitted keys are applied then. In `at_least_once` mode the marks are
//! not consulted and writes are unconditional — cheaper, and re-deliveries double-apply.
//!
//! Resharding: with a shard directory, the key's marks for the ancestors of the shard it
//! commits from are pruned, and a record whose shard has a marked descendant is a
//! duplicate ([`crate::shards`] has the rule and why it is safe). The lineage is resolved
//! after the read and before any commit — only when some key holds another shard's
//! mark — so a failed `ListShards` fails the whole batch with nothing committed.
//!
//! Timers: the fold's timer changes are netted against the key's stored timers and
//! become timer-item puts/deletes in the same transaction ([`crate::timer_store`]).
//! Watermarks: the operator's watermark document is read with the keys (same
//! `BatchGetItem`) and, after the keys committed, the shard's watermark is advanced
//! ([`crate::watermark`]): one extra conditional write per batch that moves it.
//!
//! Cost per batch: ⌈keys/100⌉ BatchGetItem calls and one write per key that has new
//! records (a transaction, at 2× WCU, only when the key emitted outputs). Powertools'
//! idempotency pays three writes per record; with keys spread uniformly over 100,000
//! accounts and 1,000-record batches nearly every record has its own key, so we pay
//! ≈ 0.33× its write requests — and less the more records share a key in a batch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use futures::stream::{self, StreamExt};

use crate::batch::{self, BatchRecord, source_arn};
use crate::clock::Clock;
use crate::codec::Codec;
use crate::config::{Consistency, ProcessingConfig};
use crate::deadletter::DeadLetter;
use crate::error::{Error, RetryClass};
use crate::fold::{Disposition, KeyFold};
use crate::ids::{EventTime, SequenceNumber, ShardId};
use crate::metrics::BatchMetrics;
use crate::operator::Operator;
use crate::retry::backoff;
use crate::shards::{ExpiredShards, Lineage, ShardDirectory, resolve_lineage};
use crate::sinks::{KinesisSink, SinkRecord};
use crate::store::{CommitResult, FailingRecord, KeyCommit, OutputTable, StateStore, StoredState};
use crate::timer_store::{TimerWrites, apply_changes, plan_writes};
use crate::watermark::{self, Watermarks};

/// What a processed batch reports.
#[derive(Debug, Clone)]
pub struct BatchReport {
    /// The first record that must be re-delivered, if any.
    pub first_failure: Option<SequenceNumber>,
    /// Counters.
    pub metrics: BatchMetrics,
}

impl BatchReport {
    /// The Lambda response.
    pub fn response(&self) -> KinesisEventResponse {
        batch::response(self.first_failure.as_ref())
    }
}

/// Processes Kinesis batches for one operator against one state store.
#[derive(Debug)]
pub struct Processor<O, S, C> {
    pub(crate) operator: Arc<O>,
    store: Arc<S>,
    codec: C,
    config: ProcessingConfig,
    clock: Arc<dyn Clock>,
    publisher: Option<KinesisSink>,
    shards: Option<Arc<dyn ShardDirectory>>,
    expired: ExpiredShards,
    /// Fires due timers in-process (stores that keep timers with the shard's state).
    timers: Option<crate::Dispatcher<S>>,
}

/// The batch's stream and shards, and the lineage facts resolved after the first read.
struct LineageScope<'a> {
    arn: Option<&'a str>,
    shards: BTreeSet<ShardId>,
    facts: Option<Arc<Lineage>>,
}

/// One key's share of a batch.
struct KeyGroup<E> {
    key: String,
    positions: Vec<usize>,
    /// The events decoded while grouping, parallel to `positions` (taken by the first fold).
    events: Vec<Option<E>>,
}

/// What happened to one key.
#[derive(Default)]
struct KeyOutcome {
    failed_at: Option<usize>,
    metrics: BatchMetrics,
}

impl<O, S, C> Processor<O, S, C>
where
    O: Operator,
    S: StateStore,
    C: Codec<O::Event>,
{
    /// A processor.
    pub fn new(
        operator: Arc<O>,
        store: Arc<S>,
        codec: C,
        config: ProcessingConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            operator,
            store,
            codec,
            config,
            clock,
            publisher: None,
            shards: None,
            expired: ExpiredShards::default(),
            timers: None,
        }
    }

    /// Also publishes every output to a Kinesis stream (`ProcessingConfig::output_stream`),
    /// under a deterministic record id (the pk; pk#sk for keyed outputs). Publishing happens BEFORE the key's commit: a
    /// publish that succeeds before a failed commit is repeated on re-delivery under the
    /// same id (consumers dedupe), whereas publishing after the commit could lose outputs
    /// when the function dies in between — re-delivery skips committed records.
    #[must_use]
    pub fn with_publisher(mut self, sink: KinesisSink) -> Self {
        self.publisher = Some(sink);
        self
    }

    /// Discovers the source stream's open shards after each batch that moves the
    /// watermark, and registers the ones that have not reported yet so they hold the
    /// operator watermark back; and uses the shards' lineage to prune the high-water
    /// marks of retired shards (see [`crate::shards`]). Without it, shards count from
    /// their first committed batch on and marks are never pruned.
    #[must_use]
    pub fn with_shard_directory(mut self, shards: Arc<dyn ShardDirectory>) -> Self {
        self.shards = Some(shards);
        self
    }

    /// The lineage facts for folding the batch's shards over keys whose marks, read at
    /// `read_at`, name `marked` shards; `None` without a directory or when not needed.
    async fn lineage<'m>(
        &self,
        scope: &LineageScope<'_>,
        marked: impl IntoIterator<Item = &'m ShardId>,
        read_at: Instant,
    ) -> Result<Option<Arc<Lineage>>, Error> {
        let (Some(directory), Some(arn)) = (&self.shards, scope.arn) else {
            return Ok(None);
        };
        let facts = resolve_lineage(
            &**directory,
            arn,
            &scope.shards,
            marked,
            read_at,
            &self.expired,
        )
        .await?;
        Ok(facts.map(Arc::new))
    }

    /// Open shards of the batch's stream that the watermark document does not know yet.
    async fn undiscovered_shards(&self, event: &KinesisEvent, known: &Watermarks) -> Vec<String> {
        let (Some(directory), Some(arn)) = (&self.shards, source_arn(event)) else {
            return Vec::new();
        };
        match directory.open_shards(arn).await {
            Ok(open) => open
                .into_iter()
                .filter(|s| !known.shards.contains_key(s))
                .collect(),
            Err(e) => {
                // Not fatal: the shards still count from their first batch on.
                tracing::warn!(error = %e, "shard discovery failed");
                Vec::new()
            }
        }
    }

    async fn publish(&self, commit: &KeyCommit) -> Result<(), Error> {
        let Some(sink) = &self.publisher else {
            return Ok(());
        };
        let operator = self.operator.name();
        let records: Vec<SinkRecord<serde_json::Value>> = commit
            .outputs
            .iter()
            .filter(|out| out.table == OutputTable::Outputs)
            .map(|out| {
                let payload = serde_json::from_str(&out.body)
                    .map_err(|e| Error::Service(format!("output body: {e}")))?;
                // Default placements are unique by pk; keyed ones by pk and sk.
                let id = if out.sk == operator {
                    out.pk.clone()
                } else {
                    format!("{}#{}", out.pk, out.sk)
                };
                Ok(SinkRecord {
                    id,
                    partition_key: out.key.clone(),
                    payload,
                })
            })
            .collect::<Result<_, Error>>()?;
        if records.is_empty() {
            return Ok(());
        }
        sink.send(&records).await
    }

    fn item_key(&self, key: &str) -> String {
        format!("{}#{key}", self.operator.name())
    }

    fn exactly_once(&self) -> bool {
        self.config.consistency == Consistency::ExactlyOnce
    }

    /// Fires this batch's shard's due timers in-process at the start of every batch, with
    /// `config`'s layout and watermark policy — for stores whose timers live with the
    /// shard's state ([`StateStore::fires_timers_in_process`], the shard-log backend).
    /// Timers of idle shards are left to the scheduled dispatcher
    /// ([`crate::shard_log::fire_due_shards`]).
    #[must_use]
    pub fn with_in_process_timers(mut self, config: crate::DispatcherConfig) -> Self {
        if self.store.fires_timers_in_process() {
            let dispatcher =
                crate::Dispatcher::new(Arc::clone(&self.store), Arc::clone(&self.clock), config)
                    .register(Arc::clone(&self.operator));
            self.timers = Some(dispatcher);
        }
        self
    }

    /// Processes one Lambda batch. `Err` means the whole batch must be retried (fatal
    /// errors); partial failures are in the report.
    pub async fn process(&self, event: &KinesisEvent) -> Result<BatchReport, Error> {
        let shard = batch::shard_of(event);
        if let Some(shard) = &shard {
            let parents =
                crate::shards::ShardParents::new(self.shards.as_deref(), source_arn(event));
            self.store.begin_shard(shard, parents).await?;
        }
        let result = self.process_batch(event, shard.as_ref()).await;
        if let (Err(_), Some(shard)) = (&result, &shard) {
            self.store.abandon_shard(shard).await;
        }
        result
    }

    async fn process_batch(
        &self,
        event: &KinesisEvent,
        shard: Option<&ShardId>,
    ) -> Result<BatchReport, Error> {
        let started = Instant::now();
        let records = batch::parse_records(event)?;
        let partitioned = self.store.requires_partition_keys();
        if partitioned && records.iter().any(|r| Some(&r.meta.shard) != shard) {
            return Err(Error::Config(
                "a batch mixes shards; the shard-log state backend needs one shard per batch"
                    .into(),
            ));
        }
        // Timers first, as Flink fires them when the watermark advances: against the
        // watermark the previous batches established, before this batch's records.
        let mut fired = 0;
        if let Some(dispatcher) = &self.timers {
            fired = crate::shard_log::drain_timers(dispatcher).await?.fired;
        }
        let now = self.clock.now();
        let mut metrics = BatchMetrics {
            records_in: records.len() as u64,
            ..Default::default()
        };
        if let Some(oldest) = records.iter().map(|r| r.meta.arrival.0).min() {
            metrics.iterator_age_ms = u64::try_from(now.0 - oldest).unwrap_or(0);
        }

        // 1. Decode and group; records without a usable event or key are poison.
        let mut groups: Vec<KeyGroup<O::Event>> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut poison = Vec::new();
        // Per shard, the largest event time: the watermark candidate.
        let mut max_event: BTreeMap<String, EventTime> = BTreeMap::new();
        for (pos, record) in records.iter().enumerate() {
            let keyed = self
                .codec
                .decode(&record.data)
                .and_then(|event| Ok((self.operator.key(&event, &record.meta)?, event)));
            match keyed {
                Ok((key, _))
                    if partitioned
                        && !crate::shard_log::key_in_partition(
                            &key,
                            &record.meta.partition_key.0,
                        ) =>
                {
                    return Err(Error::Config(format!(
                        "operator {} keys a record by {key:?}, not by its partition key {:?}: the shard-log state backend keeps each key in one shard, so the state key must be the partition key or begin with it and '#'",
                        self.operator.name(),
                        record.meta.partition_key.0
                    )));
                }
                Ok((key, event)) => {
                    if let Some(t) = self.operator.event_time(&event) {
                        let slot = max_event
                            .entry(record.meta.shard.0.clone())
                            .or_insert(EventTime::MIN);
                        *slot = (*slot).max(t);
                    }
                    let slot = *index.entry(key.clone()).or_insert_with(|| {
                        groups.push(KeyGroup {
                            key,
                            positions: Vec::new(),
                            events: Vec::new(),
                        });
                        groups.len() - 1
                    });
                    if let Some(group) = groups.get_mut(slot) {
                        group.positions.push(pos);
                        group.events.push(Some(event));
                    }
                }
                Err(err) => poison.push((pos, err)),
            }
        }

        let mut failures: Vec<usize> = Vec::new();
        for (pos, err) in &poison {
            match self.dead_letter(&records, *pos, err, now).await {
                Ok(()) => metrics.dead_lettered += 1,
                Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                Err(_) => failures.push(*pos),
            }
        }

        // 2. One read for every key, and the operator's watermarks in the same call.
        let mut item_keys: Vec<String> = groups.iter().map(|g| self.item_key(&g.key)).collect();
        let watermark_key = watermark::item_key(self.operator.name());
        item_keys.push(watermark_key.clone());
        let mut stored = self.read_with_retry(&item_keys, &mut metrics).await?;
        let read_at = Instant::now();
        item_keys.pop();
        let watermark_item = stored.remove(&watermark_key);
        let watermarks = Watermarks::from_stored(watermark_item.as_ref());
        let operator_watermark = watermarks.operator_watermark(now, &self.config.watermark);

        // Lineage facts, before any commit: a failure must leave nothing half-applied.
        let mut scope = LineageScope {
            arn: source_arn(event),
            shards: records.iter().map(|r| r.meta.shard.clone()).collect(),
            facts: None,
        };
        let marked = stored.values().flat_map(|s| s.high_water.keys());
        scope.facts = match self.lineage(&scope, marked, read_at).await {
            Ok(facts) => facts,
            Err(e) if self.exactly_once() => {
                return Err(Error::Transient(format!(
                    "shard lineage unavailable, batch not applied: {e}"
                )));
            }
            Err(e) => {
                // At least once, lineage only prunes: skip it this time.
                tracing::warn!(error = %e, "shard lineage unavailable; marks not pruned");
                None
            }
        };

        // 3. One conditional write per key, concurrently.
        let outcomes: Vec<Result<KeyOutcome, Error>> =
            stream::iter(groups.into_iter().zip(item_keys.iter()))
                .map(|(group, item_key)| {
                    let initial = stored.remove(item_key);
                    self.commit_key(
                        group,
                        item_key,
                        initial,
                        &records,
                        (now, operator_watermark),
                        &scope,
                    )
                })
                .buffer_unordered(self.config.commit_concurrency.max(1))
                .collect()
                .await;
        for outcome in outcomes {
            let outcome = outcome?;
            metrics.absorb(&outcome.metrics);
            failures.extend(outcome.failed_at);
        }

        // The shard-log backend makes the batch's commits durable here (one object, one
        // checkpoint); before the watermark moves, which must never run ahead of state.
        if let Some(shard) = shard {
            self.store.finish_shard(shard).await?;
        }
        metrics.timers_fired = fired;

        // 4. Advance the shards' watermarks once everything committed (see `watermark`),
        //    registering discovered shards that have not reported yet (see `shards`).
        if failures.is_empty() && !max_event.is_empty() {
            let policy = &self.config.watermark;
            let candidates: Vec<(String, EventTime)> = max_event
                .iter()
                .map(|(shard, max)| {
                    (
                        shard.clone(),
                        EventTime(max.0.saturating_sub(policy.out_of_orderness_ms)),
                    )
                })
                .filter(|(shard, candidate)| {
                    watermarks.shards.get(shard).is_none_or(|s| {
                        candidate.0 > s.watermark
                            || now.0.saturating_sub(s.advanced_at) >= policy.idle_timeout_ms / 2
                    })
                })
                .collect();
            let discovered: Vec<String> = self
                .undiscovered_shards(event, &watermarks)
                .await
                .into_iter()
                .filter(|s| !max_event.contains_key(s))
                .collect();
            if !candidates.is_empty() || !discovered.is_empty() {
                let result = watermark::advance_and_register(
                    &*self.store,
                    self.operator.name(),
                    &candidates,
                    &discovered,
                    now,
                    policy,
                    Some(watermark_item),
                )
                .await;
                if let Err(e) = result {
                    // Not fatal for the batch: the next batch of the shard advances it.
                    tracing::warn!(error = %e, "watermark not advanced");
                }
            }
        }

        // 5. Report the first failed record.
        let first_failure = failures
            .iter()
            .min()
            .and_then(|&p| records.get(p))
            .map(|r| r.meta.sequence.clone());
        metrics.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if started.elapsed() > self.config.latency_threshold {
            metrics.slow_batches = 1;
            tracing::warn!(
                latency_ms = metrics.latency_ms,
                records = metrics.records_in,
                "slow batch"
            );
        }
        Ok(BatchReport {
            first_failure,
            metrics,
        })
    }

    async fn read_with_retry(
        &self,
        item_keys: &[String],
        metrics: &mut BatchMetrics,
    ) -> Result<HashMap<String, StoredState>, Error> {
        let mut attempt = 0;
        loop {
            match self.store.get_many(item_keys, self.exactly_once()).await {
                Err(e) if e.is_throttle() && attempt < self.config.max_throttle_retries => {
                    metrics.throttles += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn dead_letter(
        &self,
        records: &[BatchRecord],
        pos: usize,
        err: &Error,
        now: crate::ids::EventTime,
    ) -> Result<(), Error> {
        let Some(record) = records.get(pos) else {
            return Ok(());
        };
        let letter = DeadLetter::new(
            self.operator.name(),
            &record.meta.shard,
            &record.meta.sequence,
            &record.meta.partition_key.0,
            &record.data,
            err,
            now,
        );
        tracing::warn!(shard = %record.meta.shard, sequence = %record.meta.sequence, error = %err, "dead-lettering record");
        let mut attempt = 0;
        loop {
            match self.store.dead_letter(&letter).await {
                Err(e) if e.is_throttle() && attempt < self.config.max_throttle_retries => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn commit_key(
        &self,
        group: KeyGroup<O::Event>,
        item_key: &str,
        mut stored: Option<StoredState>,
        records: &[BatchRecord],
        (now, watermark): (EventTime, EventTime),
        scope: &LineageScope<'_>,
    ) -> Result<KeyOutcome, Error> {
        let KeyGroup {
            key,
            positions,
            mut events,
        } = group;
        let mut outcome = KeyOutcome::default();
        let first = positions.first().copied();
        let mut lineage = scope.facts.clone();
        let mut conflicts = 0;
        loop {
            let fold = KeyFold {
                operator_name: self.operator.name(),
                key: &key,
                records,
                positions: &positions,
                dedupe: self.exactly_once(),
                max_state_bytes: self.config.max_state_bytes,
                now,
                watermark,
                lineage: lineage.as_deref(),
            };
            let mut dispositions = HashMap::new();
            let (folded, stop, failing) = loop {
                let folded = fold.run_to_completion(
                    &*self.operator,
                    &self.codec,
                    stored.as_ref(),
                    &mut dispositions,
                    &mut events,
                )?;
                let Some((pos, reason)) = dispositions.iter().find_map(|(p, d)| match d {
                    Disposition::Stop(reason) => Some((*p, reason.clone())),
                    Disposition::Poison(_) => None,
                }) else {
                    break (folded, None, None);
                };
                // A record the operator keeps refusing becomes poison after N attempts,
                // counted on the key's item so the count survives invocations.
                let Some(meta) = records.get(pos).map(|r| &r.meta) else {
                    break (folded, Some(pos), None);
                };
                let attempts = match stored.as_ref().and_then(|s| s.failing.as_ref()) {
                    Some(f) if f.shard == meta.shard && f.sequence == meta.sequence => {
                        f.attempts + 1
                    }
                    _ => 1,
                };
                if attempts >= self.config.max_record_attempts {
                    let reason = format!("failed {attempts} times; last error: {reason}");
                    dispositions.insert(pos, Disposition::Poison(reason));
                    continue;
                }
                let failing = FailingRecord {
                    shard: meta.shard.clone(),
                    sequence: meta.sequence.clone(),
                    attempts,
                };
                break (folded, Some(pos), Some(failing));
            };
            let mut metrics = BatchMetrics {
                applied: folded.applied,
                duplicates_skipped: folded.duplicates,
                ..Default::default()
            };
            // Dead letters first: idempotent, so a crash before the commit only rewrites them.
            for (pos, disposition) in &dispositions {
                if let Disposition::Poison(reason) = disposition {
                    let err = Error::InvalidRecord(reason.clone());
                    if let Err(e) = self.dead_letter(records, *pos, &err, now).await {
                        if e.class() == RetryClass::Fatal {
                            return Err(e);
                        }
                        outcome.failed_at = first;
                        return Ok(outcome);
                    }
                    metrics.dead_lettered += 1;
                }
            }
            let previously_failing = stored.as_ref().and_then(|s| s.failing.clone());
            if !folded.changed && failing == previously_failing {
                outcome.metrics.absorb(&metrics);
                outcome.failed_at = stop;
                return Ok(outcome);
            }
            let before = stored
                .as_ref()
                .map(|s| s.timers.clone())
                .unwrap_or_default();
            let layout = &self.config.timer_layout;
            let after = apply_changes(layout, &before, &folded.timers, now);
            // A store that keeps timers with the state (the shard log) derives its index
            // from the items: the timer items' writes would be formatted for nothing.
            let timers = if self.store.fires_timers_in_process() {
                TimerWrites::default()
            } else {
                plan_writes(layout, self.operator.name(), &key, &before, &after)
            };
            let ttl = if after.is_empty() {
                folded.lifetime.ttl_seconds()
            } else {
                None
            };
            let commit = KeyCommit {
                item_key: item_key.to_owned(),
                expected_version: stored.as_ref().map(|s| s.version),
                conditional: self.exactly_once(),
                state: StoredState {
                    version: stored.as_ref().map_or(1, |s| s.version + 1),
                    high_water: folded.high_water,
                    body: folded.body,
                    failing,
                    timers: after,
                    ttl,
                },
                outputs: last_per_item(folded.outputs),
                timers,
            };
            if let Err(e) = self.publish(&commit).await {
                tracing::warn!(key = %key, error = %e, "publishing outputs failed; batch will be re-delivered from the key");
                outcome.failed_at = first;
                return Ok(outcome);
            }
            match self.write_with_retry(&commit, &mut outcome.metrics).await {
                Ok(CommitResult::Committed) => {
                    metrics.key_commits = 1;
                    outcome.metrics.absorb(&metrics);
                    outcome.failed_at = stop;
                    return Ok(outcome);
                }
                Ok(CommitResult::Conflict) if conflicts < self.config.max_conflict_retries => {
                    conflicts += 1;
                    outcome.metrics.conflicts += 1;
                    let fresh = self
                        .read_with_retry(&[item_key.to_owned()], &mut outcome.metrics)
                        .await;
                    match fresh {
                        Ok(mut map) => stored = map.remove(item_key),
                        Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                        Err(_) => {
                            outcome.failed_at = first;
                            return Ok(outcome);
                        }
                    }
                    // The rival may have been a child shard's commit: its mark needs facts
                    // the batch's may not cover (a cache hit when they do).
                    let marked = stored.iter().flat_map(|s| s.high_water.keys());
                    match self.lineage(scope, marked, Instant::now()).await {
                        Ok(facts) => lineage = facts,
                        Err(e) if self.exactly_once() => {
                            tracing::warn!(key = %key, error = %e, "shard lineage unavailable; key will be re-delivered");
                            outcome.failed_at = first;
                            return Ok(outcome);
                        }
                        Err(_) => lineage = None,
                    }
                }
                Ok(CommitResult::Conflict) => {
                    outcome.failed_at = first;
                    return Ok(outcome);
                }
                Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "key commit failed; batch will be re-delivered from it");
                    outcome.failed_at = first;
                    return Ok(outcome);
                }
            }
        }
    }

    async fn write_with_retry(
        &self,
        commit: &KeyCommit,
        metrics: &mut BatchMetrics,
    ) -> Result<CommitResult, Error> {
        let mut attempt = 0;
        loop {
            match self.store.commit(commit).await {
                Err(e) if e.is_throttle() && attempt < self.config.max_throttle_retries => {
                    metrics.throttles += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

impl<O: Operator, S, C> Processor<O, S, C> {
    /// The operator's name.
    pub fn operator_name(&self) -> &str {
        self.operator.name()
    }
}

/// Keeps the last of several outputs to the same item (a keyed output updated by later
/// records of the batch): a transaction may not touch one item twice, and only the final
/// value matters. Order is otherwise kept.
pub(crate) fn last_per_item(
    outputs: Vec<crate::store::OutputItem>,
) -> Vec<crate::store::OutputItem> {
    let mut last: HashMap<(OutputTable, &str, &str), usize> = HashMap::new();
    for (i, out) in outputs.iter().enumerate() {
        last.insert((out.table, &out.pk, &out.sk), i);
    }
    if last.len() == outputs.len() {
        return outputs;
    }
    let keep: std::collections::HashSet<usize> = last.into_values().collect();
    outputs
        .into_iter()
        .enumerate()
        .filter_map(|(i, out)| keep.contains(&i).then_some(out))
        .collect()
}
