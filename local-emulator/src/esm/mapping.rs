//! One event source mapping: shard discovery and one reader per shard.
//!
//! Discovery lists the stream's shards every few polls. A shard starts when each of its
//! parents is either gone (trimmed) or finished — read to its end and every record
//! delivered — which is how KCL orders resharding and how Lambda keeps per-key order
//! across SplitShard/MergeShards. Shards that exist when the mapping starts use its
//! StartingPosition; shards created later are read from TRIM_HORIZON.
//!
//! The reader fetches pages (up to 10,000 records, the GetRecords limit) and routes
//! each record to a slot by a stable hash of its partition key; bounded channels make
//! a blocked slot (retrying a failing batch) stop the reader, i.e. the shard blocks.
//! An idle shard is polled every `idle_poll` (~1 s by default, like AWS); a shard that
//! is behind (`MillisBehindLatest > 0` or a non-empty page) is polled again at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::EsmOptions;
use super::client::IteratorStart;
use super::records::{EventContext, Record};
use super::slot::{Slot, SlotMessage};
use super::source::ShardSource;
use crate::Emulator;
use crate::template::{FunctionSpec, KinesisEventSpec, StartingPosition};

/// Counters of one mapping.
#[derive(Debug, Default)]
pub struct Counters {
    /// Invocations (including duplicates and final window invokes).
    pub invocations: AtomicU64,
    /// Invocations that were function errors (or malformed partial responses).
    pub function_errors: AtomicU64,
    /// Partial-batch responses honoured.
    pub partial_failures: AtomicU64,
    /// Batches split in two.
    pub bisections: AtomicU64,
    /// Retries of a failed batch or remainder.
    pub retries: AtomicU64,
    /// Records delivered in successful invocations.
    pub records_succeeded: AtomicU64,
    /// Records discarded after retries/age ran out.
    pub records_discarded: AtomicU64,
    /// Failure records written to the OnFailure destination.
    pub on_failure_sent: AtomicU64,
    /// Failure records that could not be written.
    pub on_failure_errors: AtomicU64,
    /// Batches delivered twice by fault injection.
    pub duplicates_injected: AtomicU64,
}

#[derive(Debug, Default, Clone)]
struct ShardStatus {
    /// Last checkpointed sequence number per slot.
    checkpoints: BTreeMap<usize, String>,
    iterator_age_ms: u64,
    finished: bool,
}

/// A running mapping.
#[derive(Debug)]
pub struct Mapping {
    /// Mapping UUID.
    pub uuid: String,
    /// Function name.
    pub function: String,
    /// Function ARN.
    pub function_arn: String,
    /// The mapping's properties.
    pub spec: KinesisEventSpec,
    /// Facts repeated in every record.
    pub context: EventContext,
    /// Cadence.
    pub options: EsmOptions,
    /// Counters.
    pub counters: Counters,
    shards: Mutex<BTreeMap<String, ShardStatus>>,
    source: Arc<dyn ShardSource>,
    stopped: AtomicBool,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Mapping {
    /// Starts polling (unless `Enabled: false`). Fails at start-up for settings the
    /// emulator cannot honour.
    pub fn start(
        emulator: &Arc<Emulator>,
        source: Arc<dyn ShardSource>,
        function: &FunctionSpec,
        spec: KinesisEventSpec,
        options: EsmOptions,
    ) -> Result<Arc<Self>, String> {
        let mapping = Arc::new(Self {
            uuid: uuid::Uuid::new_v4().to_string(),
            function: function.name.clone(),
            function_arn: function.arn.clone(),
            context: EventContext {
                stream_arn: spec.stream_arn.clone(),
                region: emulator.config.region.clone(),
                role_arn: function.role_arn.clone(),
            },
            spec,
            options,
            counters: Counters::default(),
            shards: Mutex::new(BTreeMap::new()),
            source,
            stopped: AtomicBool::new(false),
            task: Mutex::new(None),
        });
        if mapping.spec.enabled {
            let m = Arc::clone(&mapping);
            let em = Arc::clone(emulator);
            let handle = tokio::spawn(async move { m.discover(em).await });
            *mapping.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        }
        Ok(mapping)
    }

    /// Stops polling (in-flight invocations finish; nothing more is read).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        if let Some(h) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
    }

    /// True once stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    async fn discover(self: Arc<Self>, emulator: Arc<Emulator>) {
        let mut running: HashMap<String, JoinHandle<()>> = HashMap::new();
        let mut initial: Option<HashSet<String>> = None;
        let mut warned = false;
        loop {
            if self.is_stopped() {
                break;
            }
            match self.source.list_shards(&self.spec.stream_name).await {
                Ok(shards) => {
                    let ids: HashSet<String> = shards.iter().map(|s| s.id.clone()).collect();
                    let initial = initial.get_or_insert_with(|| ids.clone());
                    for s in &shards {
                        if running.contains_key(&s.id) {
                            continue;
                        }
                        let parents_done = s.parents.iter().all(|p| {
                            !ids.contains(p) || running.get(p).is_some_and(JoinHandle::is_finished)
                        });
                        if !parents_done {
                            continue;
                        }
                        let start = if initial.contains(&s.id) {
                            match self.spec.starting_position {
                                StartingPosition::TrimHorizon => IteratorStart::TrimHorizon,
                                StartingPosition::Latest => IteratorStart::Latest,
                                StartingPosition::AtTimestamp(t) => IteratorStart::AtTimestamp(t),
                            }
                        } else {
                            IteratorStart::TrimHorizon
                        };
                        self.status(&s.id, |_| {});
                        let m = Arc::clone(&self);
                        let em = Arc::clone(&emulator);
                        let id = s.id.clone();
                        let handle = tokio::spawn(async move { m.read_shard(em, id, start).await });
                        running.insert(s.id.clone(), handle);
                    }
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(stream = %self.spec.stream_name, error = %e, "event source mapping cannot list shards yet; retrying");
                        warned = true;
                    }
                }
            }
            tokio::time::sleep(self.options.idle_poll * 3).await;
        }
        for (_, h) in running {
            h.abort();
        }
    }

    async fn read_shard(
        self: Arc<Self>,
        emulator: Arc<Emulator>,
        shard_id: String,
        start: IteratorStart,
    ) {
        let n = self.spec.parallelization_factor.max(1) as usize;
        let mut senders = Vec::with_capacity(n);
        let mut slots = Vec::with_capacity(n);
        for index in 0..n {
            let (tx, rx) = mpsc::channel::<SlotMessage>(2);
            senders.push(tx);
            let slot = Slot::new(
                Arc::clone(&self),
                Arc::clone(&emulator),
                shard_id.clone(),
                index,
            );
            slots.push(tokio::spawn(slot.run(rx)));
        }
        let mut last_read: Option<String> = None;
        let mut iterator: Option<String> = None;
        loop {
            if self.is_stopped() {
                for h in &slots {
                    h.abort();
                }
                return;
            }
            let it = match iterator.take() {
                Some(it) => it,
                None => {
                    let from = last_read
                        .clone()
                        .map_or_else(|| start.clone(), IteratorStart::After);
                    match self
                        .source
                        .iterator(&self.spec.stream_name, &shard_id, &from)
                        .await
                    {
                        Ok(it) => it,
                        Err(e) => {
                            tracing::debug!(shard = %shard_id, error = %e, "GetShardIterator failed; retrying");
                            tokio::time::sleep(self.options.idle_poll).await;
                            continue;
                        }
                    }
                }
            };
            let page = match self.source.get_records(&it, 10_000).await {
                Ok(p) => p,
                Err(e) => {
                    // Expired iterators are re-acquired after the last record read;
                    // throttling and other errors back off and retry.
                    tracing::debug!(shard = %shard_id, error = %e, "GetRecords failed; retrying");
                    tokio::time::sleep(self.options.idle_poll).await;
                    continue;
                }
            };
            self.status(&shard_id, |s| s.iterator_age_ms = page.millis_behind);
            let got = !page.records.is_empty();
            if let Some(last) = page.records.last() {
                last_read = Some(last.sequence_number.clone());
            }
            let mut per_slot: Vec<Vec<Record>> = vec![Vec::new(); n];
            for r in page.records {
                per_slot[slot_of(&r.partition_key, n)].push(r);
            }
            for (i, chunk) in per_slot.into_iter().enumerate() {
                if !chunk.is_empty() && senders[i].send(SlotMessage::Records(chunk)).await.is_err()
                {
                    return;
                }
            }
            match page.next_iterator {
                None => {
                    // A closed shard read to its end: let the slots drain, then the
                    // shard is finished and its children may start.
                    for tx in &senders {
                        let _ = tx.send(SlotMessage::End).await;
                    }
                    for h in slots {
                        let _ = h.await;
                    }
                    self.status(&shard_id, |s| s.finished = true);
                    return;
                }
                Some(next) => iterator = Some(next),
            }
            if !got && page.millis_behind == 0 {
                for tx in &senders {
                    let _ = tx.send(SlotMessage::Idle).await;
                }
                tokio::time::sleep(self.options.idle_poll).await;
            }
        }
    }

    fn status(&self, shard: &str, f: impl FnOnce(&mut ShardStatus)) {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        f(shards.entry(shard.to_owned()).or_default());
    }

    /// Records that `slot` of `shard` has processed everything up to `sequence`.
    pub fn checkpoint(&self, shard: &str, slot: usize, sequence: &str) {
        self.status(shard, |s| {
            s.checkpoints.insert(slot, sequence.to_owned());
        });
    }

    /// Shards whose reader has started.
    pub fn shards_started(&self) -> usize {
        self.shards.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Counters, per-shard checkpoints and iterator ages.
    pub fn metrics_json(&self) -> Value {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        let shard_json: serde_json::Map<String, Value> = shards
            .iter()
            .map(|(id, s)| {
                let checkpoint = s
                    .checkpoints
                    .values()
                    .min_by(|a, b| super::records::compare_sequence(a, b));
                (
                    id.clone(),
                    json!({
                        "checkpoint": checkpoint,
                        "slot_checkpoints": s.checkpoints,
                        "iterator_age_ms": s.iterator_age_ms,
                        "finished": s.finished,
                    }),
                )
            })
            .collect();
        json!({
            "uuid": self.uuid,
            "function": self.function,
            "stream": self.spec.stream_name,
            "event": self.spec.name,
            "state": if self.spec.enabled { "Enabled" } else { "Disabled" },
            "invocations": load(&c.invocations),
            "function_errors": load(&c.function_errors),
            "partial_failures": load(&c.partial_failures),
            "bisections": load(&c.bisections),
            "retries": load(&c.retries),
            "records_succeeded": load(&c.records_succeeded),
            "records_discarded": load(&c.records_discarded),
            "on_failure_sent": load(&c.on_failure_sent),
            "on_failure_errors": load(&c.on_failure_errors),
            "duplicates_injected": load(&c.duplicates_injected),
            "shards": shard_json,
        })
    }
}

/// The slot of a partition key: FNV-1a, stable across runs, so one key always lands in
/// the same slot and its records stay in order.
pub fn slot_of(partition_key: &str, slots: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in partition_key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % slots.max(1) as u64) as usize
}
