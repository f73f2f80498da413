//! Per-account state: everything the rules need, bounded so even the busiest account
//! stays far below the framework's 350 KB state budget.
//!
//! | field | bound | worst case (JSON) |
//! |---|---|---|
//! | `window` — (event time, amount, in-profile) of recent transactions | by event time: newer than the account's newest event time − the window (10 min); by count: [`MAX_WINDOW_ENTRIES`] | 512 × ~40 B ≈ 20 KB |
//! | `seen` — hashes of recently seen transaction ids, arrival order | by count: [`MAX_SEEN_IDS`] | 256 × ~21 B ≈ 5.4 KB |
//! | `devices` — hashes of known devices with last use | by count: [`MAX_DEVICES`], least recently used evicted | 32 × ~35 B ≈ 1.1 KB |
//! | `profile` — Welford count/mean/M2 of in-profile amounts, currency | constant | ~80 B |
//! | `last` — newest event's time and location | constant | ~50 B |
//!
//! Ids are stored as 64-bit FNV-1a hashes, not text: ids are client data of any length,
//! and a hash keeps every entry the same small size. Two distinct ids of one account
//! colliding within 256 arrivals has probability ~2⁻⁴⁹, and would only suppress one
//! transaction.
//!
//! Floats (the Welford mean and M2) are stored as their IEEE bit patterns: JSON decimal
//! text can come back one ULP off, and a re-fold after a conflict or a differently split
//! re-delivery must see exactly the same numbers to reach exactly the same decisions.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use shardwise::KeyedState;

/// Most window entries kept (a burst beyond this only saturates the counts).
pub const MAX_WINDOW_ENTRIES: usize = 512;
/// Transaction ids remembered for de-duplication. The generator re-sends a duplicate
/// 1–120 s after the original; an account would need 256 arrivals in between to slip one
/// through (normal accounts make at most 48 a day).
pub const MAX_SEEN_IDS: usize = 256;
/// Devices remembered per account (an account has one to three).
pub const MAX_DEVICES: usize = 32;

/// 64-bit FNV-1a: tiny, stable across platforms and releases (unlike `DefaultHasher`).
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One transaction in the sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowEntry {
    /// Event time, epoch ms.
    #[serde(rename = "t")]
    pub time_ms: i64,
    /// Amount in minor units.
    #[serde(rename = "a")]
    pub amount_minor: i64,
    /// Whether the amount is in the profile currency (only those are summed).
    #[serde(rename = "p")]
    pub in_profile: bool,
}

/// Running amount statistics (Welford's online algorithm: numerically stable, one pass).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Welford {
    /// Amounts seen.
    #[serde(rename = "n")]
    pub count: u64,
    #[serde(rename = "mean")]
    mean_bits: u64,
    #[serde(rename = "m2")]
    m2_bits: u64,
}

impl Welford {
    /// Adds one amount.
    pub fn add(&mut self, x: f64) {
        let (mut mean, mut m2) = (self.mean(), f64::from_bits(self.m2_bits));
        self.count += 1;
        // u64 → f64 is exact below 2^53 updates.
        let n = self.count as f64;
        let delta = x - mean;
        mean += delta / n;
        m2 += delta * (x - mean);
        self.mean_bits = mean.to_bits();
        self.m2_bits = m2.to_bits();
    }

    /// The mean (0 before the first amount).
    pub fn mean(&self) -> f64 {
        f64::from_bits(self.mean_bits)
    }

    /// The sample variance (0 with fewer than two amounts).
    pub fn variance(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            f64::from_bits(self.m2_bits) / (self.count - 1) as f64
        }
    }

    /// The sample standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }
}

/// The account's amount profile: statistics in one currency (the first one seen, the
/// account's home currency). Amounts in other currencies are not comparable without
/// exchange rates, so they neither update nor trigger the profile rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// ISO 4217 code of the profile (empty before the first transaction).
    #[serde(rename = "ccy")]
    pub currency: String,
    /// Amount statistics.
    #[serde(rename = "amt")]
    pub amounts: Welford,
}

/// Newest event's time and place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSeen {
    /// Event time, epoch ms.
    #[serde(rename = "t")]
    pub time_ms: i64,
    /// Latitude × 10⁶.
    #[serde(rename = "lat")]
    pub lat_micro: i32,
    /// Longitude × 10⁶.
    #[serde(rename = "lon")]
    pub lon_micro: i32,
}

/// A known device and when (event time) it was last used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownDevice {
    /// FNV-1a of the device id.
    #[serde(rename = "h")]
    pub hash: u64,
    /// Last use, epoch ms.
    #[serde(rename = "t")]
    pub last_ms: i64,
}

/// Everything the detector keeps per account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    /// Recent transactions, sorted by event time.
    #[serde(rename = "w", default)]
    pub window: Vec<WindowEntry>,
    /// Hashes of recently seen transaction ids, oldest first.
    #[serde(rename = "s", default)]
    pub seen: VecDeque<u64>,
    /// Known devices.
    #[serde(rename = "d", default)]
    pub devices: Vec<KnownDevice>,
    /// Amount profile.
    #[serde(rename = "p", default)]
    pub profile: Profile,
    /// Newest event seen (by event time).
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub last: Option<LastSeen>,
}

// No TTL on the fields: every collection is bounded by count or by event time, which
// keeps decisions independent of processing time (and so of re-delivery timing).
impl KeyedState for AccountState {}

impl AccountState {
    /// True if the transaction id was seen recently.
    pub fn seen(&self, id_hash: u64) -> bool {
        self.seen.contains(&id_hash)
    }

    /// Remembers a transaction id, forgetting the oldest beyond [`MAX_SEEN_IDS`].
    pub fn remember(&mut self, id_hash: u64) {
        self.seen.push_back(id_hash);
        while self.seen.len() > MAX_SEEN_IDS {
            self.seen.pop_front();
        }
    }

    /// The newest event time seen, if any.
    pub fn newest_ms(&self) -> Option<i64> {
        self.last.map(|l| l.time_ms)
    }

    /// Window entries with event time in `(end − span, end]`.
    pub fn in_window(&self, end_ms: i64, span_ms: i64) -> impl Iterator<Item = &WindowEntry> {
        let start = end_ms.saturating_sub(span_ms);
        self.window
            .iter()
            .filter(move |e| e.time_ms > start && e.time_ms <= end_ms)
    }

    /// Inserts an entry in event-time order, then evicts what fell out of the window
    /// behind the newest event time and anything beyond [`MAX_WINDOW_ENTRIES`] (oldest
    /// first). An entry older than the retained horizon is dropped at once.
    pub fn push_window(&mut self, entry: WindowEntry, window_ms: i64) {
        let at = self.window.partition_point(|e| e.time_ms <= entry.time_ms);
        self.window.insert(at, entry);
        let newest = self
            .newest_ms()
            .map_or(entry.time_ms, |n| n.max(entry.time_ms));
        let horizon = newest.saturating_sub(window_ms);
        self.window.retain(|e| e.time_ms > horizon);
        let excess = self.window.len().saturating_sub(MAX_WINDOW_ENTRIES);
        self.window.drain(..excess);
    }

    /// True if the device is known.
    pub fn knows_device(&self, hash: u64) -> bool {
        self.devices.iter().any(|d| d.hash == hash)
    }

    /// Marks a device as used at `time_ms`, evicting the least recently used beyond
    /// [`MAX_DEVICES`].
    pub fn use_device(&mut self, hash: u64, time_ms: i64) {
        if let Some(d) = self.devices.iter_mut().find(|d| d.hash == hash) {
            d.last_ms = d.last_ms.max(time_ms);
            return;
        }
        self.devices.push(KnownDevice {
            hash,
            last_ms: time_ms,
        });
        if self.devices.len() > MAX_DEVICES
            && let Some(oldest) = self
                .devices
                .iter()
                .enumerate()
                .min_by_key(|(_, d)| (d.last_ms, d.hash))
                .map(|(i, _)| i)
        {
            self.devices.swap_remove(oldest);
        }
    }

    /// Moves "newest event" forward if this event is newer (an older, out-of-order event
    /// never moves it back).
    pub fn observe_position(&mut self, last: LastSeen) {
        if self.last.is_none_or(|l| last.time_ms >= l.time_ms) {
            self.last = Some(last);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_matches_the_two_pass_mean_and_sample_variance() {
        let xs = [1250.0, 980.0, 4410.0, 15.0, 2300.0, 2300.0];
        let mut w = Welford::default();
        xs.iter().for_each(|x| w.add(*x));
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert_eq!(w.count, 6);
        assert!((w.mean() - mean).abs() < 1e-9);
        assert!((w.variance() - var).abs() < 1e-6);
        assert!((w.std_dev() - var.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn welford_of_one_amount_has_zero_variance_and_survives_json_bit_for_bit() {
        let mut w = Welford::default();
        assert_eq!((w.mean(), w.variance()), (0.0, 0.0));
        w.add(0.1);
        assert_eq!((w.mean(), w.variance()), (0.1, 0.0));
        w.add(0.7);
        let back: Welford = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.mean().to_bits(), w.mean().to_bits());
    }

    #[test]
    fn the_window_keeps_event_time_order_and_drops_what_is_older_than_ten_minutes() {
        let mut s = AccountState::default();
        let entry = |t| WindowEntry {
            time_ms: t,
            amount_minor: 100,
            in_profile: true,
        };
        for t in [1_000_000, 1_300_000, 1_100_000] {
            s.push_window(entry(t), 600_000);
            s.observe_position(LastSeen {
                time_ms: t,
                lat_micro: 0,
                lon_micro: 0,
            });
        }
        let times: Vec<i64> = s.window.iter().map(|e| e.time_ms).collect();
        assert_eq!(times, [1_000_000, 1_100_000, 1_300_000]);
        assert_eq!(s.in_window(1_100_000, 600_000).count(), 2);
        // An event ten minutes after the newest evicts everything at or before its start.
        s.push_window(entry(1_700_000), 600_000);
        let times: Vec<i64> = s.window.iter().map(|e| e.time_ms).collect();
        assert_eq!(times, [1_300_000, 1_700_000]);
        // An event older than the horizon is not kept.
        s.push_window(entry(10), 600_000);
        assert_eq!(s.window.len(), 2);
    }

    #[test]
    fn every_collection_stays_within_its_count_bound() {
        let mut s = AccountState::default();
        for i in 0..2_000_i64 {
            s.push_window(
                WindowEntry {
                    time_ms: 5_000_000 + i,
                    amount_minor: 1,
                    in_profile: true,
                },
                600_000,
            );
            s.remember(i as u64);
            s.use_device(i as u64, i);
        }
        assert_eq!(s.window.len(), MAX_WINDOW_ENTRIES);
        assert_eq!(s.window[0].time_ms, 5_000_000 + 2_000 - 512);
        assert_eq!(s.seen.len(), MAX_SEEN_IDS);
        assert!(s.seen(1_999) && !s.seen(0));
        assert_eq!(s.devices.len(), MAX_DEVICES);
        assert!(s.knows_device(1_999) && !s.knows_device(0));
        let bytes = serde_json::to_vec(&s).unwrap().len();
        assert!(bytes < 40_000, "{bytes} bytes");
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV reference (draft-eastlake-fnv).
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
    }
}
