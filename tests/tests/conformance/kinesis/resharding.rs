//! SplitShard, MergeShards, UpdateShardCount and reading across a reshard.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{ScalingType, Shard, ShardIteratorType};
use shardwise_tests::{TestEnv, skip_on};

use super::{code_of, create_stream, iterator, list_shards, numeric_lt, put, wait_active};

fn find<'a>(shards: &'a [Shard], id: &str) -> &'a Shard {
    shards.iter().find(|s| s.shard_id() == id).unwrap()
}

fn is_open(s: &Shard) -> bool {
    s.sequence_number_range()
        .unwrap()
        .ending_sequence_number()
        .is_none()
}

fn range(s: &Shard) -> (u128, u128) {
    let r = s.hash_key_range().unwrap();
    (
        r.starting_hash_key().parse().unwrap(),
        r.ending_hash_key().parse().unwrap(),
    )
}

async fn split_at(client: &Client, stream: &str, shard: &str, key: u128) {
    client
        .split_shard()
        .stream_name(stream)
        .shard_to_split(shard)
        .new_starting_hash_key(key.to_string())
        .send()
        .await
        .unwrap();
    wait_active(client, stream).await;
}

#[tokio::test]
async fn split_closes_the_parent_and_opens_two_children_naming_it() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "split", 1).await;
    let client = env.kinesis();
    put(&client, &name, "k", b"x").await;
    let mid = 1u128 << 127;
    split_at(&client, &name, "shardId-000000000000", mid).await;
    let shards = list_shards(&client, &name).await;
    assert_eq!(shards.len(), 3);
    let parent = find(&shards, "shardId-000000000000");
    assert!(!is_open(parent), "the parent gets an EndingSequenceNumber");
    let (a, b) = (
        find(&shards, "shardId-000000000001"),
        find(&shards, "shardId-000000000002"),
    );
    for child in [a, b] {
        assert!(is_open(child));
        assert_eq!(child.parent_shard_id(), Some("shardId-000000000000"));
    }
    assert_eq!(range(a), (0, mid - 1));
    assert_eq!(range(b), (mid, u128::MAX));
}

#[tokio::test]
async fn merge_opens_one_child_with_both_parents() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "merge", 2).await;
    let client = env.kinesis();
    client
        .merge_shards()
        .stream_name(&name)
        .shard_to_merge("shardId-000000000000")
        .adjacent_shard_to_merge("shardId-000000000001")
        .send()
        .await
        .unwrap();
    wait_active(&client, &name).await;
    let shards = list_shards(&client, &name).await;
    let child = find(&shards, "shardId-000000000002");
    assert_eq!(child.parent_shard_id(), Some("shardId-000000000000"));
    assert_eq!(
        child.adjacent_parent_shard_id(),
        Some("shardId-000000000001")
    );
    assert_eq!(range(child), (0, u128::MAX));
    assert!(!is_open(find(&shards, "shardId-000000000000")));
    assert!(!is_open(find(&shards, "shardId-000000000001")));
}

#[tokio::test]
async fn merging_shards_that_are_not_adjacent_is_invalid_argument() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "mergebad", 3).await;
    let out = env
        .kinesis()
        .merge_shards()
        .stream_name(&name)
        .shard_to_merge("shardId-000000000000")
        .adjacent_shard_to_merge("shardId-000000000002")
        .send()
        .await;
    assert_eq!(code_of(out), "InvalidArgumentException");
}

#[tokio::test]
async fn a_drained_closed_shard_ends_with_child_shards_and_no_next_iterator() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto moves a split parent's records into the children and never ends a shard"
    );
    let name = create_stream(&env, "drain", 1).await;
    let client = env.kinesis();
    let (_, parent_seq) = put(&client, &name, "k", b"before").await;
    split_at(&client, &name, "shardId-000000000000", 1u128 << 127).await;
    let it = iterator(
        &client,
        &name,
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let out = client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .unwrap();
    assert_eq!(out.records().len(), 1, "the parent keeps its records");
    assert_eq!(out.records()[0].data().as_ref(), b"before");
    assert!(out.next_shard_iterator().is_none());
    let mut children: Vec<&str> = out.child_shards().iter().map(|c| c.shard_id()).collect();
    children.sort_unstable();
    assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
    for c in out.child_shards() {
        assert_eq!(c.parent_shards(), ["shardId-000000000000"]);
    }
    // A child's sequence numbers are greater than the parent's.
    let (_, child_seq) = put(&client, &name, "k", b"after").await;
    assert!(numeric_lt(&parent_seq, &child_seq));
}

#[tokio::test]
async fn iterators_on_other_shards_survive_a_split() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "survive", 2).await;
    let client = env.kinesis();
    let it = iterator(
        &client,
        &name,
        "shardId-000000000001",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    split_at(&client, &name, "shardId-000000000000", 1000).await;
    client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn update_shard_count_reshapes_to_uniform_shards_both_ways() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "usc", 2).await;
    let client = env.kinesis();
    for (target, current) in [(4, 2), (2, 4)] {
        let out = client
            .update_shard_count()
            .stream_name(&name)
            .target_shard_count(target)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await
            .unwrap();
        assert_eq!(out.current_shard_count(), Some(current));
        assert_eq!(out.target_shard_count(), Some(target));
        wait_active(&client, &name).await;
        let mut open: Vec<(u128, u128)> = list_shards(&client, &name)
            .await
            .iter()
            .filter(|s| is_open(s))
            .map(range)
            .collect();
        open.sort_unstable();
        assert_eq!(open.len(), target as usize);
        let width = u128::MAX / target as u128;
        for (i, (start, end)) in open.iter().enumerate() {
            assert!(
                start.abs_diff(width * i as u128) <= target as u128,
                "{open:?}"
            );
            assert!((end - start).abs_diff(width) <= target as u128, "{open:?}");
        }
    }
}

#[tokio::test]
async fn update_shard_count_beyond_double_is_limit_exceeded() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto scales to any shard count");
    let name = create_stream(&env, "uscbad", 1).await;
    let out = env
        .kinesis()
        .update_shard_count()
        .stream_name(&name)
        .target_shard_count(3)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await;
    assert_eq!(code_of(out), "LimitExceededException");
}
