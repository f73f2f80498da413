//! Oracle test: for seeded random mixes of PutRecords, SplitShard, MergeShards and
//! UpdateShardCount, reading every shard through the JSON API must give back exactly
//! the records that were written — each once, in the shard whose hash key range holds
//! its hash, with strictly increasing sequence numbers per shard, and per partition key
//! in write order when parents are read before their children (the order the Lambda
//! poller and KCL read in).

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

use super::Kinesis;
use super::stream::partition_hash;
use crate::{Clock, Config};

const STREAM: &str = "oracle";

async fn call(k: &Kinesis, op: &str, body: Value) -> Value {
    k.handle(op, body.to_string().as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

/// Open shards as (id, start, end), sorted by start.
async fn open_shards(k: &Kinesis) -> Vec<(String, u128, u128)> {
    let out = call(k, "ListShards", json!({"StreamName": STREAM})).await;
    let mut open: Vec<(String, u128, u128)> = out["Shards"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["SequenceNumberRange"]["EndingSequenceNumber"].is_null())
        .map(|s| {
            let r = &s["HashKeyRange"];
            (
                s["ShardId"].as_str().unwrap().to_owned(),
                r["StartingHashKey"].as_str().unwrap().parse().unwrap(),
                r["EndingHashKey"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    open.sort_by_key(|s| s.1);
    open
}

/// Reads one shard to its end (or until a call returns nothing).
async fn read_shard(k: &Kinesis, shard: &str) -> Vec<Value> {
    let it = call(
        k,
        "GetShardIterator",
        json!({"StreamName": STREAM, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await;
    let mut it = it["ShardIterator"].as_str().map(str::to_owned);
    let mut records = Vec::new();
    while let Some(current) = it {
        let out = call(
            k,
            "GetRecords",
            json!({"ShardIterator": current, "Limit": 7}),
        )
        .await;
        let batch = out["Records"].as_array().unwrap();
        if batch.is_empty() && out["ChildShards"].is_null() {
            break;
        }
        records.extend(batch.iter().cloned());
        it = out["NextShardIterator"].as_str().map(str::to_owned);
    }
    records
}

async fn run(seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let k = Kinesis::new(&Config::default(), Clock::real());
    call(
        &k,
        "CreateStream",
        json!({"StreamName": STREAM, "ShardCount": rng.random_range(1..4)}),
    )
    .await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut written: Vec<(String, u64)> = Vec::new();
    for _ in 0..40 {
        match rng.random_range(0..10) {
            0..6 => {
                let n = rng.random_range(1..30);
                let records: Vec<Value> = (0..n)
                    .map(|_| {
                        let key = format!("key-{}", rng.random_range(0..12));
                        let id = written.len() as u64;
                        written.push((key.clone(), id));
                        json!({"PartitionKey": key, "Data": b64.encode(id.to_string())})
                    })
                    .collect();
                let out = call(
                    &k,
                    "PutRecords",
                    json!({"StreamName": STREAM, "Records": records}),
                )
                .await;
                assert_eq!(out["FailedRecordCount"], 0);
            }
            6..8 => {
                let open = open_shards(&k).await;
                let (id, start, end) = &open[rng.random_range(0..open.len())];
                if end - start >= 2 {
                    let at =
                        start + 1 + rng.random_range(0..(end - start).min(u128::from(u64::MAX)));
                    call(
                        &k,
                        "SplitShard",
                        json!({"StreamName": STREAM, "ShardToSplit": id,
                               "NewStartingHashKey": at.to_string()}),
                    )
                    .await;
                }
            }
            8 => {
                let open = open_shards(&k).await;
                if open.len() >= 2 {
                    let i = rng.random_range(0..open.len() - 1);
                    call(
                        &k,
                        "MergeShards",
                        json!({"StreamName": STREAM, "ShardToMerge": open[i].0,
                               "AdjacentShardToMerge": open[i + 1].0}),
                    )
                    .await;
                }
            }
            _ => {
                let current = open_shards(&k).await.len() as i64;
                // Within AWS's half..=double window, growing to at most 16 shards.
                let low = (current + 1) / 2;
                let target = rng.random_range(low..=(current * 2).min(16.max(low)));
                call(
                    &k,
                    "UpdateShardCount",
                    json!({"StreamName": STREAM, "TargetShardCount": target,
                           "ScalingType": "UNIFORM_SCALING"}),
                )
                .await;
            }
        }
    }

    // Read every shard, parents before children (shard ids grow with creation).
    let all = call(&k, "ListShards", json!({"StreamName": STREAM})).await;
    let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for shard in all["Shards"].as_array().unwrap() {
        let id = shard["ShardId"].as_str().unwrap();
        let range = &shard["HashKeyRange"];
        let start: u128 = range["StartingHashKey"].as_str().unwrap().parse().unwrap();
        let end: u128 = range["EndingHashKey"].as_str().unwrap().parse().unwrap();
        let mut last_seq = String::new();
        for r in read_shard(&k, id).await {
            let key = r["PartitionKey"].as_str().unwrap().to_owned();
            let hash = partition_hash(&key);
            assert!(start <= hash && hash <= end, "seed {seed}: {key} in {id}");
            let seq = r["SequenceNumber"].as_str().unwrap().to_owned();
            assert!(seq > last_seq, "seed {seed}: sequence order in {id}");
            last_seq = seq;
            let data = b64.decode(r["Data"].as_str().unwrap()).unwrap();
            let n: u64 = String::from_utf8(data).unwrap().parse().unwrap();
            *seen.entry(n).or_default() += 1;
            per_key.entry(key).or_default().push(n);
        }
    }
    assert_eq!(seen.len(), written.len(), "seed {seed}: records lost");
    assert!(seen.values().all(|&c| c == 1), "seed {seed}: duplicates");
    let mut expected: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (key, id) in written {
        expected.entry(key).or_default().push(id);
    }
    assert_eq!(per_key, expected, "seed {seed}: per-key order");
}

#[tokio::test]
async fn every_record_is_read_once_in_key_order_across_random_resharding() {
    for seed in 0..40 {
        run(seed).await;
    }
}
