//! Seeded, reproducible fault injection for one function.
//!
//! Each function draws from its own `SmallRng` seeded with the emulator seed mixed
//! with the function name, so adding a function does not change the faults another one
//! sees, and the same seed replays the same decisions for the same sequence of
//! invocations. Every injected fault increments a counter that `/_shardwise/metrics`
//! reports, so a test can prove a fault actually happened rather than assume it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Fault probabilities (each 0.0–1.0) and sizes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSettings {
    /// Probability that an invocation's process is killed at a random moment while the
    /// invocation runs (the invocation becomes a function error; the environment is
    /// replaced on the next invocation, a cold start).
    pub kill_probability: f64,
    /// Probability that an event source mapping delivers a batch twice (the second
    /// delivery's outcome is the one that counts).
    pub duplicate_probability: f64,
    /// Probability that an invocation is held back before it reaches the function.
    pub delay_probability: f64,
    /// How long a delayed invocation is held back.
    pub delay: Duration,
}

impl FaultSettings {
    /// True when no fault can ever be injected.
    pub fn is_off(&self) -> bool {
        self.kill_probability <= 0.0
            && self.duplicate_probability <= 0.0
            && self.delay_probability <= 0.0
    }
}

/// A function's fault source and counters.
#[derive(Debug)]
pub struct FaultInjector {
    settings: FaultSettings,
    rng: Mutex<SmallRng>,
    kills: AtomicU64,
    duplicates: AtomicU64,
    delays: AtomicU64,
}

impl FaultInjector {
    /// An injector for `function` seeded from `seed`.
    pub fn new(settings: FaultSettings, seed: u64, function: &str) -> Self {
        // FNV-1a of the name: stable across runs and platforms (unlike `DefaultHasher`).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in function.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Self {
            settings,
            rng: Mutex::new(SmallRng::seed_from_u64(seed ^ h)),
            kills: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            delays: AtomicU64::new(0),
        }
    }

    fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.random_bool(p.min(1.0))
    }

    /// If this invocation's process should be killed, after how long (a random
    /// fraction of the timeout, capped at 2 s so it lands while a fast handler runs).
    pub fn kill_after(&self, timeout: Duration) -> Option<Duration> {
        if !self.roll(self.settings.kill_probability) {
            return None;
        }
        let cap = timeout.min(Duration::from_secs(2));
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let fraction: f64 = rng.random_range(0.0..1.0);
        Some(cap.mul_f64(fraction))
    }

    /// Counts a kill that was actually carried out.
    pub fn count_kill(&self) {
        self.kills.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether to delay this invocation, and by how much (counted when true).
    pub fn delay(&self) -> Option<Duration> {
        if self.roll(self.settings.delay_probability) {
            self.delays.fetch_add(1, Ordering::Relaxed);
            Some(self.settings.delay)
        } else {
            None
        }
    }

    /// Whether to deliver this batch twice (counted when true).
    pub fn duplicate(&self) -> bool {
        let yes = self.roll(self.settings.duplicate_probability);
        if yes {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        yes
    }

    /// `{"kills": n, "duplicates": n, "delays": n}`.
    pub fn metrics_json(&self) -> Value {
        json!({
            "kills": self.kills.load(Ordering::Relaxed),
            "duplicates": self.duplicates.load(Ordering::Relaxed),
            "delays": self.delays.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> FaultSettings {
        FaultSettings {
            kill_probability: 0.5,
            duplicate_probability: 0.5,
            delay_probability: 0.5,
            delay: Duration::from_millis(5),
        }
    }

    #[test]
    fn the_same_seed_replays_the_same_decisions() {
        let a = FaultInjector::new(settings(), 7, "f");
        let b = FaultInjector::new(settings(), 7, "f");
        let da: Vec<bool> = (0..64).map(|_| a.duplicate()).collect();
        let db: Vec<bool> = (0..64).map(|_| b.duplicate()).collect();
        assert_eq!(da, db);
        assert!(da.iter().any(|d| *d) && da.iter().any(|d| !*d));
    }

    #[test]
    fn injected_faults_are_counted() {
        let f = FaultInjector::new(settings(), 1, "f");
        let n = (0..100).filter(|_| f.duplicate()).count() as u64;
        assert_eq!(f.metrics_json()["duplicates"], n);
    }

    #[test]
    fn no_probability_means_no_fault() {
        let f = FaultInjector::new(FaultSettings::default(), 1, "f");
        assert!((0..100).all(|_| f.kill_after(Duration::from_secs(1)).is_none()));
        assert!((0..100).all(|_| f.delay().is_none()));
    }
}
