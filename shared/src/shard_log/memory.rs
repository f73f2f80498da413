//! An in-memory [`ShardLogBackend`] with injectable faults, for the framework's tests:
//! a failed object write, a checkpoint write that fails before it applies, and one whose
//! answer is lost after it applied (the process died right after the commit).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use crate::error::Error;
use crate::ids::ShardId;
use crate::shard_log::backend::ShardLogBackend;
use crate::shard_log::format::Checkpoint;
use crate::store::CommitResult;

#[derive(Debug, Default)]
struct Tables {
    checkpoints: HashMap<(String, ShardId), Checkpoint>,
    objects: HashMap<String, Vec<u8>>,
    registry: HashMap<String, BTreeSet<ShardId>>,
    fail_object_puts: u32,
    fail_checkpoints: u32,
    lose_checkpoint_answers: u32,
    checkpoint_writes: u64,
}

/// The in-memory backend (share one between the "processes" of a test).
#[derive(Debug, Default)]
pub struct MemoryShardLog {
    tables: Mutex<Tables>,
}

impl MemoryShardLog {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Tables>, Error> {
        self.tables
            .lock()
            .map_err(|_| Error::Service("memory shard log poisoned".into()))
    }

    /// The next `n` object writes fail (transiently) without writing.
    pub fn fail_object_puts(&self, n: u32) {
        if let Ok(mut t) = self.tables.lock() {
            t.fail_object_puts = n;
        }
    }

    /// The next `n` checkpoint writes fail (transiently) without writing.
    pub fn fail_checkpoints(&self, n: u32) {
        if let Ok(mut t) = self.tables.lock() {
            t.fail_checkpoints = n;
        }
    }

    /// The next `n` checkpoint writes apply, then report a failure (a lost answer).
    pub fn lose_checkpoint_answers(&self, n: u32) {
        if let Ok(mut t) = self.tables.lock() {
            t.lose_checkpoint_answers = n;
        }
    }

    /// The checkpoint of `operator`'s `shard`, if any.
    pub fn checkpoint(&self, operator: &str, shard: &ShardId) -> Option<Checkpoint> {
        self.tables
            .lock()
            .ok()?
            .checkpoints
            .get(&(operator.to_owned(), shard.clone()))
            .cloned()
    }

    /// Objects stored.
    pub fn object_count(&self) -> usize {
        self.tables.lock().map(|t| t.objects.len()).unwrap_or(0)
    }

    /// Checkpoint writes that applied.
    pub fn checkpoint_writes(&self) -> u64 {
        self.tables.lock().map(|t| t.checkpoint_writes).unwrap_or(0)
    }
}

impl ShardLogBackend for MemoryShardLog {
    async fn read_checkpoint(
        &self,
        operator: &str,
        shard: &ShardId,
    ) -> Result<Option<Checkpoint>, Error> {
        Ok(self.checkpoint(operator, shard))
    }

    async fn write_checkpoint(
        &self,
        operator: &str,
        shard: &ShardId,
        expected: Option<u64>,
        next: &Checkpoint,
    ) -> Result<CommitResult, Error> {
        let mut t = self.lock()?;
        if t.fail_checkpoints > 0 {
            t.fail_checkpoints -= 1;
            return Err(Error::Transient("injected: checkpoint write failed".into()));
        }
        let slot = (operator.to_owned(), shard.clone());
        if t.checkpoints.get(&slot).map(|c| c.version) != expected {
            return Ok(CommitResult::Conflict);
        }
        t.checkpoints.insert(slot, next.clone());
        t.checkpoint_writes += 1;
        if t.lose_checkpoint_answers > 0 {
            t.lose_checkpoint_answers -= 1;
            return Err(Error::Transient("injected: checkpoint answer lost".into()));
        }
        Ok(CommitResult::Committed)
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), Error> {
        let mut t = self.lock()?;
        if t.fail_object_puts > 0 {
            t.fail_object_puts -= 1;
            return Err(Error::Transient("injected: object write failed".into()));
        }
        t.objects.insert(key.to_owned(), bytes);
        Ok(())
    }

    async fn get_object(&self, key: &str) -> Result<Vec<u8>, Error> {
        self.lock()?
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| Error::Transient(format!("shard log object {key} is gone")))
    }

    async fn delete_objects(&self, keys: &[String]) -> Result<(), Error> {
        let mut t = self.lock()?;
        for key in keys {
            t.objects.remove(key);
        }
        Ok(())
    }

    async fn register_shard(&self, operator: &str, shard: &ShardId) -> Result<(), Error> {
        self.lock()?
            .registry
            .entry(operator.to_owned())
            .or_default()
            .insert(shard.clone());
        Ok(())
    }

    async fn shards(&self, operator: &str) -> Result<Vec<ShardId>, Error> {
        Ok(self
            .lock()?
            .registry
            .get(operator)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default())
    }
}
