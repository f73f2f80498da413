//! `MemoryStateStore`: an in-process [`StateStore`] with DynamoDB's commit semantics
//! (version condition, `attribute_not_exists` for new keys, outputs committed with the
//! state), for operator unit tests and the framework's own tests without a network.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::deadletter::DeadLetter;
use crate::error::Error;
use crate::store::{CommitResult, KeyCommit, OutputTable, StateStore, StoredState};
use crate::timer_store::TimerEntry;

/// Everything a [`MemoryStateStore`] holds.
#[derive(Debug, Default, Clone)]
pub struct MemoryTables {
    /// State items by item key.
    pub states: BTreeMap<String, StoredState>,
    /// Outputs by pk (body); keyed outputs (a non-default sk) by `pk|sk`.
    pub outputs: BTreeMap<String, String>,
    /// Late events by `pk|sk` (body).
    pub late_events: BTreeMap<String, String>,
    /// Dead letters by id.
    pub dead_letters: BTreeMap<String, DeadLetter>,
    /// Dead-lettered timers by pk (body, see [`crate::deadletter::timer_dead_letter`]).
    pub timer_dead_letters: BTreeMap<String, String>,
    /// Commits applied (writes that reached the "table").
    pub commits: u64,
    /// Timer items by (pk, sk).
    pub timers: BTreeMap<(String, String), TimerEntry>,
    /// Keyed outputs written by `put_outputs`: the version that wrote them (`pk|sk`).
    pub output_versions: BTreeMap<String, u64>,
}

impl MemoryTables {
    fn insert_outputs(&mut self, operator: &str, outputs: &[crate::store::OutputItem]) {
        // Default placements use the operator's name (the item key's prefix) as sk.
        for out in outputs {
            match out.table {
                OutputTable::Outputs if out.sk == operator => {
                    self.outputs.insert(out.pk.clone(), out.body.clone())
                }
                OutputTable::Outputs => self
                    .outputs
                    .insert(format!("{}|{}", out.pk, out.sk), out.body.clone()),
                OutputTable::LateEvents => self
                    .late_events
                    .insert(format!("{}|{}", out.pk, out.sk), out.body.clone()),
                OutputTable::DeadLetters => self
                    .timer_dead_letters
                    .insert(out.pk.clone(), out.body.clone()),
            };
        }
    }
}

/// An in-memory state store.
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    tables: Mutex<MemoryTables>,
}

impl MemoryStateStore {
    /// A copy of the current contents.
    pub fn snapshot(&self) -> MemoryTables {
        self.tables.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Replaces the contents (tests: continue from another store's state).
    pub fn restore(&self, tables: MemoryTables) {
        if let Ok(mut t) = self.tables.lock() {
            *t = tables;
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryTables>, Error> {
        self.tables
            .lock()
            .map_err(|_| Error::Service("memory store poisoned".into()))
    }
}

impl StateStore for MemoryStateStore {
    async fn get_many(
        &self,
        item_keys: &[String],
        _consistent: bool,
    ) -> Result<HashMap<String, StoredState>, Error> {
        let tables = self.lock()?;
        Ok(item_keys
            .iter()
            .filter_map(|k| tables.states.get(k).map(|s| (k.clone(), s.clone())))
            .collect())
    }

    async fn commit(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        let mut tables = self.lock()?;
        let current = tables.states.get(&commit.item_key).map(|s| s.version);
        if commit.conditional && current != commit.expected_version {
            return Ok(CommitResult::Conflict);
        }
        // The fired timer's delete is conditioned on its existence, like the transaction.
        if let Some(fired) = &commit.timers.fired {
            if !tables
                .timers
                .contains_key(&(fired.pk.clone(), fired.sk.clone()))
            {
                return Ok(CommitResult::Conflict);
            }
            tables.timers.remove(&(fired.pk.clone(), fired.sk.clone()));
        }
        for gone in &commit.timers.deletes {
            tables.timers.remove(&(gone.pk.clone(), gone.sk.clone()));
        }
        for new in &commit.timers.puts {
            tables
                .timers
                .insert((new.pk.clone(), new.sk.clone()), new.clone());
        }
        tables
            .states
            .insert(commit.item_key.clone(), commit.state.clone());
        let operator = commit.item_key.split('#').next().unwrap_or_default();
        tables.insert_outputs(operator, &commit.outputs);
        tables.commits += 1;
        Ok(CommitResult::Committed)
    }

    async fn put_outputs(
        &self,
        operator: &str,
        outputs: &[crate::store::OutputItem],
        version: u64,
    ) -> Result<(), Error> {
        let mut tables = self.lock()?;
        // Like DynamoDB's conditional put: a keyed output only takes a newer version.
        let fresh: Vec<crate::store::OutputItem> = outputs
            .iter()
            .filter(|out| {
                let keyed = out.is_keyed(operator);
                if !keyed {
                    return true;
                }
                let id = format!("{}|{}", out.pk, out.sk);
                let newer = tables
                    .output_versions
                    .get(&id)
                    .is_none_or(|v| *v <= version);
                if newer {
                    tables.output_versions.insert(id, version);
                }
                newer
            })
            .cloned()
            .collect();
        tables.insert_outputs(operator, &fresh);
        Ok(())
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), Error> {
        self.lock()?
            .dead_letters
            .insert(letter.id(), letter.clone());
        Ok(())
    }

    async fn query_timers(
        &self,
        partition: &str,
        sk_before: &str,
        limit: usize,
    ) -> Result<Vec<TimerEntry>, Error> {
        let tables = self.lock()?;
        Ok(crate::timer_store::query_index(
            &tables.timers,
            partition,
            sk_before,
            limit,
        ))
    }

    async fn delete_timer_items(&self, entries: &[TimerEntry]) -> Result<(), Error> {
        let mut tables = self.lock()?;
        for e in entries {
            tables.timers.remove(&(e.pk.clone(), e.sk.clone()));
        }
        Ok(())
    }
}
