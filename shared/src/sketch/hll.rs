//! HyperLogLog distinct counting (Flajolet et al. 2007, with linear counting for small
//! cardinalities as in Heule et al. 2013, "HyperLogLog in Practice").
//!
//! `2^p` registers each keep the largest "rank" (leading zeros + 1) of the 64-bit hashes
//! routed to it by their top `p` bits. The relative standard error is `1.04 / √(2^p)`:
//! p = 12 (the default) → 1.04 / 64 ≈ 1.6 %, in 4 KiB of registers; p = 14 → 0.81 %.
//! With 64-bit hashes no large-range correction is needed.
//!
//! Sketches are mergeable (register-wise max: the sketch of a union), idempotent (adding
//! an item twice changes nothing — duplicates and re-applied records are harmless) and
//! order-independent, so a re-fold after a conflict gives the same bytes.
//!
//! ## Compact serde form
//! `{"p":12,"s":[[index,rank],…]}` while few registers are set (sparse: a few bytes per
//! distinct item), else `{"p":12,"d":"…"}` with one character per register from a
//! 64-character alphabet (ranks are ≤ 61). p = 12 is at most ~4.1 KB of JSON.

use serde::{Deserialize, Serialize};

use super::hash::hash64;

/// Default precision: 4096 registers, ≈ 1.6 % relative error.
pub const DEFAULT_PRECISION: u8 = 12;
/// Smallest precision.
pub const MIN_PRECISION: u8 = 4;
/// Largest precision (64 Ki registers).
pub const MAX_PRECISION: u8 = 16;
/// Seed of the item hash (changing it invalidates stored sketches).
const HLL_SEED: u64 = 0x6868_6c6c;
const ALPHABET: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

/// A HyperLogLog sketch. `Default` is an empty sketch of [`DEFAULT_PRECISION`]; registers
/// are allocated on the first insert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub struct HyperLogLog {
    p: u8,
    /// Empty until the first insert, else `2^p` ranks.
    registers: Vec<u8>,
}

impl Default for HyperLogLog {
    fn default() -> Self {
        Self::new(DEFAULT_PRECISION)
    }
}

impl HyperLogLog {
    /// An empty sketch with `2^p` registers; `p` is clamped to 4..=16.
    pub fn new(p: u8) -> Self {
        Self {
            p: p.clamp(MIN_PRECISION, MAX_PRECISION),
            registers: Vec::new(),
        }
    }

    /// The precision.
    pub fn precision(&self) -> u8 {
        self.p
    }

    /// The relative standard error of the estimate, `1.04 / √(2^p)`.
    pub fn relative_error(&self) -> f64 {
        1.04 / f64::from(1u32 << self.p).sqrt()
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.registers.is_empty()
    }

    /// Adds an item (its bytes are hashed with a stable hash).
    pub fn insert(&mut self, item: &[u8]) {
        self.insert_hash(hash64(HLL_SEED, item));
    }

    /// Adds an item by its 64-bit hash (must be uniformly distributed).
    pub fn insert_hash(&mut self, hash: u64) {
        let p = u32::from(self.p);
        if self.registers.is_empty() {
            self.registers = vec![0; 1 << p];
        }
        let index = (hash >> (64 - p)) as usize;
        // A guard bit keeps the rank ≤ 64 - p + 1 even for an all-zero suffix.
        let rest = (hash << p) | (1 << (p - 1));
        let rank = u8::try_from(rest.leading_zeros() + 1).unwrap_or(u8::MAX);
        if let Some(r) = self.registers.get_mut(index) {
            *r = (*r).max(rank);
        }
    }

    /// Merges `other` in: the sketch of the union. A sketch of higher precision is folded
    /// down to the lower one first (exactly: the dropped index bits become rank bits).
    pub fn merge(&mut self, other: &Self) {
        if other.is_empty() {
            return;
        }
        if self.p > other.p {
            *self = self.reduced(other.p);
        }
        let other = if other.p > self.p {
            other.reduced(self.p)
        } else {
            other.clone()
        };
        if self.registers.is_empty() {
            self.registers = other.registers;
            return;
        }
        for (r, o) in self.registers.iter_mut().zip(other.registers) {
            *r = (*r).max(o);
        }
    }

    /// The same observations at a lower precision `p`.
    fn reduced(&self, p: u8) -> Self {
        let mut out = Self::new(p);
        if self.is_empty() {
            return out;
        }
        let shift = u32::from(self.p - out.p);
        out.registers = vec![0; 1 << out.p];
        for (i, &rank) in self.registers.iter().enumerate() {
            if rank == 0 {
                continue;
            }
            let dropped = (i as u64) & ((1 << shift) - 1);
            // The dropped bits lead the new suffix: their leading zeros count first.
            let new_rank = if dropped == 0 {
                rank.saturating_add(u8::try_from(shift).unwrap_or(u8::MAX))
            } else {
                u8::try_from(shift - (64 - dropped.leading_zeros()) + 1).unwrap_or(u8::MAX)
            };
            if let Some(r) = out.registers.get_mut(i >> shift) {
                *r = (*r).max(new_rank);
            }
        }
        out
    }

    /// The estimated number of distinct items.
    pub fn estimate(&self) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let m = f64::from(1u32 << self.p);
        let alpha = match self.p {
            4 => 0.673,
            5 => 0.697,
            6 => 0.709,
            _ => 0.7213 / (1.0 + 1.079 / m),
        };
        let (mut sum, mut zeros) = (0.0_f64, 0_u32);
        for &r in &self.registers {
            sum += (-f64::from(r)).exp2();
            zeros += u32::from(r == 0);
        }
        let raw = alpha * m * m / sum;
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / f64::from(zeros)).ln()
        } else {
            raw
        };
        // Non-negative and far below 2^63.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rounded = estimate.round() as u64;
        rounded
    }
}

/// The serde form (see the module docs).
#[derive(Serialize, Deserialize)]
struct Wire {
    p: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<Vec<(u32, u8)>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<String>,
}

impl From<HyperLogLog> for Wire {
    fn from(h: HyperLogLog) -> Self {
        let set = h.registers.iter().filter(|&&r| r != 0).count();
        // A sparse pair costs ~10 bytes of JSON, a dense register 1.
        if set * 10 < h.registers.len() || h.registers.is_empty() {
            let pairs = h
                .registers
                .iter()
                .enumerate()
                .filter(|(_, r)| **r != 0)
                .map(|(i, r)| (u32::try_from(i).unwrap_or(u32::MAX), *r))
                .collect();
            return Self {
                p: h.p,
                s: Some(pairs),
                d: None,
            };
        }
        let dense = h
            .registers
            .iter()
            .map(|&r| char::from(ALPHABET[usize::from(r & 63)]))
            .collect();
        Self {
            p: h.p,
            s: None,
            d: Some(dense),
        }
    }
}

impl TryFrom<Wire> for HyperLogLog {
    type Error = String;
    fn try_from(w: Wire) -> Result<Self, String> {
        if !(MIN_PRECISION..=MAX_PRECISION).contains(&w.p) {
            return Err(format!("HyperLogLog precision {} out of range", w.p));
        }
        let mut h = Self::new(w.p);
        let m = 1usize << w.p;
        if let Some(dense) = w.d {
            if dense.len() != m {
                return Err(format!(
                    "HyperLogLog needs {m} registers, got {}",
                    dense.len()
                ));
            }
            h.registers = dense
                .bytes()
                .map(|c| {
                    ALPHABET
                        .iter()
                        .position(|&a| a == c)
                        .and_then(|r| u8::try_from(r).ok())
                        .ok_or_else(|| format!("bad HyperLogLog register {:?}", char::from(c)))
                })
                .collect::<Result<_, _>>()?;
        } else if let Some(pairs) = w.s.filter(|p| !p.is_empty()) {
            h.registers = vec![0; m];
            for (i, r) in pairs {
                let slot = h
                    .registers
                    .get_mut(i as usize)
                    .ok_or_else(|| format!("HyperLogLog register {i} out of range"))?;
                *slot = r;
            }
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(p: u8, items: impl Iterator<Item = u64>) -> HyperLogLog {
        let mut h = HyperLogLog::new(p);
        items.for_each(|i| h.insert(format!("acc-{i:09}").as_bytes()));
        h
    }

    #[test]
    fn estimates_stay_within_three_standard_errors_on_known_distinct_counts() {
        for n in [10_u64, 100, 1_000, 10_000, 100_000, 300_000] {
            let h = sketch(12, 0..n);
            let err = (h.estimate() as f64 - n as f64).abs() / n as f64;
            // Small counts are nearly exact (linear counting); ≥ 3σ is a real defect.
            assert!(
                err <= 3.0 * h.relative_error(),
                "n = {n}: {} ({err:.4})",
                h.estimate()
            );
        }
        let h = sketch(14, 0..50_000);
        let err = (h.estimate() as f64 - 50_000.0).abs() / 50_000.0;
        assert!(err <= 3.0 * h.relative_error(), "{err}");
        assert!((h.relative_error() - 0.008_125).abs() < 1e-6);
        assert!((HyperLogLog::default().relative_error() - 0.01625).abs() < 1e-6);
    }

    #[test]
    fn duplicates_and_order_do_not_change_the_sketch() {
        let a = sketch(12, 0..5_000);
        let b = sketch(12, (0..5_000).rev().chain(0..2_000));
        assert_eq!(a, b);
    }

    #[test]
    fn merging_gives_the_sketch_of_the_union_even_across_precisions() {
        let mut left = sketch(12, 0..30_000);
        left.merge(&sketch(12, 20_000..60_000));
        assert_eq!(left, sketch(12, 0..60_000));
        let mut low = sketch(10, 0..30_000);
        low.merge(&sketch(13, 20_000..60_000));
        assert_eq!(
            low,
            sketch(10, 0..60_000),
            "folding p=13 into p=10 is exact"
        );
        let mut empty = HyperLogLog::new(12);
        empty.merge(&sketch(12, 0..10));
        assert_eq!(empty, sketch(12, 0..10));
    }

    #[test]
    fn serde_form_is_compact_and_round_trips_sparse_and_dense() {
        for n in [0_u64, 5, 200, 50_000] {
            let h = sketch(12, 0..n);
            let json = serde_json::to_string(&h).unwrap();
            assert!(json.len() < 4_200, "{n}: {} bytes", json.len());
            let back: HyperLogLog = serde_json::from_str(&json).unwrap();
            assert_eq!(back, h);
        }
        assert!(serde_json::to_string(&sketch(12, 0..5)).unwrap().len() < 60);
        assert!(serde_json::from_str::<HyperLogLog>(r#"{"p":12,"d":"00"}"#).is_err());
        assert!(serde_json::from_str::<HyperLogLog>(r#"{"p":40}"#).is_err());
    }
}
