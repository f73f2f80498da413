//! Jittered exponential backoff for throttled DynamoDB calls ("full jitter", as in the
//! AWS Architecture Blog's backoff analysis): sleep a uniform random time in
//! `[0, min(cap, base · 2^attempt)]`, so retrying writers spread out instead of
//! colliding again.

use std::time::Duration;

use rand::Rng;

/// First backoff ceiling.
const BASE: Duration = Duration::from_millis(10);
/// Largest backoff ceiling.
const CAP: Duration = Duration::from_secs(1);

/// The ceiling for retry number `attempt` (0-based).
pub fn ceiling(attempt: u32) -> Duration {
    BASE.saturating_mul(1u32 << attempt.min(16)).min(CAP)
}

/// A random sleep for retry number `attempt` (0-based).
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = ceiling(attempt);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap_and_stays_below_its_ceiling() {
        assert_eq!(ceiling(0), BASE);
        assert_eq!(ceiling(3), BASE * 8);
        assert_eq!(ceiling(30), CAP);
        for attempt in 0..10 {
            assert!(backoff(attempt) <= ceiling(attempt));
        }
    }
}
