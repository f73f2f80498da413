//! Wires the reconciler to the Lambda runtime: env, SDK clients, handler.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use reconciler::{Reconciler, ReconcilerConfig};

const ENV_ARCHIVE_BUCKET: &str = "ARCHIVE_BUCKET";
const ENV_OUTPUTS_TABLE: &str = "OUTPUTS_TABLE";
const ENV_LATE_EVENTS_TABLE: &str = "LATE_EVENTS_TABLE";
const ENV_ALERTS_TABLE: &str = "ALERTS_TABLE";

fn required(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shardwise::runtime::init_tracing();
    let config = ReconcilerConfig {
        bucket: required(ENV_ARCHIVE_BUCKET)?,
        outputs_table: required(ENV_OUTPUTS_TABLE)?,
        late_events_table: optional(ENV_LATE_EVENTS_TABLE),
        alerts_table: optional(ENV_ALERTS_TABLE),
    };
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Emulators (and LocalStack) need path-style S3 addressing.
    let path_style = std::env::var("AWS_ENDPOINT_URL").is_ok();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(path_style)
            .build(),
    );
    let reconciler = Arc::new(Reconciler::new(
        s3,
        aws_sdk_dynamodb::Client::new(&sdk),
        config,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let reconciler = Arc::clone(&reconciler);
        async move {
            reconciler
                .handle(&event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
