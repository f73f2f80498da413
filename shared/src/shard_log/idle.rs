//! The idle-shard path: what a scheduled function (the `timer-dispatcher`) does for an
//! operator on the shard log, because no batch will come to do it.
//!
//! - **Timers.** A busy shard fires its due timers at the start of its own batches. A
//!   shard no batch reaches (idle, or at the end of a bounded input) has them fired here:
//!   restore, poll the dispatcher until no backlog, commit ([`fire_due_shards`]).
//! - **Outputs.** A writer that dies between its checkpoint write and the publication of
//!   the batch's outputs leaves them to the shard's next writer: whoever adopts a version
//!   re-publishes its newest object's outputs, and a failed batch is re-delivered, so
//!   normally that writer comes. The last version of a shard may have none: a killed timer
//!   dispatcher's firing is not retried, and a shard may go quiet for good. So each poll
//!   re-publishes the newest object's outputs of a version this process neither wrote nor
//!   adopted, once that version has stayed put since the previous poll (one `GetObject`,
//!   then idempotent puts: deterministic ids, and a keyed output never goes back to an
//!   older version). The chaos e2e test lost session summaries to exactly this before.

use std::time::Instant;

use crate::error::{Error, RetryClass};
use crate::ids::{EventTime, ShardId};
use crate::shards::ShardParents;
use crate::store::StateStore;

use super::{Checkpoint, ShardLogBackend, ShardLogStore, drain_timers};

/// What the idle path last saw of a shard's checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Watched {
    version: u64,
    /// Whether that version's outputs are known published: this process wrote or adopted
    /// it, or re-published them.
    published: bool,
}

impl Checkpoint {
    /// Whether the shard has a timer due at `now` (processing time) or `watermark`.
    fn is_due(&self, now: EventTime, watermark: EventTime) -> bool {
        self.next_processing.is_some_and(|t| t <= now.0)
            || self.next_event.is_some_and(|t| t <= watermark.0)
    }
}

impl<S: StateStore, B: ShardLogBackend> ShardLogStore<S, B> {
    /// Every registered shard's checkpoint that is not superseded by a reshard.
    async fn live_checkpoints(&self) -> Result<Vec<(ShardId, Checkpoint)>, Error> {
        let mut live = Vec::new();
        for shard in self.backend.shards(&self.operator).await? {
            let Some(checkpoint) = self.backend.read_checkpoint(&self.operator, &shard).await?
            else {
                continue;
            };
            if !checkpoint.superseded {
                live.push((shard, checkpoint));
            }
        }
        Ok(live)
    }

    /// Shards whose earliest timer is due at `now` (processing time) or `watermark`
    /// (event time), by their checkpoints: what a scheduled dispatcher must fire because
    /// no batch may come to fire it (idle shards, the end of a bounded input).
    pub async fn due_shards(
        &self,
        now: EventTime,
        watermark: EventTime,
    ) -> Result<Vec<ShardId>, Error> {
        Ok(self
            .live_checkpoints()
            .await?
            .into_iter()
            .filter(|(_, c)| c.is_due(now, watermark))
            .map(|(shard, _)| shard)
            .collect())
    }

    /// Re-publishes the newest object's outputs of `checkpoint` if this process neither
    /// wrote nor adopted that version and it has not moved since the previous call (see
    /// the module docs). Returns whether it did.
    async fn republish_if_orphaned(
        &self,
        shard: &ShardId,
        checkpoint: &Checkpoint,
    ) -> Result<bool, Error> {
        let known = self
            .lock_shards()?
            .get(shard)
            .is_some_and(|m| m.checkpoint == *checkpoint);
        let orphaned = {
            let mut watched = self.lock_watched()?;
            let previous = watched
                .get(shard)
                .filter(|w| w.version == checkpoint.version);
            let published = known || previous.is_some_and(|w| w.published);
            let orphaned = previous.is_some() && !published;
            watched.insert(
                shard.clone(),
                Watched {
                    version: checkpoint.version,
                    published,
                },
            );
            orphaned
        };
        let newest = checkpoint.log.last().or(checkpoint.snapshot.as_ref());
        let (true, Some(newest)) = (orphaned, newest) else {
            return Ok(false);
        };
        let object = self.read_object(newest).await?;
        if !object.outputs.is_empty() {
            self.inner
                .put_outputs(&self.operator, &object.outputs, checkpoint.version)
                .await?;
        }
        if let Some(w) = self.lock_watched()?.get_mut(shard)
            && w.version == checkpoint.version
        {
            w.published = true;
        }
        tracing::info!(operator = %self.operator, shard = %shard, version = checkpoint.version, outputs = object.outputs.len(), "re-published an idle shard's last outputs");
        Ok(true)
    }

    fn lock_watched(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::HashMap<ShardId, Watched>>, Error> {
        self.watched
            .lock()
            .map_err(|_| Error::Service("shard log watch lock poisoned".into()))
    }
}

/// One pass of the idle path over `store`'s shards: re-publishes orphaned outputs, and
/// fires the timers of shards that are due but will not see a batch: per due shard,
/// restore, poll `dispatcher` until no backlog, commit. A shard whose commit fails is
/// left for the next call.
pub async fn fire_due_shards<S: StateStore, B: ShardLogBackend>(
    store: &ShardLogStore<S, B>,
    dispatcher: &crate::Dispatcher<ShardLogStore<S, B>>,
    watermark: EventTime,
) -> Result<crate::DispatchReport, Error> {
    let now = store.clock.now();
    let mut total = crate::DispatchReport::default();
    for (shard, checkpoint) in store.live_checkpoints().await? {
        let result = match store.republish_if_orphaned(&shard, &checkpoint).await {
            Ok(_) if !checkpoint.is_due(now, watermark) => continue,
            Ok(_) => fire_shard(store, dispatcher, &shard).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(report) => total.absorb(report),
            Err(e) if e.class() == RetryClass::Fatal => return Err(e),
            Err(e) => {
                tracing::warn!(shard = %shard, error = %e, "idle shard not settled; next poll retries");
            }
        }
    }
    Ok(total)
}

async fn fire_shard<S: StateStore, B: ShardLogBackend>(
    store: &ShardLogStore<S, B>,
    dispatcher: &crate::Dispatcher<ShardLogStore<S, B>>,
    shard: &ShardId,
) -> Result<crate::DispatchReport, Error> {
    store.begin_shard(shard, ShardParents::default()).await?;
    let fired = match drain_timers(dispatcher).await {
        Ok(report) => store.finish_shard(shard).await.map(|()| report),
        Err(e) => Err(e),
    };
    if fired.is_err() {
        store.abandon_shard(shard).await;
    }
    fired
}

/// What a scheduled timer function runs for an operator on this backend (the
/// `timer-dispatcher` function for session-tracker): until `deadline − safety_margin`,
/// about every `poll_interval`, [`fire_due_shards`] against the operator's current
/// watermark (idle shards advanced). Racing a batch is safe: the loser of the checkpoint
/// write retries from the winner's state.
pub async fn fire_idle_shards_until<S: StateStore, B: ShardLogBackend>(
    store: &ShardLogStore<S, B>,
    dispatcher: &crate::Dispatcher<ShardLogStore<S, B>>,
    deadline: Instant,
) -> Result<crate::DispatchReport, Error> {
    let config = dispatcher.config();
    let stop = deadline
        .checked_sub(config.safety_margin)
        .unwrap_or(deadline);
    let mut total = crate::DispatchReport::default();
    while Instant::now() < stop {
        let started = Instant::now();
        let watermark = dispatcher.operator_watermark(&store.operator).await?;
        total.absorb(fire_due_shards(store, dispatcher, watermark).await?);
        let next = (started + config.poll_interval).min(stop);
        tokio::time::sleep_until(next.into()).await;
    }
    Ok(total)
}
