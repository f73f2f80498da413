//! `timer-bench`: timer firings per second of ONE dispatcher with injected DynamoDB
//! latency, and the firing delay after the due time (issue 6, item 9: ≥ 5,000 firings/s
//! and p99 ≤ 2 s with 5 ms latency).
//!
//! Two phases per backend:
//! - `steady`: `--timers` timers due uniformly over `--timers / --rate` seconds of
//!   wall-clock time, fired by `Dispatcher::run_until` (SystemClock): the delay
//!   distribution while keeping up at that rate;
//! - `backlog`: the same number of timers all already due: the dispatcher's ceiling.
//!
//! Backends: `--memory` (default) is the in-memory store with the latency added before
//! every store call; `--emulator` is `DynamoStateStore` against an in-process emulator
//! with its `ddb_latency` fault (every DynamoDB call sleeps that long server-side).
//!
//! `cargo build --release --workspace --bin timer-bench && target/release/timer-bench`

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use clap::Parser;
use serde::{Deserialize, Serialize};
use shardwise::deadletter::DeadLetter;
use shardwise::{
    Clock, CommitResult, Context, DispatchReport, Dispatcher, DispatcherConfig, DynamoStateStore,
    Error, EventTime, JsonCodec, KeyCommit, KeyedState, MemoryStateStore, Operator,
    ProcessingConfig, Processor, RecordMeta, StateStore, StoredState, SystemClock, TimerEntry,
    ValueState,
};
use shardwise_tests::TestEnv;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "timer firings/s of one shardwise dispatcher with DynamoDB latency")]
struct Args {
    /// Timers per phase.
    #[arg(long, default_value_t = 50_000)]
    timers: usize,
    /// Steady phase: timers due per second.
    #[arg(long, default_value_t = 5_000)]
    rate: usize,
    /// Injected latency per DynamoDB call, ms.
    #[arg(long, default_value_t = 5)]
    latency_ms: u64,
    /// Firings in flight.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Spread partitions per bucket.
    #[arg(long, default_value_t = 16)]
    spread: u32,
    /// Run against an in-process emulator instead of the in-memory store.
    #[arg(long)]
    emulator: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ev {
    k: String,
    due: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct St {
    fired: ValueState<u64>,
}

impl KeyedState for St {}

#[derive(Debug)]
struct Bench;

impl Operator for Bench {
    type Event = Ev;
    type State = St;
    type Output = ();

    fn name(&self) -> &str {
        "bench"
    }

    fn key(&self, e: &Ev, _: &RecordMeta) -> Result<String, Error> {
        Ok(e.k.clone())
    }

    fn on_event(&self, _: &str, e: Ev, ctx: &mut Context<'_, St, ()>) -> Result<(), Error> {
        ctx.register_processing_timer(EventTime(e.due));
        Ok(())
    }

    fn on_timer(
        &self,
        _: &str,
        _: shardwise::Timer,
        ctx: &mut Context<'_, St, ()>,
    ) -> Result<(), Error> {
        *ctx.state().fired.get_mut_or_default() += 1;
        Ok(())
    }
}

/// The in-memory store with a fixed latency before every call.
#[derive(Debug, Default)]
struct Latent {
    inner: MemoryStateStore,
    latency: Duration,
}

impl Latent {
    async fn wait(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

impl StateStore for Latent {
    async fn get_many(
        &self,
        keys: &[String],
        c: bool,
    ) -> Result<HashMap<String, StoredState>, Error> {
        self.wait().await;
        self.inner.get_many(keys, c).await
    }
    async fn commit(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        self.wait().await;
        self.inner.commit(commit).await
    }
    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), Error> {
        self.inner.dead_letter(letter).await
    }
    async fn query_timers(
        &self,
        pk: &str,
        before: &str,
        limit: usize,
    ) -> Result<Vec<TimerEntry>, Error> {
        self.wait().await;
        self.inner.query_timers(pk, before, limit).await
    }
    async fn delete_timer_items(&self, entries: &[TimerEntry]) -> Result<(), Error> {
        self.wait().await;
        self.inner.delete_timer_items(entries).await
    }
}

fn batch(first_seq: usize, events: &[Ev]) -> KinesisEvent {
    use base64::Engine as _;
    let records: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let seq = first_seq + i;
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": e.k, "sequenceNumber": seq.to_string(),
                    "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(e).unwrap_or_default()),
                    "approximateArrivalTimestamp": 1.5e9},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records }))
        .unwrap_or_else(|e| panic!("bad batch: {e}"))
}

/// Registers `n` timers (keys `<phase>-<i>`) due at `due(i)` through the commit path.
async fn register<S: StateStore>(
    processor: &Processor<Bench, S, JsonCodec<Ev>>,
    phase: &str,
    n: usize,
    due: impl Fn(usize) -> i64,
) {
    let events: Vec<Ev> = (0..n)
        .map(|i| Ev {
            k: format!("{phase}-{i}"),
            due: due(i),
        })
        .collect();
    for (c, chunk) in events.chunks(1_000).enumerate() {
        let report = processor
            .process(&batch(1 + c * 1_000, chunk))
            .await
            .unwrap_or_else(|e| panic!("register: {e}"));
        assert!(report.first_failure.is_none(), "registration failed");
    }
}

fn percentile(sorted: &[i64], p: usize) -> i64 {
    sorted
        .get((sorted.len() * p / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

fn print(label: &str, report: &DispatchReport, elapsed: Duration) {
    let mut delays = report.delays_ms.clone();
    delays.sort_unstable();
    println!(
        "{label:<40} fired {:>7} in {:>6.2} s = {:>8.0} firings/s  delay p50 {:>5} ms p99 {:>5} ms max {:>5} ms  (polls {}, queries {}, skipped {}, deferred {})",
        report.fired,
        elapsed.as_secs_f64(),
        report.fired as f64 / elapsed.as_secs_f64(),
        percentile(&delays, 50),
        percentile(&delays, 99),
        delays.last().copied().unwrap_or(0),
        report.polls,
        report.queries,
        report.skipped,
        report.deferred,
    );
}

async fn run<S: StateStore>(store: Arc<S>, args: &Args, label: &str) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut config = ProcessingConfig::new("state", "dlq");
    config.commit_concurrency = 256;
    config.timer_layout.spread = args.spread;
    let processor = Processor::new(
        Arc::new(Bench),
        Arc::clone(&store),
        JsonCodec::default(),
        config.clone(),
        Arc::clone(&clock),
    );
    let mut dc = DispatcherConfig::from_processing(&config);
    dc.concurrency = args.concurrency;
    dc.safety_margin = Duration::ZERO;
    dc.initial_lookback = Duration::from_secs(120);
    let dispatcher = Dispatcher::new(Arc::clone(&store), Arc::clone(&clock), dc).register(Bench);

    // Steady: due uniformly over timers/rate seconds, starting 3 s from now.
    let span_ms = (args.timers * 1_000 / args.rate.max(1)) as i64;
    let start = clock.now().0 + 3_000 + 10_000; // registration takes a while with latency
    let n = args.timers as i64;
    let reg = Instant::now();
    register(&processor, "steady", args.timers, |i| {
        start + (i as i64) * span_ms / n
    })
    .await;
    println!(
        "registered {} timers in {:.1} s",
        args.timers,
        reg.elapsed().as_secs_f64()
    );
    let wait_ms = (start - clock.now().0 - 1_000).max(0);
    let end = Instant::now()
        + Duration::from_millis(u64::try_from(wait_ms + span_ms + 3_000).unwrap_or(0));
    let began = Instant::now();
    let report = dispatcher
        .run_until(end)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = began;
    print(
        &format!("{label} steady {} /s", args.rate),
        &report,
        Duration::from_millis(u64::try_from(span_ms).unwrap_or(1).max(1)),
    );

    // Backlog: everything already due; measure the time to drain it.
    let now = clock.now().0;
    register(&processor, "backlog", args.timers, |i| {
        now - 1 - (i as i64 % 1_000)
    })
    .await;
    let began = Instant::now();
    let mut total = DispatchReport::default();
    while total.fired < args.timers as u64 && began.elapsed() < Duration::from_secs(300) {
        let r = dispatcher
            .poll_once()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        total.fired += r.fired;
        total.polls += 1;
        total.queries += r.queries;
        total.skipped += r.skipped;
        total.deferred += r.deferred;
    }
    print(&format!("{label} backlog"), &total, began.elapsed());
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let latency = Duration::from_millis(args.latency_ms);
    if args.emulator {
        let env = TestEnv::start_with(shardwise_emulator::Config {
            ddb_latency: latency,
            ..Default::default()
        })
        .await;
        let tables: Vec<String> = ["tb-state", "tb-out", "tb-dlq", "tb-timers"]
            .iter()
            .map(|p| env.unique_name(p))
            .collect();
        for t in &tables {
            env.create_keyed_table(t)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
        }
        let store = DynamoStateStore::new(env.dynamodb(), &tables[0], Some(&tables[1]), &tables[2])
            .with_timers_table(Some(&tables[3]));
        run(
            Arc::new(store),
            &args,
            &format!("emulator {} ms", args.latency_ms),
        )
        .await;
    } else {
        let store = Latent {
            inner: MemoryStateStore::default(),
            latency,
        };
        run(
            Arc::new(store),
            &args,
            &format!("memory {} ms", args.latency_ms),
        )
        .await;
    }
}
