//! `daily-totals`: only wiring. Tables from the environment the SAM template sets
//! (`ProcessingConfig::from_env`), allowed lateness from `ALLOWED_LATENESS_SECONDS`,
//! DynamoDB through the official SDK (endpoint from `AWS_ENDPOINT_URL`), the stream's
//! shards through Kinesis `ListShards` (watermark hold-back and lineage), and with
//! `SHARDWISE_STATE_BACKEND=shard_log` the first-seen gate's memory in S3 (`daily_totals::gate`).

use std::sync::Arc;

use daily_totals::{DailyTotalsConfig, DailyTotalsHandler, Dedupe, GATE_OPERATOR};
use shardwise::config::StateBackend;
use shardwise::shard_log::{AwsShardLog, ShardLogStore};
use shardwise::{
    Clock, DynamoStateStore, Error, KinesisShardDirectory, ProcessingConfig, SystemClock,
};

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shardwise::runtime::init_tracing();
    let processing = ProcessingConfig::from_env()?;
    let config = DailyTotalsConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let store = Arc::new(
        DynamoStateStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &processing.state_table,
            processing.output_table.as_deref(),
            &processing.dead_letter_table,
        )
        .with_late_events_table(processing.late_events_table.as_deref())
        .with_timers_table(processing.timers_table.as_deref())
        // As shardwise::runtime::run_kinesis_with: SHARDWISE_COMMIT_GROUP(_SCOPE) take effect.
        .with_commit_grouping_scope(processing.commit_group, processing.commit_group_scope),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let shards = Arc::new(KinesisShardDirectory::new(aws_sdk_kinesis::Client::new(
        &sdk,
    )));
    let handler =
        DailyTotalsHandler::new(Arc::clone(&store), &processing, config, Arc::clone(&clock));
    if config.dedupe != Dedupe::Account {
        return daily_totals::run(handler.with_shard_directory(shards), clock).await;
    }
    let StateBackend::ShardLog { bucket, prefix } = &processing.state_backend else {
        return Err(Error::Config(
            "DAILY_TOTALS_DEDUPE=account keeps its memory on the shard log: it needs SHARDWISE_STATE_BACKEND=shard_log and SHARDWISE_STATE_BUCKET".into(),
        )
        .into());
    };
    let backend = AwsShardLog::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &processing.state_table,
        aws_sdk_s3::Client::new(&sdk),
        bucket,
        prefix,
    );
    let gate_store = ShardLogStore::new(
        store,
        Arc::new(backend),
        GATE_OPERATOR,
        processing.timer_layout,
        Arc::clone(&clock),
    );
    let handler = handler
        .with_gate(Arc::new(gate_store))
        .with_shard_directory(shards);
    daily_totals::run(handler, clock).await
}
