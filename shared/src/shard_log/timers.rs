//! A shard's in-memory timer index: answers the dispatcher's queries as the timers table
//! would (per partition key, items in sort-key order), for the timers fired in-process.
//!
//! A timers-table sort key is `<due, zero-padded>#<state key>`, so `(due, key)` orders a
//! partition's entries exactly as the table does while comparing integers first. The
//! index used to be keyed by the `(pk, sk)` strings, which share long prefixes: comparing
//! them was 7% of R1's CPU on the Flink benchmark (perf).

use std::collections::{BTreeMap, HashMap};

use crate::operator::{TimeDomain, Timer};
use crate::timer_store::{TimerEntry, TimerLayout, clamp_due};

/// Entries of one partition by `(due, state key)`.
type Partition = BTreeMap<(i64, String), TimerEntry>;

/// The index of one operator's timers on one shard.
#[derive(Debug, Default)]
pub(super) struct ShardTimers {
    partitions: HashMap<String, Partition>,
}

impl ShardTimers {
    /// Indexes `key`'s `timer`, registered in `bucket`.
    pub(super) fn insert(
        &mut self,
        layout: &TimerLayout,
        operator: &str,
        key: &str,
        timer: Timer,
        bucket: i64,
    ) {
        let entry = layout.entry(operator, key, timer, bucket);
        self.partitions
            .entry(entry.pk.clone())
            .or_default()
            .insert((clamp_due(timer.time.0), key.to_owned()), entry);
    }

    /// Drops `key`'s `timer` (registered in `bucket`) from the index.
    pub(super) fn remove(
        &mut self,
        layout: &TimerLayout,
        operator: &str,
        key: &str,
        timer: Timer,
        bucket: i64,
    ) {
        let pk = layout.partition(operator, key, timer, bucket);
        if let Some(partition) = self.partitions.get_mut(&pk) {
            partition.remove(&(clamp_due(timer.time.0), key.to_owned()));
            if partition.is_empty() {
                self.partitions.remove(&pk);
            }
        }
    }

    /// Whether the item `(pk, sk)` is indexed.
    pub(super) fn contains(&self, pk: &str, sk: &str) -> bool {
        let Some((due, key)) = sk.split_once('#') else {
            return false;
        };
        let Ok(due) = due.parse::<i64>() else {
            return false;
        };
        self.partitions
            .get(pk)
            .is_some_and(|p| p.contains_key(&(due, key.to_owned())))
    }

    /// What a `Query` of `partition` for sort keys below `sk_before` returns: up to
    /// `limit` entries in sort-key order.
    pub(super) fn query(&self, partition: &str, sk_before: &str, limit: usize) -> Vec<TimerEntry> {
        let Some(entries) = self.partitions.get(partition) else {
            return Vec::new();
        };
        match sk_before.parse::<i64>() {
            // The dispatcher's bound is a bare due time (`timer_store::sk_before`): every
            // sort key `<due>#…` below it has a smaller due.
            Ok(bound) => entries
                .range(..(bound, String::new()))
                .take(limit)
                .map(|(_, e)| e.clone())
                .collect(),
            Err(_) => entries
                .values()
                .filter(|e| e.sk.as_str() < sk_before)
                .take(limit)
                .cloned()
                .collect(),
        }
    }

    /// Empties the index.
    pub(super) fn clear(&mut self) {
        self.partitions.clear();
    }

    /// The earliest timer of each domain (processing, event): each partition's first.
    pub(super) fn earliest(&self) -> (Option<i64>, Option<i64>) {
        let (mut processing, mut event) = (None::<i64>, None::<i64>);
        for entry in self.partitions.values().filter_map(|p| p.values().next()) {
            let slot = match entry.timer.domain {
                TimeDomain::Processing => &mut processing,
                TimeDomain::Event => &mut event,
            };
            *slot = Some(slot.map_or(entry.timer.time.0, |t| t.min(entry.timer.time.0)));
        }
        (processing, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EventTime;
    use crate::timer_store::{TimerIndex, query_index, sk_before};

    fn timer(domain: TimeDomain, t: i64) -> Timer {
        Timer {
            domain,
            time: EventTime(t),
        }
    }

    #[test]
    fn queries_answer_as_the_string_keyed_index_of_the_timers_table_does() {
        let layout = TimerLayout::default();
        let (mut index, mut table) = (ShardTimers::default(), TimerIndex::new());
        let mut add = |key: &str, t: Timer, bucket: i64| {
            index.insert(&layout, "op", key, t, bucket);
            let e = layout.entry("op", key, t, bucket);
            table.insert((e.pk.clone(), e.sk.clone()), e);
        };
        for (n, due) in [5_000, 1_000, 1_000, 99_000, 3_000, 7]
            .into_iter()
            .enumerate()
        {
            add(&format!("k{n}"), timer(TimeDomain::Event, due), 0);
            add(&format!("k{n}"), timer(TimeDomain::Processing, due), 60_000);
        }
        let partitions: Vec<String> = table.keys().map(|(pk, _)| pk.clone()).collect();
        for pk in &partitions {
            for horizon in [0, 7, 1_000, 4_000, 100_000] {
                let bound = sk_before(EventTime(horizon));
                for limit in [1, 2, 100] {
                    assert_eq!(
                        index.query(pk, &bound, limit),
                        query_index(&table, pk, &bound, limit),
                        "{pk} {horizon} {limit}"
                    );
                }
            }
            assert_eq!(
                index.query(pk, "0000~", 100),
                query_index(&table, pk, "0000~", 100)
            );
        }
        let (pk, sk) = table.keys().next().unwrap().clone();
        assert!(index.contains(&pk, &sk));
        assert_eq!(index.earliest(), (Some(7), Some(7)));
        index.remove(&layout, "op", "k5", timer(TimeDomain::Event, 7), 0);
        assert_eq!(index.earliest(), (Some(7), Some(1_000)));
        assert!(!index.contains("op#nowhere", &sk));
    }
}
