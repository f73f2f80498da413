//! The emulator's clock: real time by default, but it can run faster or be advanced so
//! that a nightly schedule, a 5-minute iterator expiry or a TTL deletion happens in a
//! test or demo in seconds. Every time-dependent behaviour reads this clock, never
//! `SystemTime::now()` directly.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A shareable, controllable clock. Cloning shares the same timeline.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<Mutex<Timeline>>,
}

#[derive(Debug)]
struct Timeline {
    /// Emulated time at `anchor_real`.
    anchor_emulated: SystemTime,
    anchor_real: Instant,
    /// Emulated seconds per real second.
    rate: f64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::real()
    }
}

impl Clock {
    /// A clock that follows wall-clock time.
    pub fn real() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A clock that starts at `start` and then runs at real speed.
    pub fn starting_at(start: SystemTime) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Timeline {
                anchor_emulated: start,
                anchor_real: Instant::now(),
                rate: 1.0,
            })),
        }
    }

    /// Emulated "now".
    pub fn now(&self) -> SystemTime {
        let t = self.lock();
        t.now()
    }

    /// Milliseconds since the Unix epoch of emulated "now".
    pub fn now_millis(&self) -> u128 {
        self.now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    }

    /// Moves emulated time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = self.lock();
        let now = t.now();
        t.anchor_emulated = now + by;
        t.anchor_real = Instant::now();
    }

    /// Jumps to `to` if it is later than now (time never goes backwards).
    pub fn advance_to(&self, to: SystemTime) {
        let mut t = self.lock();
        let now = t.now();
        if to > now {
            t.anchor_emulated = to;
            t.anchor_real = Instant::now();
        }
    }

    /// Sets how many emulated seconds pass per real second (1.0 = real time).
    pub fn set_rate(&self, rate: f64) {
        let mut t = self.lock();
        let now = t.now();
        t.anchor_emulated = now;
        t.anchor_real = Instant::now();
        t.rate = if rate.is_finite() && rate >= 0.0 {
            rate
        } else {
            1.0
        };
    }

    /// Current rate (emulated seconds per real second).
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timeline> {
        // A poisoned clock only means a panic elsewhere; the timeline itself is plain data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Timeline {
    fn now(&self) -> SystemTime {
        let real = self.anchor_real.elapsed();
        self.anchor_emulated + real.mul_f64(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward_by_at_least_the_step() {
        let clock = Clock::starting_at(UNIX_EPOCH + Duration::from_secs(1_000));
        clock.advance(Duration::from_secs(3_600));
        let now = clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        assert!((4_600..4_610).contains(&now), "now = {now}");
    }

    #[test]
    fn time_never_goes_backwards_when_advancing_to_the_past() {
        let clock = Clock::starting_at(UNIX_EPOCH + Duration::from_secs(1_000));
        clock.advance_to(UNIX_EPOCH + Duration::from_secs(10));
        assert!(clock.now() >= UNIX_EPOCH + Duration::from_secs(1_000));
    }

    #[test]
    fn a_faster_rate_makes_emulated_time_outrun_real_time() {
        let clock = Clock::starting_at(UNIX_EPOCH);
        clock.set_rate(1_000.0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now() >= UNIX_EPOCH + Duration::from_secs(10));
    }
}
