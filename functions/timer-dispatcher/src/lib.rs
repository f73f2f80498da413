//! The timer dispatcher function: every scheduled event (EventBridge `rate(1 minute)`)
//! runs [`shardwise::Dispatcher::run_until`] until shortly before the next scheduled run
//! (or the invocation's deadline minus the safety margin, whichever is first), polling
//! about every second, so timers fire within ~1 s of due. Overlapping invocations (a
//! late schedule, EventBridge's at-least-once delivery, Lambda's async retries) are
//! harmless: every firing is exactly-once by itself (see `shardwise::dispatcher`).
//!
//! ## Registered operators
//! [`timers`] registers every operator whose timers this function fires, configured
//! from the same environment as its stream function: `session-tracker` (heartbeats and
//! session closing) and `daily-totals` (window closing). Adding one is a one-line change
//! there plus its crate in `Cargo.toml`.
//!
//! ## Two state backends
//! daily-totals keeps its state and timers in DynamoDB (its keys are merchants, products
//! and days, not partition keys): a [`Dispatcher`] over the timers table fires them.
//! session-tracker follows `SHARDWISE_STATE_BACKEND` like its stream function. On
//! `shard_log` its timers live with each shard's state: a busy shard fires them at the
//! start of its own batches, and this function covers the idle ones
//! ([`shardwise::shard_log::fire_idle_shards_until`]: restore the shard, fire, commit one
//! log object and checkpoint), concurrently with the table's dispatcher.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde::Serialize;
use shardwise::shard_log::{ShardLogBackend, ShardLogStore, fire_idle_shards_until};
use shardwise::{
    Clock, DispatchReport, Dispatcher, DispatcherConfig, Error, ProcessingConfig, StateStore,
};

/// The schedule's period: an invocation stops before the next one starts.
pub const SCHEDULE_PERIOD: Duration = Duration::from_secs(60);

/// Env var: this function's slice of the spread partitions, `<index>/<count>` (default
/// `0/1`): deploy `count` copies with indexes `0..count` to share a big fleet's timers.
pub const ENV_DISPATCHER_SLICE: &str = "TIMER_DISPATCHER_SLICE";

/// Env var: firings in flight (default 256: 5,000 firings/s at 5 ms per call need ~50).
pub const ENV_DISPATCHER_CONCURRENCY: &str = "TIMER_DISPATCHER_CONCURRENCY";

/// Parses a slice `<index>/<count>`.
pub fn parse_slice(text: Option<&str>) -> Result<(u32, u32), Error> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok((0, 1));
    };
    let bad = || {
        Error::Config(format!(
            "{ENV_DISPATCHER_SLICE} must be <index>/<count>, not {text:?}"
        ))
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// What one invocation fires: the timers table's operators, and session-tracker's idle
/// shards when it is on the shard-log backend.
pub struct Timers<S: StateStore, B: ShardLogBackend> {
    table: Dispatcher<S>,
    shard_log: Option<ShardLogTimers<S, B>>,
}

/// session-tracker on the shard-log backend: its store and a dispatcher over it.
struct ShardLogTimers<S: StateStore, B: ShardLogBackend> {
    store: Arc<ShardLogStore<S, B>>,
    dispatcher: Dispatcher<ShardLogStore<S, B>>,
}

impl<S: StateStore, B: ShardLogBackend> std::fmt::Debug for Timers<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("table", &self.table)
            .field("shard_log", &self.shard_log_operators())
            .finish()
    }
}

impl<S: StateStore, B: ShardLogBackend> Timers<S, B> {
    /// The operators fired through the timers table.
    pub fn table_operators(&self) -> Vec<&str> {
        self.table.operator_names()
    }

    /// The operators fired through the shard log.
    pub fn shard_log_operators(&self) -> Vec<&str> {
        self.shard_log
            .as_ref()
            .map(|s| s.dispatcher.operator_names())
            .unwrap_or_default()
    }

    /// Fires until `deadline` (less the dispatchers' safety margin): both paths at once.
    pub async fn run_until(&self, deadline: Instant) -> Result<DispatchReport, Error> {
        let shard_log = async {
            match &self.shard_log {
                Some(s) => fire_idle_shards_until(&s.store, &s.dispatcher, deadline).await,
                None => Ok(DispatchReport::default()),
            }
        };
        let (table, shard_log) = tokio::join!(self.table.run_until(deadline), shard_log);
        let mut report = table?;
        report.absorb(shard_log?);
        Ok(report)
    }
}

/// Every operator this function serves, each configured through `lookup` (env var name →
/// value) like its stream function; the table dispatcher's slice of the partitions comes
/// from [`ENV_DISPATCHER_SLICE`]. With `shard_log` (session-tracker's backend is
/// `shard_log`), session-tracker's timers are fired through it instead of the table.
pub fn timers<S: StateStore, B: ShardLogBackend>(
    store: Arc<S>,
    shard_log: Option<Arc<B>>,
    clock: Arc<dyn Clock>,
    config: &ProcessingConfig,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Timers<S, B>, Error> {
    let mut dc = DispatcherConfig::from_processing(config);
    dc.slice = parse_slice(lookup(ENV_DISPATCHER_SLICE).as_deref())?;
    if let Some(text) = lookup(ENV_DISPATCHER_CONCURRENCY).filter(|t| !t.is_empty()) {
        dc.concurrency = text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                Error::Config(format!(
                    "{ENV_DISPATCHER_CONCURRENCY} must be ≥ 1, not {text:?}"
                ))
            })?;
    }
    let tracker = session_tracker::SessionTracker::from_lookup(&lookup)?;
    let table = Dispatcher::new(Arc::clone(&store), Arc::clone(&clock), dc.clone())
        .register(daily_totals::DailyTotals::from_lookup(&lookup)?);
    let Some(backend) = shard_log else {
        return Ok(Timers {
            table: table.register(tracker),
            shard_log: None,
        });
    };
    let log_store = Arc::new(ShardLogStore::new(
        store,
        backend,
        session_tracker::OPERATOR,
        config.timer_layout,
        Arc::clone(&clock),
    ));
    // Every shard's timers, whatever the table dispatcher's slice: the shards are few and
    // a shard's firing is exactly-once by its checkpoint condition.
    let mut shard_dc = dc;
    shard_dc.slice = (0, 1);
    let dispatcher = Dispatcher::new(Arc::clone(&log_store), clock, shard_dc).register(tracker);
    Ok(Timers {
        table,
        shard_log: Some(ShardLogTimers {
            store: log_store,
            dispatcher,
        }),
    })
}

/// What an invocation returns (and logs).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Timers fired.
    pub fired: u64,
    /// Items skipped (already fired elsewhere, orphans).
    pub skipped: u64,
    /// Firings left for a later poll.
    pub deferred: u64,
    /// Polls run.
    pub polls: u64,
    /// p99 firing delay after due, ms (processing-time timers).
    pub p99_delay_ms: i64,
}

impl Summary {
    /// Summarizes a run.
    pub fn of(report: &DispatchReport) -> Self {
        let mut delays = report.delays_ms.clone();
        delays.sort_unstable();
        let p99 = delays
            .get((delays.len() * 99 / 100).min(delays.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0);
        Self {
            fired: report.fired,
            skipped: report.skipped,
            deferred: report.deferred,
            polls: report.polls,
            p99_delay_ms: p99,
        }
    }
}

/// When an invocation scheduled at `scheduled_ms` with deadline `deadline_ms` (both epoch
/// ms) should stop polling, as a duration from `now_ms`: before the next scheduled run,
/// and never past the deadline (the dispatcher subtracts its safety margin from it).
pub fn run_for(scheduled_ms: i64, deadline_ms: i64, now_ms: i64) -> Duration {
    let period = i64::try_from(SCHEDULE_PERIOD.as_millis()).unwrap_or(60_000);
    let stop = deadline_ms.min(scheduled_ms.saturating_add(period));
    Duration::from_millis(u64::try_from(stop.saturating_sub(now_ms)).unwrap_or(0))
}

/// However late an invocation starts (a delivery that queued behind the previous run, or
/// an event stamped by a clock skewed from ours), it fires what is due for at least this
/// long, bounded by the invocation's deadline: otherwise due timers would wait a whole
/// minute for the next schedule. Overlapping an on-time run is harmless: firings are
/// exactly-once by themselves.
pub const MINIMUM_RUN: Duration = Duration::from_secs(10);

/// [`MINIMUM_RUN`], cut to what the invocation's deadline leaves.
pub fn minimum_run(deadline_ms: i64, now_ms: i64) -> Duration {
    let left = u64::try_from(deadline_ms.saturating_sub(now_ms)).unwrap_or(0);
    MINIMUM_RUN.min(Duration::from_millis(left))
}

/// Handles one scheduled event.
pub async fn handle<S: StateStore, B: ShardLogBackend>(
    timers: &Timers<S, B>,
    clock: &dyn Clock,
    event: &CloudWatchEvent,
    deadline_ms: i64,
) -> Result<Summary, Error> {
    let now = clock.now().0;
    let remaining =
        run_for(event.time.timestamp_millis(), deadline_ms, now).max(minimum_run(deadline_ms, now));
    let report = timers.run_until(Instant::now() + remaining).await?;
    let summary = Summary::of(&report);
    tracing::info!(
        operators = ?timers.table_operators(),
        shard_log_operators = ?timers.shard_log_operators(),
        fired = summary.fired,
        skipped = summary.skipped,
        deferred = summary.deferred,
        polls = summary.polls,
        p99_delay_ms = summary.p99_delay_ms,
        "dispatcher run done"
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardwise::shard_log::MemoryShardLog;

    #[test]
    fn slices_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_slice(None).unwrap(), (0, 1));
        assert_eq!(parse_slice(Some("2/4")).unwrap(), (2, 4));
        assert!(parse_slice(Some("4/4")).is_err());
        assert!(parse_slice(Some("x")).is_err());
    }

    #[test]
    fn a_run_stops_before_the_next_scheduled_run_or_at_the_deadline() {
        // Scheduled at 0, started 2 s late, 70 s timeout: stop at the next run (60 s).
        assert_eq!(run_for(0, 72_000, 2_000), Duration::from_secs(58));
        // A short deadline wins.
        assert_eq!(run_for(0, 10_000, 2_000), Duration::from_secs(8));
        // A late start still fires what is due for the minimum run, within the deadline.
        assert_eq!(minimum_run(200_000, 70_000), MINIMUM_RUN);
        assert_eq!(minimum_run(72_000, 70_000), Duration::from_secs(2));
        assert_eq!(minimum_run(60_000, 70_000), Duration::ZERO);
        // A very late start (a retried delivery) runs briefly or not at all.
        assert_eq!(run_for(0, 200_000, 70_000), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_scheduled_event_fires_the_due_timers_of_registered_operators() {
        use shardwise::{EventTime, ManualClock, MemoryStateStore};
        let store = Arc::new(MemoryStateStore::default());
        let clock = ManualClock::new(EventTime(1_700_000_000_000));
        let config = ProcessingConfig::new("state", "dlq");
        let d = timers::<_, MemoryShardLog>(
            Arc::clone(&store),
            None,
            Arc::new(clock.clone()),
            &config,
            |_| None,
        )
        .unwrap();
        assert_eq!(d.table_operators(), ["daily-totals", "session-tracker"]);
        // Deadline 4 s after the scheduled time: about one second of polling.
        let summary = handle(&d, &clock, &scheduled(), 1_700_000_004_000)
            .await
            .unwrap();
        assert!(summary.polls >= 1);
        assert_eq!(summary.fired, 0, "no timers registered, nothing to fire");
    }

    #[tokio::test]
    async fn on_the_shard_log_an_idle_shards_heartbeat_fires_from_the_schedule() {
        use monitoring::codec::TransactionCodec;
        use monitoring::generator::{GeneratorConfig, generate};
        use shardwise::shard_log::ShardLogStore;
        use shardwise::{EventTime, ManualClock, MemoryStateStore, Processor};

        let inner = Arc::new(MemoryStateStore::default());
        let log = Arc::new(MemoryShardLog::default());
        let clock = ManualClock::new(EventTime(1_700_000_000_000));
        let config = ProcessingConfig::new("state", "dlq");
        // The stream function: one transaction opens a session and arms its heartbeat.
        let store = Arc::new(ShardLogStore::new(
            Arc::clone(&inner),
            Arc::clone(&log),
            session_tracker::OPERATOR,
            config.timer_layout,
            Arc::new(clock.clone()),
        ));
        let processor = Processor::new(
            Arc::new(session_tracker::SessionTracker::new(120_000)),
            store,
            TransactionCodec::default(),
            config.clone(),
            Arc::new(clock.clone()),
        )
        .with_in_process_timers(DispatcherConfig::from_processing(&config));
        let generated = generate(&GeneratorConfig {
            transactions: 1,
            ..GeneratorConfig::default()
        })
        .unwrap();
        let record = generated.records().next().unwrap();
        processor
            .process(&kinesis_event(&record.partition_key, &record.data))
            .await
            .unwrap();
        let heartbeats = || {
            inner
                .snapshot()
                .outputs
                .keys()
                .filter(|k| k.starts_with(session_tracker::HEARTBEAT_PK))
                .count()
        };
        assert_eq!(heartbeats(), 0);

        // No batch reaches the shard again; the heartbeat is due 30 s later.
        clock.advance(session_tracker::HEARTBEAT_MS + 1_000);
        let d = timers(
            Arc::clone(&inner),
            Some(Arc::clone(&log)),
            Arc::new(clock.clone()),
            &config,
            |_| None,
        )
        .unwrap();
        assert_eq!(d.table_operators(), ["daily-totals"]);
        assert_eq!(d.shard_log_operators(), ["session-tracker"]);
        // About two seconds of polling after the safety margin.
        let deadline = clock.now().0 + 5_000;
        let summary = handle(&d, &clock, &scheduled(), deadline).await.unwrap();
        assert_eq!(summary.fired, 1, "{summary:?}");
        assert_eq!(heartbeats(), 1, "the open session's running figures");
        assert_eq!(log.checkpoint_writes(), 2, "the batch's and the firing's");
    }

    fn scheduled() -> CloudWatchEvent {
        serde_json::from_value(serde_json::json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2023-11-14T22:13:20Z", "region": "us-east-1",
            "resources": [], "detail": {}
        }))
        .unwrap()
    }

    /// A one-record batch of shard 0.
    fn kinesis_event(
        partition_key: &str,
        data: &[u8],
    ) -> aws_lambda_events::event::kinesis::KinesisEvent {
        use base64::Engine as _;
        serde_json::from_value(serde_json::json!({"Records": [{
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": partition_key,
                "sequenceNumber": "1", "approximateArrivalTimestamp": 1.7e9,
                "data": base64::engine::general_purpose::STANDARD.encode(data)},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": "shardId-000000000000:1", "eventName": "aws:kinesis:record",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/transactions"
        }]}))
        .unwrap()
    }
}
