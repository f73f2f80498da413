//! Stream lifecycle, listing, pagination and retention.

use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType, StreamMode, StreamModeDetails};
use shardwise_tests::{TestEnv, emulator_only, skip_on};

use super::{code_of, create_stream, list_shards, wait_active};

#[tokio::test]
async fn created_stream_is_active_with_contiguous_shards_covering_the_hash_space() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "layout", 3).await;
    let client = env.kinesis();
    let summary = client
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let summary = summary.stream_description_summary().unwrap();
    assert_eq!(summary.open_shard_count(), 3);
    assert_eq!(summary.retention_period_hours(), 24);
    assert!(summary.stream_arn().ends_with(&format!(":stream/{name}")));

    let shards = list_shards(&client, &name).await;
    let ids: Vec<&str> = shards.iter().map(|s| s.shard_id()).collect();
    assert_eq!(
        ids,
        [
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-000000000002"
        ]
    );
    let mut expected_start = 0u128;
    for s in &shards {
        let r = s.hash_key_range().unwrap();
        assert_eq!(
            r.starting_hash_key().parse::<u128>().unwrap(),
            expected_start
        );
        expected_start = r.ending_hash_key().parse::<u128>().unwrap().wrapping_add(1);
    }
    assert_eq!(expected_start, 0, "the last shard must end at 2^128-1");
}

#[tokio::test]
async fn on_demand_stream_reports_its_mode_and_has_shards() {
    let env = TestEnv::start().await;
    let name = env.unique_name("ondemand");
    let client = env.kinesis();
    client
        .create_stream()
        .stream_name(&name)
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    wait_active(&client, &name).await;
    let out = client
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    let summary = out.stream_description_summary().unwrap();
    assert_eq!(
        summary.stream_mode_details().unwrap().stream_mode(),
        &StreamMode::OnDemand
    );
    assert!(summary.open_shard_count() >= 1);
}

#[tokio::test]
async fn creating_an_existing_stream_is_resource_in_use() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "dup", 1).await;
    let again = env
        .kinesis()
        .create_stream()
        .stream_name(&name)
        .shard_count(1)
        .send()
        .await;
    assert_eq!(code_of(again), "ResourceInUseException");
}

#[tokio::test]
async fn describing_a_missing_stream_is_resource_not_found() {
    let env = TestEnv::start().await;
    let out = env
        .kinesis()
        .describe_stream()
        .stream_name(env.unique_name("missing"))
        .send()
        .await;
    assert_eq!(code_of(out), "ResourceNotFoundException");
}

#[tokio::test]
async fn shard_count_zero_is_a_validation_exception() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto does not validate ShardCount's minimum");
    let out = env
        .kinesis()
        .create_stream()
        .stream_name(env.unique_name("zero"))
        .shard_count(0)
        .send()
        .await;
    assert_eq!(code_of(out), "ValidationException");
}

#[tokio::test]
async fn deleted_stream_is_gone() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "del", 1).await;
    let client = env.kinesis();
    client
        .delete_stream()
        .stream_name(&name)
        .send()
        .await
        .unwrap();
    // AWS and moto may keep it DELETING for a moment; wait until it is gone.
    for _ in 0..100 {
        let out = client
            .describe_stream_summary()
            .stream_name(&name)
            .send()
            .await;
        if out.is_err() {
            assert_eq!(code_of(out), "ResourceNotFoundException");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("stream was never deleted");
}

#[tokio::test]
async fn list_streams_pages_with_exclusive_start_stream_name() {
    let env = TestEnv::start().await;
    let mut ours = Vec::new();
    for _ in 0..3 {
        ours.push(create_stream(&env, "lst", 1).await);
    }
    let client = env.kinesis();
    let first = client.list_streams().limit(1).send().await.unwrap();
    assert_eq!(first.stream_names().len(), 1);
    assert!(first.has_more_streams());
    let mut seen: Vec<String> = first.stream_names().to_vec();
    while let Some(last) = seen.last().cloned() {
        let page = client
            .list_streams()
            .exclusive_start_stream_name(last)
            .limit(2)
            .send()
            .await
            .unwrap();
        assert!(page.stream_names().len() <= 2);
        seen.extend(page.stream_names().iter().cloned());
        if !page.has_more_streams() {
            break;
        }
    }
    for name in &ours {
        assert!(seen.contains(name), "{name} missing from {seen:?}");
    }
}

#[tokio::test]
async fn list_streams_pages_with_next_token_and_reports_summaries() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto 5.2.5 returns no ListStreams NextToken and summarises every stream"
    );
    let mut ours = Vec::new();
    for _ in 0..3 {
        ours.push(create_stream(&env, "lstt", 1).await);
    }
    let client = env.kinesis();
    let first = client.list_streams().limit(1).send().await.unwrap();
    let mut seen: Vec<String> = first.stream_names().to_vec();
    let mut token = first.next_token().map(str::to_owned);
    assert!(token.is_some());
    while let Some(t) = token {
        let page = client
            .list_streams()
            .next_token(t)
            .limit(2)
            .send()
            .await
            .unwrap();
        assert!(page.stream_names().len() <= 2);
        assert_eq!(page.stream_summaries().len(), page.stream_names().len());
        for (name, summary) in page.stream_names().iter().zip(page.stream_summaries()) {
            assert_eq!(name, summary.stream_name());
        }
        seen.extend(page.stream_names().iter().cloned());
        token = page.next_token().map(str::to_owned);
    }
    for name in &ours {
        assert!(seen.contains(name), "{name} missing from {seen:?}");
    }
}

#[tokio::test]
async fn describe_stream_pages_shards_with_exclusive_start_shard_id() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto ignores DescribeStream's ExclusiveStartShardId"
    );
    let name = create_stream(&env, "dpage", 3).await;
    let client = env.kinesis();
    let first = client
        .describe_stream()
        .stream_name(&name)
        .limit(2)
        .send()
        .await
        .unwrap();
    let desc = first.stream_description().unwrap();
    assert_eq!(desc.shards().len(), 2);
    assert!(desc.has_more_shards());
    let rest = client
        .describe_stream()
        .stream_name(&name)
        .exclusive_start_shard_id(desc.shards()[1].shard_id())
        .send()
        .await
        .unwrap();
    let rest = rest.stream_description().unwrap();
    assert_eq!(rest.shards().len(), 1);
    assert_eq!(rest.shards()[0].shard_id(), "shardId-000000000002");
    assert!(!rest.has_more_shards());
}

#[tokio::test]
async fn list_shards_pages_with_max_results_and_next_token() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto ties ListShards tokens to the first call's StreamName, which AWS forbids \
         repeating with NextToken"
    );
    let name = create_stream(&env, "lpage", 5).await;
    let client = env.kinesis();
    let first = client
        .list_shards()
        .stream_name(&name)
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.shards().len(), 2);
    let mut ids: Vec<String> = first.shards().iter().map(|s| s.shard_id().into()).collect();
    let mut token = first.next_token().map(str::to_owned);
    assert!(token.is_some(), "5 shards at 2 per page need more pages");
    while let Some(t) = token {
        let page = client
            .list_shards()
            .next_token(&t)
            .max_results(2)
            .send()
            .await
            .unwrap();
        assert!(page.shards().len() <= 2);
        ids.extend(page.shards().iter().map(|s| s.shard_id().to_owned()));
        token = page.next_token().map(str::to_owned);
    }
    let expected: Vec<String> = (0..5).map(|i| format!("shardId-{i:012}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn list_shards_rejects_next_token_together_with_stream_name() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto accepts NextToken together with StreamName");
    let name = create_stream(&env, "ltok", 3).await;
    let client = env.kinesis();
    let first = client
        .list_shards()
        .stream_name(&name)
        .max_results(1)
        .send()
        .await
        .unwrap();
    let out = client
        .list_shards()
        .stream_name(&name)
        .next_token(first.next_token().unwrap())
        .send()
        .await;
    assert_eq!(code_of(out), "InvalidArgumentException");
}

#[tokio::test]
async fn list_shards_filters_by_shard_filter_type() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto ignores ListShards' ShardFilter");
    let name = create_stream(&env, "lfilter", 2).await;
    let client = env.kinesis();
    client
        .split_shard()
        .stream_name(&name)
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    wait_active(&client, &name).await;
    let ids = |filter: ShardFilter| {
        let client = client.clone();
        let name = name.clone();
        async move {
            let out = client
                .list_shards()
                .stream_name(&name)
                .shard_filter(filter)
                .send()
                .await
                .unwrap();
            out.shards()
                .iter()
                .map(|s| s.shard_id().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let filter = |t: ShardFilterType| ShardFilter::builder().r#type(t).build().unwrap();
    assert_eq!(
        ids(filter(ShardFilterType::AtLatest)).await,
        [
            "shardId-000000000001",
            "shardId-000000000002",
            "shardId-000000000003"
        ]
    );
    assert_eq!(
        ids(filter(ShardFilterType::AtTrimHorizon)).await,
        ["shardId-000000000000", "shardId-000000000001"]
    );
    assert_eq!(ids(filter(ShardFilterType::FromTrimHorizon)).await.len(), 4);
    let after = ShardFilter::builder()
        .r#type(ShardFilterType::AfterShardId)
        .shard_id("shardId-000000000001")
        .build()
        .unwrap();
    assert_eq!(
        ids(after).await,
        ["shardId-000000000002", "shardId-000000000003"]
    );
}

#[tokio::test]
async fn retention_period_can_be_increased_and_decreased() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "ret", 1).await;
    let client = env.kinesis();
    let hours = |c: aws_sdk_kinesis::Client, n: String| async move {
        c.describe_stream_summary()
            .stream_name(n)
            .send()
            .await
            .unwrap()
            .stream_description_summary()
            .unwrap()
            .retention_period_hours()
    };
    client
        .increase_stream_retention_period()
        .stream_name(&name)
        .retention_period_hours(72)
        .send()
        .await
        .unwrap();
    assert_eq!(hours(client.clone(), name.clone()).await, 72);
    client
        .decrease_stream_retention_period()
        .stream_name(&name)
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();
    assert_eq!(hours(client.clone(), name.clone()).await, 48);
    let wrong_way = client
        .increase_stream_retention_period()
        .stream_name(&name)
        .retention_period_hours(24)
        .send()
        .await;
    assert_eq!(code_of(wrong_way), "InvalidArgumentException");
}

#[tokio::test]
async fn retention_outside_24_to_8760_hours_is_invalid_argument() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "retbad", 1).await;
    let client = env.kinesis();
    let long = client
        .increase_stream_retention_period()
        .stream_name(&name)
        .retention_period_hours(8_761)
        .send()
        .await;
    assert_eq!(code_of(long), "InvalidArgumentException");
    let short = client
        .decrease_stream_retention_period()
        .stream_name(&name)
        .retention_period_hours(23)
        .send()
        .await;
    assert_eq!(code_of(short), "InvalidArgumentException");
}

#[tokio::test]
async fn records_older_than_the_retention_period_are_trimmed() {
    let env = TestEnv::start().await;
    emulator_only!(env, "advances the emulator clock by a day");
    let name = create_stream(&env, "trim", 1).await;
    let client = env.kinesis();
    super::put(&client, &name, "k", b"old").await;
    env.emulator
        .as_ref()
        .unwrap()
        .clock
        .advance(std::time::Duration::from_secs(25 * 3_600));
    super::put(&client, &name, "k", b"new").await;
    let records = super::read_all(&client, &name, "shardId-000000000000").await;
    let data: Vec<&[u8]> = records.iter().map(|r| r.data().as_ref()).collect();
    assert_eq!(data, [b"new".as_slice()]);
}

#[tokio::test]
async fn stream_arn_addresses_the_stream_like_its_name() {
    let env = TestEnv::start().await;
    let name = create_stream(&env, "arn", 1).await;
    let client = env.kinesis();
    let arn = client
        .describe_stream_summary()
        .stream_name(&name)
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_owned();
    client
        .put_record()
        .stream_arn(&arn)
        .partition_key("k")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .send()
        .await
        .unwrap();
    let shards = client.list_shards().stream_arn(&arn).send().await.unwrap();
    assert_eq!(shards.shards().len(), 1);
    let records = super::read_all(&client, &name, "shardId-000000000000").await;
    assert_eq!(records.len(), 1);
}
