//! Drives a generated day through `shardwise::Processor` over `MemoryStateStore`, the
//! way Lambda would: records spread over shards by partition key, each shard delivered
//! in order in batches, with optional random batch sizes and re-deliveries (the same
//! batch again, or a retry that starts earlier and overlaps what was committed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine as _;
use fraud_detector::{Alert, FraudConfig, FraudDetector};
use monitoring::codec::TransactionCodec;
use monitoring::generator::{Generated, RecordKind};
use monitoring::validate::Validator;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shardwise::memory_store::MemoryTables;
use shardwise::{EventTime, ManualClock, MemoryStateStore, ProcessingConfig, Processor};

/// 2026-11-21T00:00:00Z, the generator's default day.
pub const DAY_START_MS: i64 = 1_795_219_200_000;
/// Processing time late enough for every record (late ones arrive hours after the day).
pub const NOW_MS: i64 = DAY_START_MS + 36 * 3_600_000;
const SHARDS: u64 = 4;
const MAX_BATCH: usize = 500;

/// How records are delivered.
#[derive(Debug, Clone, Copy)]
pub enum Delivery {
    /// Every shard in batches of 500, once each, shard after shard.
    Clean,
    /// Random batch sizes, shards interleaved, and re-deliveries, from this seed.
    Chaotic(u64),
}

/// One record on a simulated shard.
#[derive(Debug, Clone)]
pub struct ShardRecord {
    pub partition_key: String,
    pub data: Vec<u8>,
    pub sequence: u64,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Run {
    pub tables: MemoryTables,
    pub alerts: Vec<Alert>,
    pub records_delivered: u64,
    pub elapsed: Duration,
}

/// Spreads records over shards by a hash of the partition key (as Kinesis does with
/// MD5), numbering each shard's records in arrival order.
pub fn shard_records(g: &Generated, keep: impl Fn(RecordKind) -> bool) -> Vec<Vec<ShardRecord>> {
    let mut shards: Vec<Vec<ShardRecord>> = vec![Vec::new(); SHARDS as usize];
    for r in g.records().filter(|r| keep(r.kind)) {
        let s = (fraud_detector::state::fnv1a(&r.partition_key) % SHARDS) as usize;
        let sequence = 1_000_000 + shards[s].len() as u64 * 7;
        shards[s].push(ShardRecord {
            partition_key: r.partition_key,
            data: r.data,
            sequence,
        });
    }
    shards
}

/// Shuffles each shard in consecutive blocks of `block` records (then renumbers), so
/// an account's transactions a few records apart arrive out of event-time order.
pub fn shuffled_in_blocks(
    shards: &[Vec<ShardRecord>],
    block: usize,
    seed: u64,
) -> Vec<Vec<ShardRecord>> {
    use rand::seq::SliceRandom;
    let mut rng = SmallRng::seed_from_u64(seed);
    shards
        .iter()
        .map(|records| {
            let mut out = records.clone();
            out.chunks_mut(block).for_each(|c| c.shuffle(&mut rng));
            for (n, r) in out.iter_mut().enumerate() {
                r.sequence = 1_000_000 + n as u64 * 7;
            }
            out
        })
        .collect()
}

/// Re-sends, a few records later on the same shard, every record whose transaction id
/// is in `ids` (the generator's own duplicates rarely hit alerted transactions).
pub fn with_extra_duplicates(
    shards: &[Vec<ShardRecord>],
    ids: &std::collections::HashSet<String>,
) -> Vec<Vec<ShardRecord>> {
    shards
        .iter()
        .map(|records| {
            let mut out: Vec<ShardRecord> = Vec::with_capacity(records.len());
            let mut pending: Vec<(usize, ShardRecord)> = Vec::new();
            for (i, r) in records.iter().enumerate() {
                out.push(r.clone());
                let id = serde_json::from_slice::<serde_json::Value>(&r.data)
                    .ok()
                    .and_then(|v| v["transaction_id"].as_str().map(str::to_owned));
                if id.is_some_and(|id| ids.contains(&id)) {
                    pending.push((i + 3, r.clone()));
                }
                while let Some(pos) = pending.iter().position(|(at, _)| *at <= i) {
                    out.push(pending.remove(pos).1);
                }
            }
            out.extend(pending.into_iter().map(|(_, r)| r));
            for (n, r) in out.iter_mut().enumerate() {
                r.sequence = 1_000_000 + n as u64 * 7;
            }
            out
        })
        .collect()
}

fn event(shard: usize, records: &[ShardRecord]) -> KinesisEvent {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<_> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence.to_string(), "data": b64.encode(&r.data),
                    "approximateArrivalTimestamp": 1.795e9},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-{shard:012}:{}", r.sequence),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/transactions"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// The Lambda batches delivering `shards` (one shard per batch, in shard order).
pub fn batches(shards: &[Vec<ShardRecord>], delivery: Delivery) -> Vec<KinesisEvent> {
    let mut batches: Vec<KinesisEvent> = Vec::new();
    match delivery {
        Delivery::Clean => {
            for (s, records) in shards.iter().enumerate() {
                batches.extend(records.chunks(MAX_BATCH).map(|c| event(s, c)));
            }
        }
        Delivery::Chaotic(seed) => {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut cursor = vec![0_usize; shards.len()];
            loop {
                let open: Vec<usize> = (0..shards.len())
                    .filter(|&s| cursor[s] < shards[s].len())
                    .collect();
                if open.is_empty() {
                    break;
                }
                let s = open[rng.random_range(0..open.len())];
                let start = cursor[s];
                let end = (start + rng.random_range(1..=MAX_BATCH)).min(shards[s].len());
                batches.push(event(s, &shards[s][start..end]));
                match rng.random_range(0..10) {
                    // The same batch again (a lost response).
                    0 => batches.push(event(s, &shards[s][start..end])),
                    // A retry that starts earlier, overlapping committed records.
                    1 => {
                        let back = start.saturating_sub(rng.random_range(1..=200));
                        batches.push(event(s, &shards[s][back..end]));
                    }
                    _ => {}
                }
                cursor[s] = end;
            }
        }
    }
    batches
}

/// Runs every shard's records through a fresh processor and store.
pub async fn run(shards: &[Vec<ShardRecord>], config: FraudConfig, delivery: Delivery) -> Run {
    let store = Arc::new(MemoryStateStore::default());
    let clock = Arc::new(ManualClock::new(EventTime(NOW_MS)));
    let processor = Processor::new(
        Arc::new(FraudDetector::new(config)),
        Arc::clone(&store),
        TransactionCodec::new(Validator::default(), clock.clone()),
        ProcessingConfig::new("state", "dead-letters"),
        clock,
    );
    // Batches are prepared up front so the timing covers processing only.
    let batches = batches(shards, delivery);
    let records_delivered = batches.iter().map(|b| b.records.len() as u64).sum();
    let started = Instant::now();
    for batch in &batches {
        let report = processor.process(batch).await.unwrap();
        assert_eq!(report.first_failure, None, "{:?}", report.metrics);
    }
    let elapsed = started.elapsed();
    let tables = store.snapshot();
    let alerts = tables
        .outputs
        .values()
        .map(|body| serde_json::from_str::<Alert>(body).unwrap())
        .collect();
    Run {
        tables,
        alerts,
        records_delivered,
        elapsed,
    }
}

/// Alerts by alert id; panics if two alerts share an id or a transaction.
pub fn by_id(alerts: &[Alert]) -> BTreeMap<String, Alert> {
    let mut map = BTreeMap::new();
    let mut txs = std::collections::HashSet::new();
    for a in alerts {
        assert!(
            txs.insert(a.transaction_id.clone()),
            "two alerts on {}",
            a.transaction_id
        );
        assert!(map.insert(a.alert_id.clone(), a.clone()).is_none());
    }
    map
}
