//! The shard-log state backend (`shardwise::shard_log`) across a split and a merge on the
//! emulator's real Kinesis, DynamoDB and S3: the in-memory reshard test
//! (`shared/src/shard_log/tests.rs`) with `AwsShardLog` and `KinesisShardDirectory`.
//!
//! A one-shard stream is split mid-way (0 → 1 + 2) and merged again (1 + 2 → 3), every
//! shard read back with GetRecords and delivered parents first, as the event source
//! mapping does. Every shard runs in a new processor over a fresh `ShardLogStore` (a new
//! Lambda container), the two halves concurrently, so a child can only find its state
//! through its parents' checkpoints (DynamoDB) and objects (S3), found through ListShards
//! lineage. One batch per shard is re-delivered once by yet another container, and a
//! parent batch again after the grandchild: neither may move a checkpoint. The
//! grandchild's restored state must equal a from-scratch fold of every record, and every
//! ancestor's checkpoint must be marked superseded.

use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use shardwise::shard_log::{AwsShardLog, Checkpoint, ShardLogBackend, ShardLogStore};
use shardwise::shards::ShardParents;
use shardwise::{
    DynamoStateStore, EventTime, JsonCodec, KinesisShardDirectory, ManualClock, ProcessingConfig,
    Processor, ShardId, StateStore,
};
use shardwise_tests::{TestEnv, emulator_only};

use super::Tables;
use super::fixture::{self, OPERATOR, Produced, Totals, Txn};
use super::kinesis_source::{
    RESHARD_CHILDREN as CHILDREN, RESHARD_GRANDCHILD as GRANDCHILD, RESHARD_PARENT as PARENT,
    Resharded, split_then_merge,
};

/// The object key prefix the functions use (`infra/template.yaml`'s default).
const PREFIX: &str = "shardwise-state/";
/// `put` spreads records over this many accounts.
const ACCOUNTS: u64 = 25;
/// Records per phase (before the split, between split and merge, after the merge).
const PER_PHASE: u64 = 150;
/// Whole-batch retries a batch may need (a child losing the race to mark its parent).
const MAX_ATTEMPTS: usize = 10;

type Store = ShardLogStore<DynamoStateStore, AwsShardLog>;
type Proc = Processor<Totals, Store, JsonCodec<Txn>>;

/// What every container of the run shares: the emulator's clients and resources.
struct Deployment {
    env: TestEnv,
    tables: Tables,
    bucket: String,
    arn: String,
}

impl Deployment {
    fn backend(&self) -> AwsShardLog {
        AwsShardLog::new(
            self.env.dynamodb(),
            &self.tables.state,
            self.env.s3(),
            &self.bucket,
            PREFIX,
        )
    }

    fn config(&self) -> ProcessingConfig {
        let mut config = ProcessingConfig::new(&self.tables.state, &self.tables.dead_letter);
        config.output_table = Some(self.tables.output.clone());
        config
    }

    fn inner(&self) -> Arc<DynamoStateStore> {
        Arc::new(DynamoStateStore::new(
            self.env.dynamodb(),
            &self.tables.state,
            Some(&self.tables.output),
            &self.tables.dead_letter,
        ))
    }

    /// A new container's store: nothing in memory.
    fn store(&self) -> Store {
        let clock = Arc::new(ManualClock::new(EventTime(1_767_225_600_000)));
        ShardLogStore::new(
            self.inner(),
            Arc::new(self.backend()),
            OPERATOR,
            self.config().timer_layout,
            clock,
        )
    }

    /// A new container's processor, finding shard lineage through ListShards.
    fn processor(&self) -> Proc {
        Processor::new(
            Arc::new(Totals),
            Arc::new(self.store()),
            JsonCodec::default(),
            self.config(),
            Arc::new(ManualClock::new(EventTime(1_767_225_600_000))),
        )
        .with_shard_directory(Arc::new(KinesisShardDirectory::new(self.env.kinesis())))
    }

    async fn checkpoint(&self, shard: &str) -> Option<Checkpoint> {
        self.backend()
            .read_checkpoint(OPERATOR, &ShardId(shard.into()))
            .await
            .unwrap()
    }
}

/// Delivers `records` in batches of `batch` under the stream's real ARN, retrying a batch
/// whole until it commits (as the event source mapping retries a failed invocation).
/// Returns the batch boundaries.
async fn deliver(processor: &Proc, arn: &str, records: &[Produced], batch: usize) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut cursor = 0;
    while cursor < records.len() {
        let end = (cursor + batch).min(records.len());
        deliver_once(processor, arn, &records[cursor..end]).await;
        ends.push(end);
        cursor = end;
    }
    ends
}

/// Delivers one batch, retried until it commits.
async fn deliver_once(processor: &Proc, arn: &str, records: &[Produced]) {
    let event = event(arn, records);
    for attempt in 1..=MAX_ATTEMPTS {
        match processor.process(&event).await {
            Ok(report) if report.first_failure.is_none() => return,
            Ok(report) => eprintln!("attempt {attempt}: fails from {:?}", report.first_failure),
            Err(e) => eprintln!("attempt {attempt}: {e}"),
        }
    }
    panic!("a batch of {} never committed", records[0].shard);
}

fn event(arn: &str, records: &[Produced]) -> aws_lambda_events::event::kinesis::KinesisEvent {
    let mut event = fixture::lambda_event(records);
    for record in &mut event.records {
        record.event_source_arn = Some(arn.to_owned());
    }
    event
}

/// Re-delivers the batch ending at `ends[i]` in a new container and checks that the
/// shard's checkpoint did not move: every record is a duplicate.
async fn redeliver(run: &Deployment, records: &[Produced], ends: &[usize], i: usize) {
    let shard = &records[0].shard;
    let before = run.checkpoint(shard).await;
    let from = i.checked_sub(1).map_or(0, |p| ends[p]);
    deliver_once(&run.processor(), &run.arn, &records[from..ends[i]]).await;
    assert_eq!(
        run.checkpoint(shard).await,
        before,
        "re-delivering {shard}'s batch {i} changed its checkpoint"
    );
}

/// Produces the stream (split, then merge), delivers every shard as described in the
/// module docs, and returns the deployment with the oracle's expectation; `None` when
/// the emulator serves no DynamoDB.
async fn reshard_and_deliver(env: TestEnv) -> Option<(Deployment, fixture::Expected)> {
    let stream = env.unique_name("fw-log-reshard");
    let mut rng = SmallRng::seed_from_u64(11);
    let Resharded {
        arn,
        parent,
        children,
        grandchild,
    } = split_then_merge(&env, &stream, &mut rng, PER_PHASE).await;
    assert!(
        children.iter().all(|c| !c.is_empty()),
        "both halves got records"
    );
    let all: Vec<Produced> = [parent.clone(), children.concat(), grandchild.clone()].concat();
    assert_eq!(all.len() as u64, 3 * PER_PHASE, "every record read back");
    let expected = fixture::oracle(&all);

    let tables = super::create_tables(&env).await?;
    let bucket = env.unique_name("fw-log-reshard");
    env.s3()
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let run = Deployment {
        env,
        tables,
        bucket,
        arn,
    };

    // Generation by generation, each shard in its own container, the halves concurrently.
    let parent_ends = deliver(&run.processor(), &run.arn, &parent, 20).await;
    redeliver(&run, &parent, &parent_ends, parent_ends.len() / 2).await;
    let (first, second) = (run.processor(), run.processor());
    let child_ends = tokio::join!(
        deliver(&first, &run.arn, &children[0], 15),
        deliver(&second, &run.arn, &children[1], 15)
    );
    for (child, ends) in children.iter().zip([child_ends.0, child_ends.1]) {
        redeliver(&run, child, &ends, 0).await;
    }
    let grandchild_ends = deliver(&run.processor(), &run.arn, &grandchild, 20).await;
    redeliver(
        &run,
        &grandchild,
        &grandchild_ends,
        grandchild_ends.len() - 1,
    )
    .await;
    // A parent's batch once more, after its descendants (a late retry or a zombie).
    redeliver(&run, &parent, &parent_ends, 0).await;
    Some((run, expected))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_split_and_a_merge_new_containers_continue_the_shard_log_from_s3_and_dynamodb() {
    let env = TestEnv::start().await;
    emulator_only!(env, "reshards the emulator's stream and reads its lineage");
    let Some((run, expected)) = reshard_and_deliver(env).await else {
        return;
    };
    let last = run.checkpoint(GRANDCHILD).await.unwrap();
    assert!(!last.superseded, "the grandchild is the live shard");
    // The grandchild's state, restored by yet another container without a directory.
    let keys: Vec<String> = (0..ACCOUNTS)
        .map(|k| format!("{OPERATOR}#acct-{k}"))
        .collect();
    let store = run.store();
    store
        .begin_shard(&ShardId(GRANDCHILD.into()), ShardParents::default())
        .await
        .unwrap();
    let states = store.get_many(&keys, true).await.unwrap();
    store.abandon_shard(&ShardId(GRANDCHILD.into())).await;
    expected.assert_states(ACCOUNTS, |key| states.get(key));
    assert!(
        run.inner().get_many(&keys, true).await.unwrap().is_empty(),
        "no per-key state items: the state lives in the shard log"
    );
    assert_eq!(
        super::scan_ids(&run.env, &run.tables.output).await,
        expected.alerts
    );
    assert_eq!(
        super::scan_ids(&run.env, &run.tables.dead_letter).await,
        expected.dead_letters
    );
}

/// The mark a child puts on its ancestors is stored in DynamoDB (it once was not: the
/// in-memory backend kept it, so only this test saw that a late or zombie ancestor batch
/// would fire the ancestor's in-process timers again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_split_and_a_merge_the_ancestors_checkpoints_stay_marked_superseded() {
    let env = TestEnv::start().await;
    emulator_only!(env, "reshards the emulator's stream and reads its lineage");
    let Some((run, _)) = reshard_and_deliver(env).await else {
        return;
    };
    for ancestor in [PARENT, CHILDREN[0], CHILDREN[1]] {
        let checkpoint = run.checkpoint(ancestor).await;
        assert!(
            checkpoint.is_some_and(|c| c.superseded),
            "{ancestor} handed its state on"
        );
    }
}
