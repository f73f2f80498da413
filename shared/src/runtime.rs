//! Runtime glue: `run_kinesis` / `run_kinesis_with` are the only code in the workspace
//! that call `lambda_runtime::run` for stream functions. A function's `main` builds its operator and calls it.

use std::sync::Arc;

use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::{LambdaEvent, service_fn};

use crate::clock::{Clock, SystemClock};
use crate::codec::{Codec, JsonCodec};
use crate::commit::Processor;
use crate::config::{ProcessingConfig, StateBackend};
use crate::dispatcher::DispatcherConfig;
use crate::dynamo_store::DynamoStateStore;
use crate::error::Error;
use crate::kinesis_event::KinesisBatch;
use crate::operator::Operator;
use crate::shard_log::{AwsShardLog, ShardLogStore};
use crate::shards::KinesisShardDirectory;
use crate::sinks::KinesisSink;
use crate::store::StateStore;

/// Initializes JSON tracing logs (level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`).
pub fn init_tracing() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_current_span(true)
        .without_time()
        .try_init();
}

/// Runs `operator` as a Kinesis-triggered Lambda function with JSON records, the
/// DynamoDB state store built from the standard AWS environment, and the system clock.
pub async fn run_kinesis<O>(
    operator: O,
    config: ProcessingConfig,
) -> Result<(), lambda_runtime::Error>
where
    O: Operator,
    O::Event: serde::de::DeserializeOwned,
{
    run_kinesis_with(operator, JsonCodec::default(), config).await
}

/// [`run_kinesis`] with a codec of the operator's choice (e.g. one that validates and
/// names the reason a record is malformed).
pub async fn run_kinesis_with<O: Operator, C: Codec<O::Event>>(
    operator: O,
    codec: C,
    config: ProcessingConfig,
) -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let sdk = aws_config::load_from_env().await;
    let store = DynamoStateStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &config.state_table,
        config.output_table.as_deref(),
        &config.dead_letter_table,
    )
    .with_late_events_table(config.late_events_table.as_deref())
    .with_timers_table(config.timers_table.as_deref())
    .with_commit_grouping_scope(config.commit_group, config.commit_group_scope);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    match config.state_backend.clone() {
        StateBackend::DynamoDb => serve(operator, store, codec, config, clock, &kinesis).await,
        StateBackend::ShardLog { bucket, prefix } => {
            let backend = AwsShardLog::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                &config.state_table,
                aws_sdk_s3::Client::new(&sdk),
                &bucket,
                &prefix,
            );
            let store = ShardLogStore::new(
                Arc::new(store),
                Arc::new(backend),
                operator.name(),
                config.timer_layout,
                Arc::clone(&clock),
            );
            serve(operator, store, codec, config, clock, &kinesis).await
        }
    }
}

/// Runs the Lambda loop for `operator` over `store`.
async fn serve<O: Operator, S: StateStore, C: Codec<O::Event>>(
    operator: O,
    store: S,
    codec: C,
    config: ProcessingConfig,
    clock: Arc<dyn Clock>,
    kinesis: &aws_sdk_kinesis::Client,
) -> Result<(), lambda_runtime::Error> {
    let publisher = config
        .output_stream
        .as_deref()
        .map(|stream| KinesisSink::new(kinesis.clone(), stream));
    let timers = DispatcherConfig::from_processing(&config);
    let mut processor = Processor::new(
        Arc::new(operator),
        Arc::new(store),
        codec,
        config,
        Arc::clone(&clock),
    )
    .with_shard_directory(Arc::new(KinesisShardDirectory::new(kinesis.clone())))
    .with_in_process_timers(timers);
    if let Some(sink) = publisher {
        processor = processor.with_publisher(sink);
    }
    let processor = Arc::new(processor);
    let operator_name = processor.operator_name().to_owned();
    // Boxed: the runtime's future type is deep enough to overflow the compiler's query
    // depth limit in a user's `main` otherwise.
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KinesisBatch>| {
            let processor = Arc::clone(&processor);
            let clock = Arc::clone(&clock);
            let operator_name = operator_name.clone();
            Box::pin(async move { handle(&processor, &operator_name, &*clock, event).await })
        },
    )))
    .await
}

async fn handle<O: Operator, S: StateStore, C: Codec<O::Event>>(
    processor: &Processor<O, S, C>,
    operator_name: &str,
    clock: &dyn Clock,
    event: LambdaEvent<KinesisBatch>,
) -> Result<KinesisEventResponse, Error> {
    let payload = event.payload.into_inner();
    let shard = crate::batch::shard_of(&payload)
        .map(|s| s.0)
        .unwrap_or_default();
    let span = tracing::info_span!("batch", request_id = %event.context.request_id, shard = %shard,
        records = payload.records.len());
    let _entered = span.enter();
    let report = processor.process(&payload).await?;
    // EMF lines go to stdout, where CloudWatch Logs picks them up.
    println!(
        "{}",
        report
            .metrics
            .emf_line(operator_name, &shard, clock.now().0)
    );
    tracing::info!(failed_from = ?report.first_failure.as_ref().map(|s| s.to_string()), "batch done");
    Ok(report.response())
}
