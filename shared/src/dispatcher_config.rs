//! The dispatcher's configuration and its report (kept apart from the firing logic).

use std::time::Duration;

use crate::config::ProcessingConfig;
use crate::timer_store::TimerLayout;
use crate::watermark::WatermarkPolicy;

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    /// Timer item layout (must equal the writers').
    pub layout: TimerLayout,
    /// Watermark policy (must equal the writers').
    pub watermark: WatermarkPolicy,
    /// Firings in flight at once.
    pub concurrency: usize,
    /// Items per `Query` page.
    pub page_size: usize,
    /// Time between polls when there is no backlog.
    pub poll_interval: Duration,
    /// `run_until` stops this long before its deadline.
    pub safety_margin: Duration,
    /// The cursor stays this many buckets behind the current one.
    pub lookback_buckets: i64,
    /// Without a cursor, start this far back.
    pub initial_lookback: Duration,
    /// Buckets swept per poll while catching up.
    pub max_buckets_per_poll: usize,
    /// Attempts of one firing (conflicts, throttles) before leaving it to the next poll.
    pub max_attempts: u32,
    /// Largest serialized state per key.
    pub max_state_bytes: usize,
    /// This dispatcher's slice of the spread partitions, `(index, count)`: it serves the
    /// partitions `s` with `s mod count = index`, so `count` dispatchers (one scheduled
    /// function each) share an operator's timers. Default `(0, 1)`: all of them.
    pub slice: (u32, u32),
}

impl DispatcherConfig {
    /// Defaults, with the layout and watermark policy of `processing`.
    pub fn from_processing(processing: &ProcessingConfig) -> Self {
        Self {
            layout: processing.timer_layout,
            watermark: processing.watermark,
            concurrency: 256,
            page_size: 500,
            poll_interval: Duration::from_secs(1),
            safety_margin: Duration::from_secs(3),
            lookback_buckets: 1,
            initial_lookback: Duration::from_secs(3600),
            max_buckets_per_poll: 10,
            max_attempts: 8,
            max_state_bytes: processing.max_state_bytes,
            slice: (0, 1),
        }
    }
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self::from_processing(&ProcessingConfig::new("", ""))
    }
}

/// What dispatching did.
#[derive(Debug, Clone, Default)]
pub struct DispatchReport {
    /// Timers whose callback committed.
    pub fired: u64,
    /// Items skipped: already fired by someone else, deleted, or orphans.
    pub skipped: u64,
    /// Firings left for a later poll (throttled, conflicts, operator retry).
    pub deferred: u64,
    /// Timers whose callback failed with a poison error: dead-lettered with the key's state.
    pub dead_lettered: u64,
    /// `Query` calls.
    pub queries: u64,
    /// Polls run.
    pub polls: u64,
    /// Whether a partition still had due items when the poll ended.
    pub backlog: bool,
    /// Per processing-time firing: commit time − due time, ms.
    pub delays_ms: Vec<i64>,
}

impl DispatchReport {
    /// Adds `other`'s counts and delays to this report.
    pub fn absorb(&mut self, other: Self) {
        self.fired += other.fired;
        self.skipped += other.skipped;
        self.deferred += other.deferred;
        self.dead_lettered += other.dead_lettered;
        self.queries += other.queries;
        self.polls += other.polls;
        self.backlog |= other.backlog;
        self.delays_ms.extend(other.delays_ms);
    }
}
