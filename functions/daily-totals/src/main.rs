//! `daily-totals`: only wiring. Tables from the environment the SAM template sets
//! (`ProcessingConfig::from_env`), allowed lateness from `ALLOWED_LATENESS_SECONDS`,
//! DynamoDB through the official SDK (endpoint from `AWS_ENDPOINT_URL`), the stream's
//! shards through Kinesis `ListShards` (watermark hold-back and lineage).

use std::sync::Arc;

use daily_totals::{DailyTotalsConfig, DailyTotalsHandler};
use shardwise::{Clock, DynamoStateStore, KinesisShardDirectory, ProcessingConfig, SystemClock};

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
    let store = DynamoStateStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &processing.state_table,
        processing.output_table.as_deref(),
        &processing.dead_letter_table,
    )
    .with_late_events_table(processing.late_events_table.as_deref())
    .with_timers_table(processing.timers_table.as_deref())
    // As shardwise::runtime::run_kinesis_with: SHARDWISE_COMMIT_GROUP(_SCOPE) take effect.
    .with_commit_grouping_scope(processing.commit_group, processing.commit_group_scope);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let shards = KinesisShardDirectory::new(aws_sdk_kinesis::Client::new(&sdk));
    let handler = DailyTotalsHandler::new(Arc::new(store), &processing, config, Arc::clone(&clock))
        .with_shard_directory(Arc::new(shards));
    daily_totals::run(handler, clock).await
}
