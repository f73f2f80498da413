//! Shard discovery and lineage: which shards of the source stream are open (for
//! watermarks), and which shard descends from which (for pruning high-water marks).
//!
//! ## Open shards hold the watermark back
//!
//! An operator's watermark is the minimum over its shards (see [`crate::watermark`]). A
//! shard that has not delivered a batch yet has no entry, so without discovery the first
//! shard to commit would set the operator watermark alone, and the first records of every
//! other shard would be judged late against it — on a fresh deployment, or when a
//! replayed stream's shards start a few batches apart. Flink's Kinesis source avoids this
//! the same way: a discovered shard without data holds the watermark back until it is
//! marked idle.
//!
//! So after a batch commits, the processor asks a [`ShardDirectory`] for the stream's open
//! shards and registers every unseen one at [`EventTime::MIN`](crate::EventTime::MIN)
//! with the current processing time. It then holds the watermark back until its first
//! batch, or until it has been idle for the idle timeout, after which processing time
//! advances it like any other idle shard (so a shard that never receives data does not
//! hold windows open forever). Closed shards (with an ending sequence number, e.g. parents
//! after resharding) are not registered: they have either reported already or are drained
//! before their children by the event source mapping.
//!
//! ## Lineage prunes the high-water marks of retired shards
//!
//! Every state item keeps, per shard, the highest applied sequence number
//! ([`StoredState::high_water`](crate::store::StoredState)). Without pruning, a key keeps
//! the entries of closed parent shards for ever (~150 B per key per reshard). The rule:
//!
//! 1. **Duplicate check.** A record of shard S is a duplicate for a key if the key's mark
//!    for S is at or above its sequence number (as without lineage), OR the key's marks
//!    hold an entry for a *descendant* of S (S is an ancestor, transitively through
//!    `ParentShardId` / `AdjacentParentShardId`, of a shard in the marks).
//! 2. **Pruning.** When a key commits a change from shard C, every entry of an ancestor
//!    of C is removed from its marks: C's own entry subsumes them.
//!
//! Why this is safe: the event source mapping (like KCL) processes a parent shard to its
//! end before it reads the children (reference/aws-semantics.md, "Resharding"; our
//! emulator's ESM does the same). So once a record of a descendant D of shard A has been
//! applied to a key, every record of A that will ever be applied has been applied
//! already: a record of A that shows up later is a retry or a zombie invocation's batch,
//! i.e. a duplicate. Rule 1 says exactly that, so dropping A's entry (rule 2) loses no
//! information the duplicate check needs — D's entry, which outlives it, answers for A.
//! (A descendant's entry can itself be pruned only in favour of a deeper descendant, which
//! still descends from A.) Like the marks themselves, this assumes one source stream per
//! operator: shard ids are only unique within a stream.
//!
//! The facts come from one cached `ListShards` answer, the same one that gives the open
//! shards: without a `ShardFilter` it lists every shard within the retention period
//! (`FROM_TRIM_HORIZON` is the default), closed ones included, each naming its parents;
//! it "does not list expired shards" (Kinesis API reference, ListShards / ShardFilter).
//! [`resolve_lineage`] asks only when a key read for the batch holds a mark of another
//! shard (or the batch spans several shards): the common path — one shard, no
//! resharding — sends no request at all. When the batch's shard or a marked shard is
//! missing from the cached answer and that answer predates the read of the marks, it
//! refreshes once: the shard exists (its record was applied before the read), so the
//! cache is stale. A marked shard still missing from an answer newer than the read has
//! expired: its records (and its ancestors', older still) can no longer be delivered, so it
//! can be nobody's descendant that matters; it is remembered in [`ExpiredShards`] so it
//! does not cause a refresh per batch. If `ListShards` fails while lineage is needed the
//! batch fails with a retryable error: guessing could double-apply.
//!
//! [`KinesisShardDirectory`] calls `ListShards` with the record's `eventSourceARN` and
//! caches the answer per stream for a configurable time (one call a minute per function
//! instance by default). The action is in the event source mapping's execution role
//! already (`kinesis:ListShards`, as in AWSLambdaKinesisExecutionRole).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::Mutex;

use crate::error::Error;
use crate::ids::{SequenceNumber, ShardId};

/// How long a stream's shard list is reused before `ListShards` is called again.
pub const DEFAULT_SHARD_CACHE: Duration = Duration::from_secs(60);

/// One `ListShards` answer: every shard within retention, open or closed, with its parents.
#[derive(Debug, Clone)]
pub struct ShardListing {
    /// Each listed shard's parents (`ParentShardId`, `AdjacentParentShardId`).
    parents: BTreeMap<ShardId, Vec<ShardId>>,
    /// The reverse edges, for descendants.
    children: BTreeMap<ShardId, Vec<ShardId>>,
    open: Vec<String>,
    fetched_at: Instant,
}

/// One shard of a [`ShardListing`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedShard {
    /// Its id.
    pub id: String,
    /// Its parents (none for an original shard, two after a merge).
    pub parents: Vec<String>,
    /// Whether it is open (no ending sequence number).
    pub open: bool,
}

impl ShardListing {
    /// A listing of `shards`, requested at `fetched_at` (the instant the request was sent,
    /// so that "fetched after X" means "reflects every shard that existed at X").
    pub fn new(shards: impl IntoIterator<Item = ListedShard>, fetched_at: Instant) -> Self {
        let mut listing = Self {
            parents: BTreeMap::new(),
            children: BTreeMap::new(),
            open: Vec::new(),
            fetched_at,
        };
        for shard in shards {
            let id = ShardId(shard.id);
            for parent in &shard.parents {
                listing
                    .children
                    .entry(ShardId(parent.clone()))
                    .or_default()
                    .push(id.clone());
            }
            if shard.open {
                listing.open.push(id.0.clone());
            }
            listing
                .parents
                .insert(id, shard.parents.into_iter().map(ShardId).collect());
        }
        listing
    }

    /// The ids of the open shards.
    pub fn open_shards(&self) -> Vec<String> {
        self.open.clone()
    }

    /// Whether `shard` is listed.
    pub fn contains(&self, shard: &ShardId) -> bool {
        self.parents.contains_key(shard)
    }

    /// When the answer was requested.
    pub fn fetched_at(&self) -> Instant {
        self.fetched_at
    }

    /// The direct parents of `shard` (none if unlisted or an original shard).
    pub fn parents(&self, shard: &ShardId) -> Vec<ShardId> {
        self.parents.get(shard).cloned().unwrap_or_default()
    }

    /// Every ancestor of `shard`, transitively. A parent that has expired is still named
    /// by its child, but its own parents are unknown.
    pub fn ancestors(&self, shard: &ShardId) -> BTreeSet<ShardId> {
        Self::closure(shard, &self.parents)
    }

    /// Every descendant of `shard`, transitively.
    pub fn descendants(&self, shard: &ShardId) -> BTreeSet<ShardId> {
        Self::closure(shard, &self.children)
    }

    fn closure(start: &ShardId, edges: &BTreeMap<ShardId, Vec<ShardId>>) -> BTreeSet<ShardId> {
        let mut found = BTreeSet::new();
        let mut todo = vec![start];
        while let Some(shard) = todo.pop() {
            for next in edges.get(shard).into_iter().flatten() {
                // The visited check also ends a (malformed) cycle.
                if next != start && found.insert(next.clone()) {
                    todo.push(next);
                }
            }
        }
        found
    }
}

/// Lists a stream's shards.
pub trait ShardDirectory: Send + Sync + std::fmt::Debug + 'static {
    /// `stream_arn`'s shards, open and closed, with their parents. With `fresh_after`,
    /// the answer must have been requested at or after that instant (a cached answer
    /// that is older is refreshed); without it, any cached answer will do.
    fn listing<'a>(
        &'a self,
        stream_arn: &'a str,
        fresh_after: Option<Instant>,
    ) -> BoxFuture<'a, Result<Arc<ShardListing>, Error>>;

    /// The ids of `stream_arn`'s open shards (from the cached listing).
    fn open_shards<'a>(&'a self, stream_arn: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async move { Ok(self.listing(stream_arn, None).await?.open_shards()) })
    }
}

/// How a state store can learn a shard's parents, asked only when it needs them (the
/// shard-log backend, when a shard has no state of its own yet: after a reshard its keys'
/// state is in its parents'). Without a directory or a stream ARN there are none.
#[derive(Clone, Copy, Default)]
pub struct ShardParents<'a> {
    directory: Option<&'a dyn ShardDirectory>,
    stream_arn: Option<&'a str>,
}

impl std::fmt::Debug for ShardParents<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardParents")
            .field("stream_arn", &self.stream_arn)
            .finish_non_exhaustive()
    }
}

impl<'a> ShardParents<'a> {
    /// Parents from `directory`'s listing of `stream_arn`.
    pub fn new(directory: Option<&'a dyn ShardDirectory>, stream_arn: Option<&'a str>) -> Self {
        Self {
            directory,
            stream_arn,
        }
    }

    /// `shard`'s direct parents; a shard the cached listing does not know yet (it was
    /// created after the listing) refreshes it once.
    pub async fn of(&self, shard: &ShardId) -> Result<Vec<ShardId>, Error> {
        let (Some(directory), Some(arn)) = (self.directory, self.stream_arn) else {
            return Ok(Vec::new());
        };
        let mut listing = directory.listing(arn, None).await?;
        if !listing.contains(shard) {
            listing = directory.listing(arn, Some(Instant::now())).await?;
        }
        Ok(listing.parents(shard))
    }
}

/// A fixed set of shards (tests, and operators fed by something other than Kinesis). Its
/// answer is always current.
#[derive(Debug, Clone, Default)]
pub struct StaticShards {
    shards: Vec<ListedShard>,
}

impl StaticShards {
    /// Open shards without parents.
    pub fn new<S: Into<String>>(open: impl IntoIterator<Item = S>) -> Self {
        Self {
            shards: open
                .into_iter()
                .map(|id| ListedShard {
                    id: id.into(),
                    parents: Vec::new(),
                    open: true,
                })
                .collect(),
        }
    }

    /// Declares a reshard: `child` is open and descends from `parents` (one for a
    /// split, two for a merge), which are closed (and listed, as within retention).
    #[must_use]
    pub fn with_parents(mut self, child: &str, parents: &[&str]) -> Self {
        for &parent in parents {
            match self.shards.iter_mut().find(|s| s.id == parent) {
                Some(shard) => shard.open = false,
                None => self.shards.push(ListedShard {
                    id: parent.to_owned(),
                    parents: Vec::new(),
                    open: false,
                }),
            }
        }
        let parents = parents.iter().map(|p| (*p).to_owned()).collect();
        match self.shards.iter_mut().find(|s| s.id == child) {
            Some(shard) => shard.parents = parents,
            None => self.shards.push(ListedShard {
                id: child.to_owned(),
                parents,
                open: true,
            }),
        }
        self
    }
}

impl ShardDirectory for StaticShards {
    fn listing<'a>(
        &'a self,
        _stream_arn: &'a str,
        _fresh_after: Option<Instant>,
    ) -> BoxFuture<'a, Result<Arc<ShardListing>, Error>> {
        let listing = ShardListing::new(self.shards.clone(), Instant::now());
        Box::pin(async move { Ok(Arc::new(listing)) })
    }
}

/// `ListShards` through the Kinesis client, cached per stream.
#[derive(Debug)]
pub struct KinesisShardDirectory {
    client: aws_sdk_kinesis::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, Arc<ShardListing>>>,
}

impl KinesisShardDirectory {
    /// A directory caching each stream's shards for [`DEFAULT_SHARD_CACHE`].
    pub fn new(client: aws_sdk_kinesis::Client) -> Self {
        Self {
            client,
            ttl: DEFAULT_SHARD_CACHE,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how long a shard list is reused.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    async fn list(&self, stream_arn: &str) -> Result<ShardListing, Error> {
        let fetched_at = Instant::now();
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // NextToken and the stream are mutually exclusive in ListShards. No
            // ShardFilter: the default (FROM_TRIM_HORIZON) lists closed shards within
            // retention too, which lineage needs.
            let request = match token.take() {
                Some(t) => self.client.list_shards().next_token(t),
                None => self.client.list_shards().stream_arn(stream_arn),
            };
            let page = request
                .send()
                .await
                .map_err(|e| Error::Transient(format!("ListShards: {e:?}")))?;
            shards.extend(page.shards().iter().map(|s| {
                ListedShard {
                    id: s.shard_id().to_owned(),
                    parents: s
                        .parent_shard_id()
                        .into_iter()
                        .chain(s.adjacent_parent_shard_id())
                        .map(str::to_owned)
                        .collect(),
                    open: s
                        .sequence_number_range()
                        .is_some_and(|r| r.ending_sequence_number().is_none()),
                }
            }));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(ShardListing::new(shards, fetched_at)),
            }
        }
    }
}

impl ShardDirectory for KinesisShardDirectory {
    fn listing<'a>(
        &'a self,
        stream_arn: &'a str,
        fresh_after: Option<Instant>,
    ) -> BoxFuture<'a, Result<Arc<ShardListing>, Error>> {
        Box::pin(async move {
            // Held across the call: concurrent keys needing a refresh share one request.
            let mut cache = self.cache.lock().await;
            if let Some(listing) = cache.get(stream_arn)
                && listing.fetched_at.elapsed() < self.ttl
                && fresh_after.is_none_or(|t| listing.fetched_at >= t)
            {
                return Ok(Arc::clone(listing));
            }
            let listing = Arc::new(self.list(stream_arn).await?);
            cache.insert(stream_arn.to_owned(), Arc::clone(&listing));
            Ok(listing)
        })
    }
}

/// The lineage facts a fold needs: for each shard of the batch, its ancestors (pruned
/// when it commits) and descendants (whose marks make its records duplicates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    kin: BTreeMap<ShardId, Kin>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Kin {
    ancestors: BTreeSet<ShardId>,
    descendants: BTreeSet<ShardId>,
}

impl Lineage {
    /// The facts about `batch_shards` in `listing`.
    pub fn new<'a>(
        listing: &ShardListing,
        batch_shards: impl IntoIterator<Item = &'a ShardId>,
    ) -> Self {
        let kin = batch_shards
            .into_iter()
            .map(|shard| {
                let kin = Kin {
                    ancestors: listing.ancestors(shard),
                    descendants: listing.descendants(shard),
                };
                (shard.clone(), kin)
            })
            .collect();
        Self { kin }
    }

    /// Rule 1: whether `marks` hold an entry for a descendant of `shard`, which makes
    /// every record of `shard` a duplicate for that key.
    pub fn superseded(&self, shard: &ShardId, marks: &BTreeMap<ShardId, SequenceNumber>) -> bool {
        self.kin
            .get(shard)
            .is_some_and(|kin| marks.keys().any(|m| kin.descendants.contains(m)))
    }

    /// Rule 2: removes the entries of `shard`'s ancestors from `marks` (called when the
    /// key commits a change from `shard`, whose entry subsumes them).
    pub fn prune(&self, shard: &ShardId, marks: &mut BTreeMap<ShardId, SequenceNumber>) {
        if let Some(kin) = self.kin.get(shard) {
            marks.retain(|m, _| !kin.ancestors.contains(m));
        }
    }
}

/// Marked shards that a listing newer than the marks no longer lists: expired (beyond
/// retention), so no refresh can make them known. Remembered per function instance so a
/// key holding such a mark does not cost a `ListShards` per batch.
#[derive(Debug, Default)]
pub struct ExpiredShards(std::sync::Mutex<BTreeSet<ShardId>>);

impl ExpiredShards {
    fn contains(&self, shard: &ShardId) -> bool {
        self.0.lock().is_ok_and(|set| set.contains(shard))
    }

    fn insert(&self, shard: ShardId) {
        if let Ok(mut set) = self.0.lock() {
            set.insert(shard);
        }
    }
}

/// The lineage facts for folding `batch_shards` over keys whose marks (read at `read_at`)
/// name `marked` shards, or `None` when they are not needed: every mark is of a batch
/// shard (or expired) and the batch has one shard — nothing to prune, no descendant.
/// See the module docs for when it refreshes and why a failure must fail the batch.
pub async fn resolve_lineage<'a>(
    directory: &dyn ShardDirectory,
    stream_arn: &str,
    batch_shards: &BTreeSet<ShardId>,
    marked: impl IntoIterator<Item = &'a ShardId>,
    read_at: Instant,
    expired: &ExpiredShards,
) -> Result<Option<Lineage>, Error> {
    let others: BTreeSet<&ShardId> = marked
        .into_iter()
        .filter(|s| !batch_shards.contains(*s) && !expired.contains(s))
        .collect();
    if others.is_empty() && batch_shards.len() <= 1 {
        return Ok(None);
    }
    let unknown = |listing: &ShardListing| {
        batch_shards
            .iter()
            .chain(others.iter().copied())
            .any(|s| !listing.contains(s))
    };
    let mut listing = directory.listing(stream_arn, None).await?;
    if unknown(&listing) && listing.fetched_at() < read_at {
        listing = directory.listing(stream_arn, Some(read_at)).await?;
    }
    if listing.fetched_at() >= read_at {
        for shard in others.iter().filter(|s| !listing.contains(s)) {
            tracing::info!(shard = %shard, "marked shard no longer listed: expired");
            expired.insert((*shard).clone());
        }
    }
    for shard in batch_shards.iter().filter(|s| !listing.contains(s)) {
        tracing::warn!(shard = %shard, "batch shard not listed by ListShards: its ancestors are unknown");
    }
    Ok(Some(Lineage::new(&listing, batch_shards)))
}
