//! `timer-dispatcher`: wiring only. Reads the environment (the template's STATE_TABLE,
//! TIMERS_TABLE, OUTPUTS_TABLE, LATE_EVENTS_TABLE, DEAD_LETTER_TABLE, timer/watermark
//! settings, session-tracker's SHARDWISE_STATE_BACKEND), builds the DynamoDB store (and the
//! shard log) and runs the handler in `lib.rs` per scheduled event.

use std::sync::Arc;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use shardwise::config::StateBackend;
use shardwise::shard_log::AwsShardLog;
use shardwise::{Clock, DynamoStateStore, ProcessingConfig, SystemClock};

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shardwise::runtime::init_tracing();
    let config = ProcessingConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let store = DynamoStateStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &config.state_table,
        config.output_table.as_deref(),
        &config.dead_letter_table,
    )
    .with_late_events_table(config.late_events_table.as_deref())
    // No commit grouping here: a key's timers firing together (session-tracker's heartbeat
    // and inactivity timers) conflict, and a conflict cancels a whole group — the demo's
    // 19,884 session firings took 23 s grouped against 17 s one by one.
    .with_timers_table(config.timers_table.as_deref());
    // session-tracker's backend (SHARDWISE_STATE_BACKEND, as on its stream function).
    let shard_log = match &config.state_backend {
        StateBackend::DynamoDb => None,
        StateBackend::ShardLog { bucket, prefix } => Some(Arc::new(AwsShardLog::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &config.state_table,
            aws_sdk_s3::Client::new(&sdk),
            bucket,
            prefix,
        ))),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let timers = Arc::new(timer_dispatcher::timers(
        Arc::new(store),
        shard_log,
        Arc::clone(&clock),
        &config,
        |name| std::env::var(name).ok(),
    )?);
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CloudWatchEvent>| {
            let timers = Arc::clone(&timers);
            let clock = Arc::clone(&clock);
            Box::pin(async move {
                let deadline_ms = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
                timer_dispatcher::handle(&timers, &*clock, &event.payload, deadline_ms).await
            })
        },
    )))
    .await
}
