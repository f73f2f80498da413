//! The framework fed by a real stream: records produced with PutRecords into the
//! emulator's Kinesis (real 56-digit sequence numbers, MD5 routing), the two shards
//! merged mid-way so every key moves to the child shard, each shard read with
//! GetRecords (parents before the child, as Lambda does) and delivered with the oracle's
//! chaos. State lives in the in-memory store until the emulator serves DynamoDB.

use std::sync::Arc;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shardwise::{
    Consistency, EventTime, JsonCodec, ManualClock, MemoryStateStore, ProcessingConfig, Processor,
};
use shardwise_tests::{Target, TestEnv};

use super::faults::FaultyStore;
use super::fixture::{self, Produced, Totals, Txn};
use super::{Chaos, deliver};

/// Puts `n` transactions (ids from `first_id`), ~3% undecodable.
pub(super) async fn put(client: &Client, stream: &str, rng: &mut SmallRng, first_id: u64, n: u64) {
    let mut entries = Vec::new();
    for id in first_id..first_id + n {
        let account = format!("acct-{}", rng.random_range(0..25));
        let data = if rng.random_range(0..100) < 3 {
            format!("{{broken {id}").into_bytes()
        } else {
            let txn = Txn {
                id,
                account: account.clone(),
                merchant: "m1".into(),
                amount: rng.random_range(0..100),
            };
            serde_json::to_vec(&txn).unwrap()
        };
        entries.push(
            PutRecordsRequestEntry::builder()
                .partition_key(account)
                .data(Blob::new(data))
                .build()
                .unwrap(),
        );
    }
    for chunk in entries.chunks(500) {
        let out = client
            .put_records()
            .stream_name(stream)
            .set_records(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    }
}

/// A one-shard stream split (0 → 1 + 2) then merged (1 + 2 → 3), each shard read back.
pub(super) struct Resharded {
    /// The stream's ARN (`eventSourceARN`).
    pub arn: String,
    /// `shardId-000000000000`'s records.
    pub parent: Vec<Produced>,
    /// The split's halves' records, in [`RESHARD_CHILDREN`] order.
    pub children: [Vec<Produced>; 2],
    /// The merged shard's records.
    pub grandchild: Vec<Produced>,
}

/// The shards [`split_then_merge`] produces.
pub(super) const RESHARD_PARENT: &str = "shardId-000000000000";
/// The split's halves, merged again into [`RESHARD_GRANDCHILD`].
pub(super) const RESHARD_CHILDREN: [&str; 2] = ["shardId-000000000001", "shardId-000000000002"];
/// The merged shard.
pub(super) const RESHARD_GRANDCHILD: &str = "shardId-000000000003";

/// Creates `stream` with one shard and puts `per_phase` records before the split, between
/// the split and the merge, and after the merge; reads every shard back.
pub(super) async fn split_then_merge(
    env: &TestEnv,
    stream: &str,
    rng: &mut SmallRng,
    per_phase: u64,
) -> Resharded {
    let client = env.kinesis();
    env.create_active_stream(stream, 1).await;
    put(&client, stream, rng, 0, per_phase).await;
    client
        .split_shard()
        .stream_name(stream)
        .shard_to_split(RESHARD_PARENT)
        .new_starting_hash_key((1u128 << 127).to_string())
        .send()
        .await
        .unwrap();
    env.wait_stream_active(stream).await;
    put(&client, stream, rng, per_phase, per_phase).await;
    client
        .merge_shards()
        .stream_name(stream)
        .shard_to_merge(RESHARD_CHILDREN[0])
        .adjacent_shard_to_merge(RESHARD_CHILDREN[1])
        .send()
        .await
        .unwrap();
    env.wait_stream_active(stream).await;
    put(&client, stream, rng, 2 * per_phase, per_phase).await;
    let arn = client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_owned();
    Resharded {
        arn,
        parent: read_shard(&client, stream, RESHARD_PARENT).await,
        children: [
            read_shard(&client, stream, RESHARD_CHILDREN[0]).await,
            read_shard(&client, stream, RESHARD_CHILDREN[1]).await,
        ],
        grandchild: read_shard(&client, stream, RESHARD_GRANDCHILD).await,
    }
}

/// Reads a whole shard from TRIM_HORIZON.
pub(super) async fn read_shard(client: &Client, stream: &str, shard: &str) -> Vec<Produced> {
    let mut iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .map(str::to_owned);
    let mut records = Vec::new();
    while let Some(it) = iterator {
        let out = client
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .unwrap();
        for r in out.records() {
            let data = r.data().as_ref().to_vec();
            records.push(Produced {
                shard: shard.to_owned(),
                sequence: r.sequence_number().to_owned(),
                partition_key: r.partition_key().unwrap_or_default().to_owned(),
                txn: serde_json::from_slice::<Txn>(&data).ok(),
                data,
            });
        }
        if out.records().is_empty() && out.millis_behind_latest() == Some(0) {
            break; // caught up on an open shard
        }
        iterator = out.next_shard_iterator().map(str::to_owned);
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_read_from_a_merged_stream_are_committed_exactly_once() {
    let env = TestEnv::start().await;
    if env.is(Target::Moto) {
        eprintln!(
            "SKIPPED on Moto (known deviation from AWS): sequence numbers are small counters"
        );
        return;
    }
    let client = env.kinesis();
    let stream = env.unique_name("fw-source");
    env.create_active_stream(&stream, 2).await;
    let mut rng = SmallRng::seed_from_u64(42);
    put(&client, &stream, &mut rng, 0, 300).await;
    client
        .merge_shards()
        .stream_name(&stream)
        .shard_to_merge("shardId-000000000000")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await
        .unwrap();
    env.wait_stream_active(&stream).await;
    put(&client, &stream, &mut rng, 300, 300).await;

    let mut shards = Vec::new();
    for shard in [
        "shardId-000000000000",
        "shardId-000000000001",
        "shardId-000000000002",
    ] {
        shards.push(read_shard(&client, &stream, shard).await);
    }
    assert_eq!(
        shards.iter().map(Vec::len).sum::<usize>(),
        600,
        "every record read back"
    );
    assert!(
        shards[2].len() == 300,
        "records after the merge land in the child"
    );
    assert!(
        shards[0][0].sequence.len() > 20,
        "real-looking sequence numbers"
    );
    let expected = fixture::oracle(&shards.concat());

    let store = Arc::new(FaultyStore::new(
        MemoryStateStore::default(),
        42,
        0.03,
        0.02,
    ));
    let mut config = ProcessingConfig::new("state", "dlq");
    config.consistency = Consistency::ExactlyOnce;
    let clock = Arc::new(ManualClock::new(EventTime(1_767_225_600_000)));
    let processor = Processor::new(
        Arc::new(Totals),
        Arc::clone(&store),
        JsonCodec::default(),
        config,
        clock,
    );
    let chaos = Chaos {
        max_batch: 50,
        crash_rate: 0.4,
        zombie_rate: 0.05,
        replay_rate: 0.2,
    };
    // Parents (in parallel), then the child, as Lambda reads a resharded stream.
    tokio::join!(
        deliver(&processor, &store, &shards[0], 1, chaos),
        deliver(&processor, &store, &shards[1], 2, chaos)
    );
    deliver(&processor, &store, &shards[2], 3, chaos).await;

    let snap = store.inner().snapshot();
    expected.assert_states(25, |key| snap.states.get(key));
    let alerts: std::collections::BTreeSet<String> = snap.outputs.keys().cloned().collect();
    assert_eq!(alerts, expected.alerts);
    let dead: std::collections::BTreeSet<String> = snap.dead_letters.keys().cloned().collect();
    assert_eq!(dead, expected.dead_letters);
}
