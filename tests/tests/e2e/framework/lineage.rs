//! High-water-mark pruning against the emulator's Kinesis and DynamoDB (shardwise
//! `shards` module): a one-shard stream split mid-way, every shard read back with
//! GetRecords, delivered parents first (as the event source mapping does) to a processor
//! committing to DynamoDB whose `KinesisShardDirectory` asks the emulator's `ListShards`
//! for the lineage. The two halves are then merged again, so the last shard has two
//! parents and a grandparent. Batches are replayed at random, and every ancestor is
//! re-delivered after its descendants (a late retry or zombie): only the descendants'
//! marks can recognise it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shardwise::{
    DynamoStateStore, EventTime, JsonCodec, KinesisShardDirectory, ManualClock, ProcessingConfig,
    Processor, StateStore, StoredState,
};
use shardwise_tests::{TestEnv, emulator_only};

use super::fixture::{self, OPERATOR, Produced, Totals, Txn};
use super::kinesis_source::{
    RESHARD_GRANDCHILD as GRANDCHILD, RESHARD_PARENT as PARENT, Resharded, split_then_merge,
};

type Proc = Processor<Totals, DynamoStateStore, JsonCodec<Txn>>;

const ACCOUNTS: u64 = 25;

/// Every account's state item (consistent reads), keyed by item key.
async fn state_items(store: &DynamoStateStore) -> HashMap<String, StoredState> {
    let keys: Vec<String> = (0..ACCOUNTS)
        .map(|k| format!("{OPERATOR}#acct-{k}"))
        .collect();
    store.get_many(&keys, true).await.unwrap()
}

/// Delivers `records` in random batches under the stream's real ARN (so the directory
/// can list it), replaying an earlier batch now and then. Returns the batches.
async fn deliver(processor: &Proc, arn: &str, records: &[Produced], seed: u64) -> Vec<usize> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let (mut cursor, mut ends) = (0, Vec::new());
    while cursor < records.len() {
        let end = (cursor + rng.random_range(1..=30)).min(records.len());
        let report = processor
            .process(&event(arn, &records[cursor..end]))
            .await
            .unwrap();
        assert!(report.first_failure.is_none(), "no faults are injected");
        if rng.random_bool(0.2) {
            let from = rng.random_range(0..=cursor);
            processor
                .process(&event(arn, &records[from..end]))
                .await
                .unwrap();
        }
        ends.push(end);
        cursor = end;
    }
    ends
}

fn event(arn: &str, records: &[Produced]) -> aws_lambda_events::event::kinesis::KinesisEvent {
    let mut event = fixture::lambda_event(records);
    for record in &mut event.records {
        record.event_source_arn = Some(arn.to_owned());
    }
    event
}

/// Every account with a valid record in `records`.
fn accounts_in(records: &[Produced]) -> BTreeSet<String> {
    records
        .iter()
        .filter_map(|r| r.txn.as_ref().map(|t| t.account.clone()))
        .collect()
}

/// Each account's marked shards.
fn marks(states: &HashMap<String, StoredState>, account: &str) -> BTreeSet<String> {
    states[&format!("{OPERATOR}#{account}")]
        .high_water
        .keys()
        .map(|s| s.0.clone())
        .collect()
}

/// Re-delivers `records` in the original batches (`ends`).
async fn redeliver(processor: &Proc, arn: &str, records: &[Produced], ends: &[usize]) {
    let mut from = 0;
    for &end in ends {
        processor
            .process(&event(arn, &records[from..end]))
            .await
            .unwrap();
        from = end;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_split_and_a_merge_state_items_hold_only_the_newest_marks_and_late_ancestors_change_nothing()
 {
    let env = TestEnv::start().await;
    emulator_only!(env, "counts the emulator's ListShards requests");
    let client = env.kinesis();
    let stream = env.unique_name("fw-lineage");
    let mut rng = SmallRng::seed_from_u64(7);
    let Resharded {
        arn,
        parent,
        children,
        grandchild,
    } = split_then_merge(&env, &stream, &mut rng, 200).await;
    assert_eq!(parent.len(), 200);
    assert!(
        children.iter().all(|c| !c.is_empty()),
        "both halves got records"
    );
    assert_eq!(grandchild.len(), 200);
    let all: Vec<Produced> = [parent.clone(), children.concat(), grandchild.clone()].concat();
    let expected = fixture::oracle(&all);

    let Some(tables) = super::create_tables(&env).await else {
        return;
    };
    let store = Arc::new(DynamoStateStore::new(
        env.dynamodb(),
        &tables.state,
        Some(&tables.output),
        &tables.dead_letter,
    ));
    let mut config = ProcessingConfig::new(&tables.state, &tables.dead_letter);
    config.output_table = Some(tables.output.clone());
    let processor = Processor::new(
        Arc::new(Totals),
        Arc::clone(&store),
        JsonCodec::default(),
        config,
        Arc::new(ManualClock::new(EventTime(1_767_225_600_000))),
    )
    .with_shard_directory(Arc::new(KinesisShardDirectory::new(client.clone())));
    let emulator = env.emulator.as_ref().unwrap();
    let list_shards_before = emulator.metrics.get("kinesis", "ListShards").requests;

    // Generation by generation, as the event source mapping reads a resharded stream.
    let parent_batches = deliver(&processor, &arn, &parent, 1).await;
    let mut child_batches = Vec::new();
    for (i, child) in children.iter().enumerate() {
        child_batches.push(deliver(&processor, &arn, child, 2 + i as u64).await);
    }
    let after_split = state_items(&store).await;
    let moved = accounts_in(&children.concat());
    assert!(moved.len() >= 10, "most accounts got records from a half");
    for account in &moved {
        let marks = marks(&after_split, account);
        assert!(
            !marks.contains(PARENT) && !marks.is_empty(),
            "{account}: {marks:?}"
        );
    }
    deliver(&processor, &arn, &grandchild, 4).await;
    let settled = state_items(&store).await;
    let merged = accounts_in(&grandchild);
    assert!(
        merged.len() >= 10,
        "most accounts got records after the merge"
    );
    for account in &merged {
        assert_eq!(
            marks(&settled, account),
            BTreeSet::from([GRANDCHILD.to_owned()]),
            "{account}: both parents' and the grandparent's marks are pruned"
        );
    }

    // Every ancestor again, in its original batches, after its descendants.
    redeliver(&processor, &arn, &parent, &parent_batches).await;
    for (child, ends) in children.iter().zip(&child_batches) {
        redeliver(&processor, &arn, child, ends).await;
    }
    let states = state_items(&store).await;
    assert_eq!(
        states, settled,
        "the late ancestor batches changed no state"
    );
    expected.assert_states(ACCOUNTS, |key| states.get(key));
    assert_eq!(super::scan_ids(&env, &tables.output).await, expected.alerts);
    assert_eq!(
        super::scan_ids(&env, &tables.dead_letter).await,
        expected.dead_letters
    );
    let list_shards = emulator.metrics.get("kinesis", "ListShards").requests - list_shards_before;
    assert!(
        (1..=2).contains(&list_shards),
        "one cached ListShards answer serves the run (TTL 60 s), got {list_shards}"
    );
}
