//! A shard's in-memory timer index: answers the dispatcher's queries as the timers table
//! would (per partition key, items in sort-key order), for the timers fired in-process.
//!
//! A timers-table sort key is `<due, zero-padded>#<state key>`, so `(due, key)` orders a
//! partition's entries exactly as the table does while comparing integers first. The
//! index used to be keyed by the `(pk, sk)` strings, which share long prefixes: comparing
//! them was 7% of R1's CPU on the Flink benchmark (perf). Partitions are likewise keyed by
//! what their key is made of (domain, bucket, spread), and an entry's item strings are only
//! formatted when a query returns it: formatting them for every timer a commit changed was
//! another 3% (R1's sliding windows change several timers per account and batch).

use std::collections::{BTreeMap, HashMap};

use crate::operator::{TimeDomain, Timer};
use crate::timer_store::{TimerEntry, TimerLayout, clamp_due};

/// What a timers-table partition key is made of: `<operator>#processing#<bucket>#<spread>`
/// or `<operator>#event#all#<spread>` (`timer_store`), for one operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PartitionId {
    domain: TimeDomain,
    /// The processing-time bucket (0 for event time).
    bucket: i64,
    spread: u32,
}

impl PartitionId {
    fn of(layout: &TimerLayout, key: &str, timer: Timer, bucket: i64) -> Self {
        Self {
            domain: timer.domain,
            bucket: match timer.domain {
                TimeDomain::Processing => bucket,
                TimeDomain::Event => 0,
            },
            spread: layout.spread_of(key),
        }
    }

    /// Parses `operator`'s partition key `pk`; `None` for anything else.
    fn parse(layout: &TimerLayout, operator: &str, pk: &str) -> Option<Self> {
        let (domain, bucket, spread) = layout.parse_partition(operator, pk)?;
        Some(Self {
            domain,
            bucket,
            spread,
        })
    }
}

/// Entries of one partition by `(due, state key)`: the timer and the bucket it was
/// registered in.
type Partition = BTreeMap<(i64, String), (Timer, i64)>;

/// The index of one operator's timers on one shard.
#[derive(Debug, Default)]
pub(super) struct ShardTimers {
    partitions: HashMap<PartitionId, Partition>,
}

impl ShardTimers {
    /// Indexes `key`'s `timer`, registered in `bucket`.
    pub(super) fn insert(&mut self, layout: &TimerLayout, key: &str, timer: Timer, bucket: i64) {
        self.partitions
            .entry(PartitionId::of(layout, key, timer, bucket))
            .or_default()
            .insert((clamp_due(timer.time.0), key.to_owned()), (timer, bucket));
    }

    /// Drops `key`'s `timer` (registered in `bucket`) from the index.
    pub(super) fn remove(&mut self, layout: &TimerLayout, key: &str, timer: Timer, bucket: i64) {
        let id = PartitionId::of(layout, key, timer, bucket);
        if let Some(partition) = self.partitions.get_mut(&id) {
            partition.remove(&(clamp_due(timer.time.0), key.to_owned()));
            if partition.is_empty() {
                self.partitions.remove(&id);
            }
        }
    }

    /// Whether `operator`'s item `(pk, sk)` is indexed.
    pub(super) fn contains(
        &self,
        layout: &TimerLayout,
        operator: &str,
        pk: &str,
        sk: &str,
    ) -> bool {
        let Some((due, key)) = sk.split_once('#') else {
            return false;
        };
        let (Ok(due), Some(id)) = (due.parse::<i64>(), PartitionId::parse(layout, operator, pk))
        else {
            return false;
        };
        self.partitions
            .get(&id)
            .is_some_and(|p| p.contains_key(&(due, key.to_owned())))
    }

    /// What a `Query` of `operator`'s `partition` for sort keys below `sk_before` returns:
    /// up to `limit` entries in sort-key order, as `layout` lays them out.
    pub(super) fn query(
        &self,
        layout: &TimerLayout,
        operator: &str,
        partition: &str,
        sk_before: &str,
        limit: usize,
    ) -> Vec<TimerEntry> {
        let Some(entries) =
            PartitionId::parse(layout, operator, partition).and_then(|id| self.partitions.get(&id))
        else {
            return Vec::new();
        };
        let entry = |((_, key), (timer, bucket)): (&(i64, String), &(Timer, i64))| {
            layout.entry(operator, key, *timer, *bucket)
        };
        match sk_before.parse::<i64>() {
            // The dispatcher's bound is a bare due time (`timer_store::sk_before`): every
            // sort key `<due>#…` below it has a smaller due.
            Ok(bound) => entries
                .range(..(bound, String::new()))
                .take(limit)
                .map(entry)
                .collect(),
            Err(_) => entries
                .iter()
                .map(entry)
                .filter(|e| e.sk.as_str() < sk_before)
                .take(limit)
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
        for (timer, _) in self.partitions.values().filter_map(|p| p.values().next()) {
            let slot = match timer.domain {
                TimeDomain::Processing => &mut processing,
                TimeDomain::Event => &mut event,
            };
            *slot = Some(slot.map_or(timer.time.0, |t| t.min(timer.time.0)));
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
            index.insert(&layout, key, t, bucket);
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
                        index.query(&layout, "op", pk, &bound, limit),
                        query_index(&table, pk, &bound, limit),
                        "{pk} {horizon} {limit}"
                    );
                }
            }
            assert_eq!(
                index.query(&layout, "op", pk, "0000~", 100),
                query_index(&table, pk, "0000~", 100)
            );
        }
        let (pk, sk) = table.keys().next().unwrap().clone();
        assert!(index.contains(&layout, "op", &pk, &sk));
        assert_eq!(index.earliest(), (Some(7), Some(7)));
        index.remove(&layout, "k5", timer(TimeDomain::Event, 7), 0);
        assert_eq!(index.earliest(), (Some(7), Some(1_000)));
        assert!(!index.contains(&layout, "op", "op#nowhere", &sk));
        assert!(
            !index.contains(&layout, "other", &pk, &sk),
            "another operator's partition"
        );
    }
}
