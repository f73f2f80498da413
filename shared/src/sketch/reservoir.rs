//! A deterministic reservoir sample: the `k` items with the smallest hash of their id
//! ("bottom-k" sampling).
//!
//! A classic reservoir (Vitter's algorithm R) draws random numbers, so re-applying the
//! same records after a conflict or a re-delivery would give a different sample. Ranking
//! items by a hash of their id instead makes the hash act as the random priority:
//! - uniform: every distinct id is equally likely to be among the `k` smallest hashes,
//!   so the sample is a uniform sample without replacement of the distinct ids;
//! - deterministic and order-independent: the same ids give the same sample, whatever
//!   the order, batch split or number of re-applications;
//! - idempotent: an id already seen (a duplicate transaction) changes nothing;
//! - mergeable: the bottom-k of a union is the bottom-k of the partial bottom-ks.
//!
//! Stored as the ids only, in hash order (hashes are recomputed: cheap, and the JSON
//! stays as small as the ids themselves).

use serde::{Deserialize, Serialize};

use super::hash::hash64;

/// Seed of the ranking hash.
const SAMPLE_SEED: u64 = 0x7361_6d70;
/// Default sample size.
pub const DEFAULT_SAMPLE_SIZE: usize = 100;

/// A bottom-k sample of item ids. `Default` holds up to [`DEFAULT_SAMPLE_SIZE`] ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservoir {
    /// Capacity.
    k: usize,
    /// Sampled ids in ascending (hash, id) order.
    ids: Vec<String>,
}

impl Default for Reservoir {
    fn default() -> Self {
        Self::new(DEFAULT_SAMPLE_SIZE)
    }
}

fn rank(id: &str) -> (u64, &str) {
    (hash64(SAMPLE_SEED, id.as_bytes()), id)
}

impl Reservoir {
    /// An empty sample of at most `k` ids.
    pub fn new(k: usize) -> Self {
        Self { k, ids: Vec::new() }
    }

    /// Capacity.
    pub fn capacity(&self) -> usize {
        self.k
    }

    /// Sets the capacity (dropping the highest-ranked ids if it shrinks).
    pub fn set_capacity(&mut self, k: usize) {
        self.k = k;
        self.ids.truncate(k);
    }

    /// The sampled ids, in rank order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Number of sampled ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Offers an id; returns whether the sample changed.
    pub fn insert(&mut self, id: &str) -> bool {
        let key = rank(id);
        if self.ids.len() >= self.k && self.ids.last().is_none_or(|last| key >= rank(last)) {
            return false;
        }
        match self.ids.binary_search_by(|probe| rank(probe).cmp(&key)) {
            Ok(_) => false,
            Err(at) => {
                self.ids.insert(at, id.to_owned());
                self.ids.truncate(self.k);
                true
            }
        }
    }

    /// Merges `other` in: the bottom-k of the union (capacity: the smaller of the two).
    pub fn merge(&mut self, other: &Self) {
        self.k = self.k.min(other.k);
        for id in &other.ids {
            self.insert(id);
        }
        self.ids.truncate(self.k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(k: usize, ids: impl Iterator<Item = String>) -> Reservoir {
        let mut r = Reservoir::new(k);
        ids.for_each(|id| {
            r.insert(&id);
        });
        r
    }

    fn tx(i: u32) -> String {
        format!("tx-20261121-{i:08}")
    }

    #[test]
    fn the_same_ids_in_any_order_with_duplicates_give_the_same_sample() {
        let a = sample(10, (0..1_000).map(tx));
        let b = sample(10, (0..1_000).rev().chain(0..300).map(tx));
        assert_eq!(a, b);
        assert_eq!(a.len(), 10);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Reservoir>(&json).unwrap(), a);
    }

    #[test]
    fn merging_partial_samples_equals_sampling_the_union() {
        let mut left = sample(20, (0..700).map(tx));
        left.merge(&sample(20, (500..2_000).map(tx)));
        assert_eq!(left, sample(20, (0..2_000).map(tx)));
    }

    #[test]
    fn fewer_items_than_the_capacity_are_all_kept() {
        let r = sample(50, (0..7).map(tx));
        let mut ids = r.ids().to_vec();
        ids.sort();
        assert_eq!(ids, (0..7).map(tx).collect::<Vec<_>>());
    }

    #[test]
    fn every_id_is_sampled_with_about_the_same_frequency() {
        // 2,000 independent populations of 100 ids, k = 10: each position is sampled
        // with probability 0.1 (σ ≈ 0.0067 over 2,000 trials).
        let trials = 2_000;
        let mut hits = [0u32; 100];
        for trial in 0..trials {
            let r = sample(10, (0..100).map(|i| format!("t{trial}-{i}")));
            for id in r.ids() {
                let i: usize = id.rsplit('-').next().unwrap().parse().unwrap();
                hits[i] += 1;
            }
        }
        for (i, &h) in hits.iter().enumerate() {
            let f = f64::from(h) / f64::from(trials);
            assert!((0.07..0.13).contains(&f), "id {i}: {f}");
        }
    }
}
