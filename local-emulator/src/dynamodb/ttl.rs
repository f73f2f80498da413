//! The TTL sweeper: deletes items whose TTL attribute (a Number, epoch seconds) lies
//! more than `ddb_ttl_sweep_delay` in the emulated past. Until then expired items stay
//! visible to reads and conditions, as on AWS, where deletion is a background process
//! that may lag by days. Like AWS it ignores non-number TTL values and values more than
//! five years in the past, and TTL deletes consume no capacity.
//!
//! Expired keys are collected under the read lock and deleted under the write lock
//! after re-checking, so a sweep never blocks readers for a whole-table walk.

use super::Inner;
use super::storage::PrimaryKey;
use super::types::{AttrValue, Item};

/// AWS skips TTL values more than five years in the past.
const MAX_PAST_SECS: f64 = 5.0 * 365.0 * 24.0 * 3600.0;

fn expired(item: &Item, attr: &str, cutoff: f64, now: f64) -> bool {
    let Some(AttrValue::N(n)) = item.get(attr) else {
        return false;
    };
    let ttl = n.to_f64();
    ttl < cutoff && ttl > now - MAX_PAST_SECS
}

/// Deletes every item that expired more than the configured delay ago; returns how many.
pub fn sweep(inner: &Inner) -> usize {
    let now = inner.now_secs();
    let cutoff = now - inner.config.ddb_ttl_sweep_delay.as_secs_f64();
    let mut victims: Vec<(String, String, PrimaryKey)> = Vec::new();
    {
        let tables = inner.read();
        for table in tables.values() {
            let Some(attr) = &table.def.ttl_attr else {
                continue;
            };
            for (hash, partition) in &table.partitions {
                for (range, (item, _)) in partition {
                    if expired(item, attr, cutoff, now) {
                        let key = PrimaryKey {
                            hash: hash.clone(),
                            range: range.clone(),
                        };
                        victims.push((table.def.name.clone(), attr.clone(), key));
                    }
                }
            }
        }
    }
    if victims.is_empty() {
        return 0;
    }
    let mut tables = inner.write();
    let mut deleted = 0;
    for (name, attr, key) in victims {
        let Some(table) = tables.get_mut(&name) else {
            continue;
        };
        if table.def.ttl_attr.as_deref() != Some(attr.as_str()) {
            continue;
        }
        if table
            .get(&key)
            .is_some_and(|item| expired(item, &attr, cutoff, now))
        {
            table.remove(&key);
            deleted += 1;
        }
    }
    deleted
}
