//! Commit grouping against DynamoDB: key commits issued together share one
//! `TransactWriteItems`, and a key that fails its condition is told so without taking
//! the others down with it (see `shardwise::dynamo_group`).

use shardwise::dynamo_group::GroupScope;
use shardwise::{
    CommitResult, DynamoStateStore, KeyCommit, OutputItem, OutputTable, StateStore, StoredState,
};
use shardwise_tests::TestEnv;

fn commit(key: &str, expected_version: Option<u64>, body: &str) -> KeyCommit {
    KeyCommit {
        item_key: format!("grouped#{key}"),
        expected_version,
        conditional: true,
        state: StoredState {
            version: expected_version.map_or(1, |v| v + 1),
            body: body.to_owned(),
            ..StoredState::default()
        },
        outputs: Vec::new(),
        timers: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_key_in_a_group_gets_a_conflict_and_the_rest_of_the_group_commits() {
    let env = TestEnv::start().await;
    let (state, dlq) = (
        env.unique_name("grouped-state"),
        env.unique_name("grouped-dlq"),
    );
    env.create_keyed_table(&state).await.unwrap();
    env.create_keyed_table(&dlq).await.unwrap();
    let store = DynamoStateStore::new(env.dynamodb(), &state, None, &dlq).with_commit_grouping(25);

    // Round 1: ten new keys, committed together.
    let first: Vec<KeyCommit> = (0..10).map(|k| commit(&k.to_string(), None, "1")).collect();
    let results = futures::future::join_all(first.iter().map(|c| store.commit(c))).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(CommitResult::Committed))),
        "{results:?}"
    );
    let after_first = store
        .stats()
        .grouped_transactions
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        after_first < 10,
        "ten commits issued together share transactions ({after_first} sent)"
    );

    // Round 2: key 3 claims a version it never read; the other nine are current.
    let second: Vec<KeyCommit> = (0..10)
        .map(|k| {
            let read = if k == 3 { Some(7) } else { Some(1) };
            commit(&k.to_string(), read, "2")
        })
        .collect();
    let results = futures::future::join_all(second.iter().map(|c| store.commit(c))).await;
    for (k, result) in results.iter().enumerate() {
        let want = if k == 3 {
            CommitResult::Conflict
        } else {
            CommitResult::Committed
        };
        assert_eq!(result.as_ref().ok(), Some(&want), "key {k}: {result:?}");
    }
    let second_sent = store
        .stats()
        .grouped_transactions
        .load(std::sync::atomic::Ordering::Relaxed)
        - after_first;
    assert!(
        (2..10).contains(&second_sent),
        "the stale key's group is cancelled once and re-sent without it ({second_sent} sent)"
    );
    let keys: Vec<String> = (0..10).map(|k| format!("grouped#{k}")).collect();
    let stored = store.get_many(&keys, true).await.unwrap();
    for (k, key) in keys.iter().enumerate() {
        let want = if k == 3 { (1, "1") } else { (2, "2") };
        let got = stored.get(key).map(|s| (s.version, s.body.as_str()));
        assert_eq!(got, Some(want), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transactions_scope_groups_commits_with_outputs_and_leaves_single_writes_alone() {
    let env = TestEnv::start().await;
    let (state, out, dlq) = (
        env.unique_name("scoped-state"),
        env.unique_name("scoped-out"),
        env.unique_name("scoped-dlq"),
    );
    for table in [&state, &out, &dlq] {
        env.create_keyed_table(table).await.unwrap();
    }
    let store = DynamoStateStore::new(env.dynamodb(), &state, Some(&out), &dlq)
        .with_commit_grouping_scope(25, GroupScope::Transactions);
    let grouped = || {
        store
            .stats()
            .grouped_transactions
            .load(std::sync::atomic::Ordering::Relaxed)
    };

    // Single-item commits stay plain conditional writes (1× WRU): no group is sent.
    let singles: Vec<KeyCommit> = (0..10).map(|k| commit(&k.to_string(), None, "1")).collect();
    let results = futures::future::join_all(singles.iter().map(|c| store.commit(c))).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(CommitResult::Committed)))
    );
    assert_eq!(grouped(), 0, "single writes are not grouped in this scope");

    // Commits with an output are transactions anyway: they share groups.
    let with_output: Vec<KeyCommit> = (10..20)
        .map(|k| {
            let mut c = commit(&k.to_string(), None, "1");
            c.outputs.push(OutputItem {
                table: OutputTable::Outputs,
                pk: format!("out#{k}"),
                sk: "scoped".into(),
                key: k.to_string(),
                body: "{}".into(),
            });
            c
        })
        .collect();
    let results = futures::future::join_all(with_output.iter().map(|c| store.commit(c))).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(CommitResult::Committed)))
    );
    let sent = grouped();
    assert!(
        (1..10).contains(&sent),
        "ten transactional commits issued together share groups ({sent} sent)"
    );
    let keys: Vec<String> = (0..20).map(|k| format!("grouped#{k}")).collect();
    assert_eq!(store.get_many(&keys, true).await.unwrap().len(), 20);
}
