//! Unit tests of high-water-mark pruning across resharding ([`crate::shards`], rules 1
//! and 2) over the in-memory store: splits, merges, grandparents, late parent batches,
//! stale and failing directories, and a zombie parent batch racing the child's commit.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use aws_lambda_events::event::kinesis::KinesisEvent;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::clock::ManualClock;
use crate::codec::JsonCodec;
use crate::commit::Processor;
use crate::config::ProcessingConfig;
use crate::error::{Error, RetryClass};
use crate::ids::{EventTime, ShardId};
use crate::memory_store::MemoryStateStore;
use crate::operator::{Context, Operator, RecordMeta};
use crate::shards::{ListedShard, ShardDirectory, ShardListing, StaticShards};
use crate::state::{KeyedState, ValueState};
use crate::store::{CommitResult, KeyCommit, StateStore, StoredState};

const GRANDPARENT: &str = "shardId-000000000000";
const PARENT: &str = "shardId-000000000001";
const SIBLING: &str = "shardId-000000000002";
const CHILD: &str = "shardId-000000000003";
const OTHER_CHILD: &str = "shardId-000000000004";
const ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/s";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ev {
    k: String,
    n: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Totals {
    sum: ValueState<i64>,
    count: ValueState<u64>,
}

impl KeyedState for Totals {}

/// Sums `n` and counts records per key `k`.
#[derive(Debug, Default)]
struct Counter;

impl Operator for Counter {
    type Event = Ev;
    type State = Totals;
    type Output = i64;

    fn name(&self) -> &str {
        "count"
    }

    fn key(&self, event: &Ev, _: &RecordMeta) -> Result<String, Error> {
        Ok(event.k.clone())
    }

    fn on_event(&self, _: &str, ev: Ev, ctx: &mut Context<'_, Totals, i64>) -> Result<(), Error> {
        *ctx.state().sum.get_mut_or_default() += ev.n;
        *ctx.state().count.get_mut_or_default() += 1;
        Ok(())
    }
}

/// A batch of `shard`: (sequence number, key, n).
fn batch(shard: &str, records: &[(u64, &str, i64)]) -> KinesisEvent {
    use base64::Engine as _;
    let records: Vec<_> = records
        .iter()
        .map(|(seq, k, n)| {
            let data = serde_json::json!({"k": k, "n": n}).to_string();
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": k, "sequenceNumber": seq.to_string(),
                    "data": base64::engine::general_purpose::STANDARD.encode(data), "approximateArrivalTimestamp": 1.5e9},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("{shard}:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1", "eventSourceARN": ARN
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// What folding every batch from scratch, once each, gives per key: (sum, count).
fn from_scratch(batches: &[&[(u64, &str, i64)]], key: &str) -> (i64, u64) {
    let records = batches.iter().flat_map(|b| b.iter()).filter(|r| r.1 == key);
    records.fold((0, 0), |(sum, count), r| (sum + r.2, count + 1))
}

fn processor<S: StateStore>(
    store: Arc<S>,
    directory: Option<Arc<dyn ShardDirectory>>,
) -> Processor<Counter, S, JsonCodec<Ev>> {
    let p = Processor::new(
        Arc::new(Counter),
        store,
        JsonCodec::default(),
        ProcessingConfig::new("state", "dlq"),
        Arc::new(ManualClock::new(EventTime(0))),
    );
    match directory {
        Some(d) => p.with_shard_directory(d),
        None => p,
    }
}

fn totals(store: &MemoryStateStore, key: &str) -> (i64, u64) {
    let item = &store.snapshot().states[&format!("count#{key}")];
    let totals: Totals = serde_json::from_str(&item.body).unwrap();
    (
        totals.sum.get().copied().unwrap_or(0),
        totals.count.get().copied().unwrap_or(0),
    )
}

fn marks(store: &MemoryStateStore, key: &str) -> BTreeSet<String> {
    let snap = store.snapshot();
    let item = &snap.states[&format!("count#{key}")];
    item.high_water.keys().map(|s| s.0.clone()).collect()
}

fn set(shards: &[&str]) -> BTreeSet<String> {
    shards.iter().map(|s| (*s).to_owned()).collect()
}

fn ids(shards: &BTreeSet<ShardId>) -> BTreeSet<String> {
    shards.iter().map(|s| s.0.clone()).collect()
}

#[test]
fn a_listing_follows_parents_named_by_listed_shards_and_ends_on_a_malformed_cycle() {
    let shard = |id: &str, parents: &[&str], open| ListedShard {
        id: id.into(),
        parents: parents.iter().map(|p| (*p).to_owned()).collect(),
        open,
    };
    // "a" has expired: only its child still names it. "x" and "y" claim each other.
    let listing = ShardListing::new(
        [
            shard("b", &["a"], false),
            shard("c", &["b"], true),
            shard("x", &["y"], true),
            shard("y", &["x"], true),
        ],
        Instant::now(),
    );
    assert_eq!(
        ids(&listing.ancestors(&ShardId("c".into()))),
        set(&["a", "b"])
    );
    assert_eq!(
        ids(&listing.descendants(&ShardId("a".into()))),
        set(&["b", "c"])
    );
    assert_eq!(ids(&listing.ancestors(&ShardId("x".into()))), set(&["y"]));
    assert!(!listing.contains(&ShardId("a".into())));
    assert_eq!(listing.open_shards(), vec!["c", "x", "y"]);
}

const FROM_PARENT: &[(u64, &str, i64)] = &[(10, "a", 1), (11, "a", 2), (12, "b", 5)];
const FROM_CHILD: &[(u64, &str, i64)] = &[(30, "a", 10), (31, "a", 20)];

#[tokio::test]
async fn a_key_fed_by_a_parent_then_its_child_keeps_only_the_childs_mark() {
    let store = Arc::new(MemoryStateStore::default());
    let split = StaticShards::new([PARENT]).with_parents(CHILD, &[PARENT]);
    let p = processor(Arc::clone(&store), Some(Arc::new(split)));
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    assert_eq!(marks(&store, "a"), set(&[PARENT]));
    p.process(&batch(CHILD, FROM_CHILD)).await.unwrap();
    assert_eq!(
        marks(&store, "a"),
        set(&[CHILD]),
        "the parent's mark is pruned"
    );
    assert_eq!(
        marks(&store, "b"),
        set(&[PARENT]),
        "a key the child did not touch keeps its mark"
    );
    assert_eq!(
        totals(&store, "a"),
        from_scratch(&[FROM_PARENT, FROM_CHILD], "a")
    );
}

#[tokio::test]
async fn a_parent_batch_redelivered_after_its_child_is_skipped_by_the_descendants_mark() {
    let store = Arc::new(MemoryStateStore::default());
    let split = StaticShards::new([PARENT]).with_parents(CHILD, &[PARENT]);
    let p = processor(Arc::clone(&store), Some(Arc::new(split)));
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    p.process(&batch(CHILD, FROM_CHILD)).await.unwrap();
    // The key holds no mark of the parent any more: only rule 1 can recognise the retry.
    assert!(!marks(&store, "a").contains(PARENT));
    let before = store.snapshot().states["count#a"].version;
    let late = p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    assert_eq!(
        late.metrics.duplicates_skipped, 3,
        "a's two records by the child's mark, b's by its own"
    );
    assert_eq!(late.metrics.key_commits, 0);
    assert_eq!(store.snapshot().states["count#a"].version, before);
    assert_eq!(
        totals(&store, "a"),
        from_scratch(&[FROM_PARENT, FROM_CHILD], "a"),
        "the late parent batch would be counted twice without the descendant check"
    );
    assert_eq!(totals(&store, "b"), from_scratch(&[FROM_PARENT], "b"));
}

#[tokio::test]
async fn a_merge_prunes_both_parents_and_skips_both_parents_late_batches() {
    let store = Arc::new(MemoryStateStore::default());
    let merge = StaticShards::new([PARENT, SIBLING]).with_parents(CHILD, &[PARENT, SIBLING]);
    let p = processor(Arc::clone(&store), Some(Arc::new(merge)));
    let from_sibling: &[(u64, &str, i64)] = &[(20, "a", 100)];
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    p.process(&batch(SIBLING, from_sibling)).await.unwrap();
    assert_eq!(
        marks(&store, "a"),
        set(&[PARENT, SIBLING]),
        "two open shards are not each other's ancestors"
    );
    p.process(&batch(CHILD, FROM_CHILD)).await.unwrap();
    assert_eq!(marks(&store, "a"), set(&[CHILD]));
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    p.process(&batch(SIBLING, from_sibling)).await.unwrap();
    assert_eq!(
        totals(&store, "a"),
        from_scratch(&[FROM_PARENT, from_sibling, FROM_CHILD], "a")
    );
}

#[tokio::test]
async fn a_grandchild_prunes_its_grandparents_mark_and_skips_its_late_batch() {
    let store = Arc::new(MemoryStateStore::default());
    let lineage = StaticShards::new([GRANDPARENT])
        .with_parents(PARENT, &[GRANDPARENT])
        .with_parents(CHILD, &[PARENT]);
    let p = processor(Arc::clone(&store), Some(Arc::new(lineage)));
    // The key gets nothing from the middle shard: only the transitive lineage links them.
    p.process(&batch(GRANDPARENT, FROM_PARENT)).await.unwrap();
    p.process(&batch(CHILD, FROM_CHILD)).await.unwrap();
    assert_eq!(marks(&store, "a"), set(&[CHILD]));
    p.process(&batch(GRANDPARENT, FROM_PARENT)).await.unwrap();
    assert_eq!(
        totals(&store, "a"),
        from_scratch(&[FROM_PARENT, FROM_CHILD], "a")
    );
}

#[tokio::test]
async fn split_siblings_keep_each_others_marks_and_both_apply() {
    let store = Arc::new(MemoryStateStore::default());
    let split = StaticShards::new([PARENT])
        .with_parents(CHILD, &[PARENT])
        .with_parents(OTHER_CHILD, &[PARENT]);
    let p = processor(Arc::clone(&store), Some(Arc::new(split)));
    let from_other: &[(u64, &str, i64)] = &[(40, "a", 1_000)];
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    p.process(&batch(CHILD, FROM_CHILD)).await.unwrap();
    p.process(&batch(OTHER_CHILD, from_other)).await.unwrap();
    assert_eq!(marks(&store, "a"), set(&[CHILD, OTHER_CHILD]));
    assert_eq!(
        totals(&store, "a"),
        from_scratch(&[FROM_PARENT, FROM_CHILD, from_other], "a")
    );
}

#[tokio::test]
async fn without_a_shard_directory_marks_are_kept_as_before() {
    let store = Arc::new(MemoryStateStore::default());
    let p = processor(Arc::clone(&store), None);
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    p.process(&batch(CHILD, FROM_CHILD)).await.unwrap();
    assert_eq!(marks(&store, "a"), set(&[PARENT, CHILD]));
    let late = p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    assert_eq!(late.metrics.duplicates_skipped, 3, "by the kept marks");
}

/// A directory with a cache the test controls: `listing(None)` answers from the cache
/// (initially `stale`, requested before the test started), `listing(Some(_))` asks
/// `truth` anew and caches it. Counts both kinds of calls; `fail` makes every call fail.
#[derive(Debug)]
struct Scripted {
    cache: std::sync::Mutex<Arc<ShardListing>>,
    truth: StaticShards,
    fail: AtomicBool,
    cached_calls: AtomicUsize,
    refreshes: AtomicUsize,
}

impl Scripted {
    async fn new(stale: StaticShards, truth: StaticShards) -> Self {
        let stale = stale.listing(ARN, None).await.unwrap();
        Self {
            cache: std::sync::Mutex::new(stale),
            truth,
            fail: AtomicBool::new(false),
            cached_calls: AtomicUsize::new(0),
            refreshes: AtomicUsize::new(0),
        }
    }
}

impl ShardDirectory for Scripted {
    fn listing<'a>(
        &'a self,
        stream_arn: &'a str,
        fresh_after: Option<Instant>,
    ) -> BoxFuture<'a, Result<Arc<ShardListing>, Error>> {
        Box::pin(async move {
            let counter = match fresh_after {
                Some(_) => &self.refreshes,
                None => &self.cached_calls,
            };
            counter.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(Error::Transient("ListShards: throttled".into()));
            }
            if fresh_after.is_some() {
                let fresh = self.truth.listing(stream_arn, None).await?;
                *self.cache.lock().unwrap() = fresh;
            }
            Ok(Arc::clone(&self.cache.lock().unwrap()))
        })
    }
}

#[tokio::test]
async fn a_batch_from_a_shard_the_cached_listing_does_not_know_refreshes_it_once() {
    let store = Arc::new(MemoryStateStore::default());
    let before_split = StaticShards::new([PARENT]);
    let after_split = StaticShards::new([PARENT]).with_parents(CHILD, &[PARENT]);
    let directory = Arc::new(Scripted::new(before_split, after_split).await);
    let p = processor(Arc::clone(&store), Some(directory.clone()));
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    assert_eq!(
        directory.cached_calls.load(Ordering::SeqCst),
        0,
        "one shard, no other marks: no request"
    );
    p.process(&batch(CHILD, FROM_CHILD)).await.unwrap();
    assert_eq!(directory.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(
        marks(&store, "a"),
        set(&[CHILD]),
        "pruned with the refreshed lineage"
    );
    p.process(&batch(CHILD, &[(32, "a", 7)])).await.unwrap();
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    assert_eq!(
        directory.refreshes.load(Ordering::SeqCst),
        1,
        "the refreshed answer is reused"
    );
    assert_eq!(
        totals(&store, "a").1,
        5,
        "2 parent + 3 child records, once each"
    );
}

#[tokio::test]
async fn a_marked_shard_gone_from_a_fresh_listing_costs_one_refresh_not_one_per_batch() {
    let store = Arc::new(MemoryStateStore::default());
    // A key marked by an expired shard, written before the directory was configured.
    processor(Arc::clone(&store), None)
        .process(&batch(GRANDPARENT, &[(1, "a", 1)]))
        .await
        .unwrap();
    let now = StaticShards::new([PARENT]);
    let directory = Arc::new(Scripted::new(now.clone(), now).await);
    let p = processor(Arc::clone(&store), Some(directory.clone()));
    p.process(&batch(PARENT, &[(10, "a", 2)])).await.unwrap();
    p.process(&batch(PARENT, &[(11, "a", 3)])).await.unwrap();
    assert_eq!(directory.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(totals(&store, "a"), (6, 3));
}

#[tokio::test]
async fn a_failing_list_shards_when_lineage_is_needed_fails_the_batch_retryably_with_nothing_committed()
 {
    let store = Arc::new(MemoryStateStore::default());
    let split = StaticShards::new([PARENT]).with_parents(CHILD, &[PARENT]);
    let directory = Arc::new(Scripted::new(split.clone(), split).await);
    directory.fail.store(true, Ordering::SeqCst);
    let p = processor(Arc::clone(&store), Some(directory.clone()));
    // One shard and no other marks: lineage is not needed, so the outage is harmless.
    p.process(&batch(PARENT, FROM_PARENT)).await.unwrap();
    p.process(&batch(PARENT, &[(13, "a", 4)])).await.unwrap();
    let calls =
        directory.cached_calls.load(Ordering::SeqCst) + directory.refreshes.load(Ordering::SeqCst);
    assert_eq!(calls, 0, "the common path sends no ListShards");
    let before = store.snapshot();
    // "a" holds the parent's mark: the child's batch needs lineage. "c" is a new key.
    let err = p
        .process(&batch(CHILD, &[(30, "a", 10), (31, "c", 1)]))
        .await
        .unwrap_err();
    assert_eq!(err.class(), RetryClass::Retryable, "{err}");
    let after = store.snapshot();
    assert_eq!(
        after.states, before.states,
        "no key committed, not even the new one"
    );
    assert_eq!(after.commits, before.commits);
    // Once ListShards answers again, the retried batch applies once.
    directory.fail.store(false, Ordering::SeqCst);
    p.process(&batch(CHILD, &[(30, "a", 10), (31, "c", 1)]))
        .await
        .unwrap();
    assert_eq!(totals(&store, "a"), (1 + 2 + 4 + 10, 4));
    assert_eq!(marks(&store, "a"), set(&[CHILD]));
}

/// A store where the child shard's commit lands between a zombie parent batch's read and
/// its write (the parent's records were applied by a retry that finished first).
#[derive(Debug, Default)]
struct ChildWinsTheRace {
    inner: MemoryStateStore,
    raced: AtomicBool,
}

impl StateStore for ChildWinsTheRace {
    async fn get_many(
        &self,
        keys: &[String],
        consistent: bool,
    ) -> Result<std::collections::HashMap<String, StoredState>, Error> {
        self.inner.get_many(keys, consistent).await
    }

    async fn commit(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        if !self.raced.swap(true, Ordering::SeqCst) {
            let mut rival = commit.clone();
            let mut won = Totals::default();
            won.sum.set(1 + 2 + 4 + 10);
            won.count.set(4);
            rival.state.body = serde_json::to_string(&won).unwrap();
            rival.state.high_water = [(
                ShardId(CHILD.into()),
                crate::ids::SequenceNumber::parse("30").unwrap(),
            )]
            .into();
            self.inner.commit(&rival).await?;
        }
        self.inner.commit(commit).await
    }

    async fn dead_letter(&self, letter: &crate::deadletter::DeadLetter) -> Result<(), Error> {
        self.inner.dead_letter(letter).await
    }
}

#[tokio::test]
async fn a_zombie_parent_batch_that_loses_the_race_to_the_childs_commit_is_skipped_after_the_re_read()
 {
    let store = Arc::new(ChildWinsTheRace::default());
    store.raced.store(true, Ordering::SeqCst);
    let split = StaticShards::new([PARENT]).with_parents(CHILD, &[PARENT]);
    let p = processor(Arc::clone(&store), Some(Arc::new(split)));
    p.process(&batch(PARENT, &[(10, "a", 1), (11, "a", 2)]))
        .await
        .unwrap();
    // The zombie reads marks {parent: 11} (no lineage needed yet), then the child wins.
    store.raced.store(false, Ordering::SeqCst);
    let zombie = p.process(&batch(PARENT, &[(12, "a", 4)])).await.unwrap();
    assert_eq!(zombie.metrics.conflicts, 1);
    assert_eq!(
        totals(&store.inner, "a"),
        (17, 4),
        "the parent's record 12 is already in the child's state"
    );
    assert_eq!(marks(&store.inner, "a"), set(&[CHILD]));
}
