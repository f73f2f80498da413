//! `framework-bench`: records/s through shardwise's exactly-once commit path, DynamoDB
//! requests and WCU per 1,000 events, and — in the same run — a baseline doing what
//! Powertools' idempotency does per record (conditional put INPROGRESS, the state
//! update, update COMPLETED). Issue 5's targets: ≤ 0.35× the baseline's write requests
//! per event, and 10,000 records/s of ~200 B with 5 ms DynamoDB latency over 100,000
//! accounts.
//!
//! By default it starts an in-process emulator per latency setting (the emulator's
//! `ddb_latency` knob). `--endpoint URL` targets another DynamoDB (e.g. moto); there the
//! latency is added client-side, before every call.
//!
//! `--memory` runs the commit path over the in-memory store with the latency added
//! client-side: the framework's own ceiling, whatever the backend.
//!
//! `cargo build --release --workspace --bins && target/release/framework-bench`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use clap::Parser;
use futures::StreamExt;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use shardwise::deadletter::DeadLetter;
use shardwise::{
    CommitResult, Context, DynamoStateStore, Error, JsonCodec, KeyCommit, KeyedState, Operator,
    ProcessingConfig, Processor, RecordMeta, StateStore, StoredState, SystemClock, ValueState,
};
use shardwise_tests::TestEnv;

/// The in-process emulator and the SDK allocate per attribute; see the emulator binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "shardwise commit path vs a Powertools-idempotency baseline")]
struct Args {
    /// External DynamoDB endpoint (default: an in-process emulator).
    #[arg(long)]
    endpoint: Option<String>,
    /// Events through the framework per latency setting.
    #[arg(long, default_value_t = 50_000)]
    records: usize,
    /// Events through the baseline per latency setting (it is ~3 writes per event).
    #[arg(long, default_value_t = 5_000)]
    baseline_records: usize,
    /// Distinct accounts (keys), uniformly spread.
    #[arg(long, default_value_t = 100_000)]
    accounts: u64,
    /// Lambda batch size.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Key commits (and baseline records) in flight.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Use the in-memory store (same commit semantics, latency added client-side) instead
    /// of DynamoDB: isolates the framework's own cost and concurrency from the backend.
    #[arg(long)]
    memory: bool,
    /// Group the key commits into TransactWriteItems of up to this many actions
    /// (`SHARDWISE_COMMIT_GROUP` with `SHARDWISE_COMMIT_GROUP_SCOPE=all`: this operator's
    /// commits are single writes; 0: each key commits alone). Writes/1k then counts
    /// DynamoDB requests, and WCU/1k doubles (transactions bill 2×).
    #[arg(long, default_value_t = 0)]
    group: usize,
    /// Injected DynamoDB latencies to measure, ms.
    #[arg(long, value_delimiter = ',', default_value = "0,5")]
    latency_ms: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Txn {
    account: String,
    amount: i64,
    memo: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Totals {
    count: ValueState<u64>,
    sum: ValueState<i64>,
}

impl KeyedState for Totals {}

#[derive(Debug)]
struct TotalsOp;

impl Operator for TotalsOp {
    type Event = Txn;
    type State = Totals;
    type Output = ();
    fn name(&self) -> &str {
        "bench"
    }
    fn key(&self, e: &Txn, _: &RecordMeta) -> Result<String, Error> {
        Ok(e.account.clone())
    }
    fn on_event(&self, _: &str, e: Txn, ctx: &mut Context<'_, Totals, ()>) -> Result<(), Error> {
        *ctx.state().count.get_mut_or_default() += 1;
        *ctx.state().sum.get_mut_or_default() += e.amount;
        Ok(())
    }
}

/// Counts requests and estimated WCU (AWS formula: ⌈item bytes / 1 KB⌉, ×2 in a
/// transaction) and adds client-side latency when asked.
#[derive(Debug)]
struct Metered<S> {
    inner: S,
    latency: Duration,
    reads: AtomicU64,
    writes: AtomicU64,
    wcu: AtomicU64,
    /// Every commit goes out in a transaction (grouped), billed at 2×.
    transactional: bool,
}

impl<S: StateStore> StateStore for Metered<S> {
    async fn get_many(
        &self,
        keys: &[String],
        consistent: bool,
    ) -> Result<std::collections::HashMap<String, StoredState>, Error> {
        self.reads
            .fetch_add(keys.len().div_ceil(100) as u64, Ordering::Relaxed);
        tokio::time::sleep(self.latency).await;
        self.inner.get_many(keys, consistent).await
    }
    async fn commit(&self, c: &KeyCommit) -> Result<CommitResult, Error> {
        let hwm: usize = c.state.high_water.keys().map(|s| s.0.len() + 129 + 3).sum();
        let bytes = 2 + c.item_key.len() + 5 + c.state.body.len() + 7 + 4 + 3 + hwm + 10 + 8;
        let factor = if self.transactional || !c.outputs.is_empty() {
            2
        } else {
            1
        };
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.wcu
            .fetch_add((bytes.div_ceil(1024) * factor) as u64, Ordering::Relaxed);
        tokio::time::sleep(self.latency).await;
        self.inner.commit(c).await
    }
    async fn dead_letter(&self, l: &DeadLetter) -> Result<(), Error> {
        self.inner.dead_letter(l).await
    }
}

async fn create_table(env: &TestEnv, name: &str) -> anyhow::Result<()> {
    Ok(env.create_keyed_table(name).await?)
}

/// The Powertools-style baseline's idempotency and state tables, keyed by `pk` only.
async fn create_pk_table(env: &TestEnv, name: &str) -> anyhow::Result<()> {
    env.dynamodb()
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await?;
    Ok(())
}

fn events(rng: &mut SmallRng, n: usize, accounts: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let txn = Txn {
                account: format!("acct-{:06}", rng.random_range(0..accounts)),
                amount: rng.random_range(1..500),
                memo: "x".repeat(140), // ~200 B records
            };
            serde_json::to_vec(&txn).unwrap_or_default()
        })
        .collect()
}

fn kinesis_event(
    batch: &[Vec<u8>],
    first_seq: usize,
) -> aws_lambda_events::event::kinesis::KinesisEvent {
    use base64::Engine as _;
    let records: Vec<_> = batch
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let seq = format!("49590338271490256608559692538361571095921575989{:09}", first_seq + i);
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p", "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1_767_225_600.0},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"), "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap_or_default()
}

struct Figures {
    per_sec: f64,
    reads_per_k: f64,
    writes_per_k: f64,
    wcu_per_k: f64,
}

async fn run_framework(
    env: &TestEnv,
    args: &Args,
    latency: Duration,
    data: &[Vec<u8>],
) -> anyhow::Result<Figures> {
    let (state, dlq) = (env.unique_name("bench-state"), env.unique_name("bench-dlq"));
    if args.memory {
        return run_commit_path(
            args,
            latency,
            data,
            shardwise::MemoryStateStore::default(),
            &state,
            &dlq,
        )
        .await;
    }
    create_table(env, &state).await?;
    create_table(env, &dlq).await?;
    let store =
        DynamoStateStore::new(env.dynamodb(), &state, None, &dlq).with_commit_grouping(args.group);
    let stats = store.stats();
    let mut figures = run_commit_path(args, latency, data, store, &state, &dlq).await?;
    if args.group > 1 {
        // The grouped commits' real requests, not the per-key commit calls.
        let requests = stats.writes.load(Ordering::Relaxed)
            + stats.transactions.load(Ordering::Relaxed)
            + stats.grouped_transactions.load(Ordering::Relaxed);
        figures.writes_per_k = requests as f64 / (data.len() as f64 / 1000.0);
    }
    Ok(figures)
}

async fn run_commit_path<S: StateStore>(
    args: &Args,
    latency: Duration,
    data: &[Vec<u8>],
    inner: S,
    state: &str,
    dlq: &str,
) -> anyhow::Result<Figures> {
    let store = Arc::new(Metered {
        inner,
        latency,
        reads: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        wcu: AtomicU64::new(0),
        transactional: args.group > 1 && !args.memory,
    });
    let mut config = ProcessingConfig::new(state, dlq);
    config.commit_concurrency = args.concurrency;
    let processor = Processor::new(
        Arc::new(TotalsOp),
        Arc::clone(&store),
        JsonCodec::default(),
        config,
        Arc::new(SystemClock),
    );
    // Lambda hands the function a deserialized event: build them outside the clock.
    let events: Vec<_> = data
        .chunks(args.batch)
        .enumerate()
        .map(|(i, b)| kinesis_event(b, i * args.batch))
        .collect();
    let started = Instant::now();
    for (i, event) in events.iter().enumerate() {
        let report = processor.process(event).await?;
        anyhow::ensure!(
            report.first_failure.is_none(),
            "batch {i} reported a failure"
        );
    }
    let secs = started.elapsed().as_secs_f64();
    let k = data.len() as f64 / 1000.0;
    Ok(Figures {
        per_sec: data.len() as f64 / secs,
        reads_per_k: store.reads.load(Ordering::Relaxed) as f64 / k,
        writes_per_k: store.writes.load(Ordering::Relaxed) as f64 / k,
        wcu_per_k: store.wcu.load(Ordering::Relaxed) as f64 / k,
    })
}

/// Powertools-style: per record, conditional put INPROGRESS, state update, update COMPLETED.
async fn run_baseline(
    env: &TestEnv,
    args: &Args,
    latency: Duration,
    data: &[Vec<u8>],
) -> anyhow::Result<Figures> {
    let (idem, state) = (
        env.unique_name("bench-idem"),
        env.unique_name("bench-pstate"),
    );
    create_pk_table(env, &idem).await?;
    create_pk_table(env, &state).await?;
    let ddb = env.dynamodb();
    let writes = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(data.iter().enumerate())
        .map(|(i, bytes)| {
            let (ddb, idem, state, writes) = (
                ddb.clone(),
                idem.clone(),
                state.clone(),
                Arc::clone(&writes),
            );
            async move {
                let txn: Txn = serde_json::from_slice(bytes)?;
                let id = format!("bench.handler#{i:016x}");
                tokio::time::sleep(latency).await;
                ddb.put_item()
                    .table_name(&idem)
                    .item("pk", AttributeValue::S(id.clone()))
                    .item("status", AttributeValue::S("INPROGRESS".into()))
                    .item("expiration", AttributeValue::N("1767229200".into()))
                    .item(
                        "in_progress_expiration",
                        AttributeValue::N("1767225660000".into()),
                    )
                    .condition_expression("attribute_not_exists(pk) OR expiration < :now")
                    .expression_attribute_values(":now", AttributeValue::N("1767225600".into()))
                    .send()
                    .await?;
                tokio::time::sleep(latency).await;
                ddb.update_item()
                    .table_name(&state)
                    .key("pk", AttributeValue::S(txn.account))
                    .update_expression("ADD #c :one, #s :amt")
                    .expression_attribute_names("#c", "count")
                    .expression_attribute_names("#s", "sum")
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .expression_attribute_values(":amt", AttributeValue::N(txn.amount.to_string()))
                    .send()
                    .await?;
                tokio::time::sleep(latency).await;
                ddb.update_item()
                    .table_name(&idem)
                    .key("pk", AttributeValue::S(id))
                    .update_expression("SET #st = :done, #d = :data")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_names("#d", "data")
                    .expression_attribute_values(":done", AttributeValue::S("COMPLETED".into()))
                    .expression_attribute_values(":data", AttributeValue::S("null".into()))
                    .send()
                    .await?;
                // Three writes, each item well under 1 KB: one WCU apiece.
                writes.fetch_add(3, Ordering::Relaxed);
                Ok(())
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let secs = started.elapsed().as_secs_f64();
    let k = data.len() as f64 / 1000.0;
    let writes_per_k = writes.load(Ordering::Relaxed) as f64 / k;
    Ok(Figures {
        per_sec: data.len() as f64 / secs,
        reads_per_k: 0.0,
        writes_per_k,
        wcu_per_k: writes_per_k,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rng = SmallRng::seed_from_u64(5);
    let data = events(&mut rng, args.records, args.accounts);
    println!(
        "{} events over {} accounts, batch {}, concurrency {}, commit group {}",
        args.records, args.accounts, args.batch, args.concurrency, args.group
    );
    println!(
        "{:<28} {:>8} {:>12} {:>12} {:>12} {:>12}",
        "run", "lat ms", "events/s", "reads/1k", "writes/1k", "WCU/1k"
    );
    for &ms in &args.latency_ms {
        let latency = Duration::from_millis(ms);
        let (env, client_latency) = match &args.endpoint {
            _ if args.memory => (
                TestEnv::external("http://127.0.0.1:9", shardwise_tests::Target::Other).await,
                latency,
            ),
            Some(url) => (
                TestEnv::external(url, shardwise_tests::Target::Other).await,
                latency,
            ),
            None => {
                let config = shardwise_emulator::Config {
                    ddb_latency: latency,
                    ..Default::default()
                };
                (TestEnv::start_emulator(config).await, Duration::ZERO)
            }
        };
        let f = run_framework(&env, &args, client_latency, &data).await?;
        println!(
            "{:<28} {:>8} {:>12.0} {:>12.1} {:>12.1} {:>12.1}",
            "shardwise exactly_once", ms, f.per_sec, f.reads_per_k, f.writes_per_k, f.wcu_per_k
        );
        if args.memory {
            continue; // the baseline needs DynamoDB
        }
        let base = run_baseline(
            &env,
            &args,
            client_latency,
            &data[..args.baseline_records.min(data.len())],
        )
        .await?;
        println!(
            "{:<28} {:>8} {:>12.0} {:>12.1} {:>12.1} {:>12.1}",
            "powertools-style baseline",
            ms,
            base.per_sec,
            base.reads_per_k,
            base.writes_per_k,
            base.wcu_per_k
        );
        println!(
            "write requests per event vs baseline: {:.3}×",
            f.writes_per_k / base.writes_per_k
        );
    }
    Ok(())
}
