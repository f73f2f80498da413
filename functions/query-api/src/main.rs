//! Wires the query API to the Lambda runtime: env, SDK clients, handler.

use std::sync::Arc;

use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use query_api::QueryApi;

const ENV_ARCHIVE_BUCKET: &str = "ARCHIVE_BUCKET";
const ENV_OUTPUTS_TABLE: &str = "OUTPUTS_TABLE";

fn required(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shardwise::runtime::init_tracing();
    let bucket = required(ENV_ARCHIVE_BUCKET)?;
    let outputs_table = required(ENV_OUTPUTS_TABLE)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Emulators (and LocalStack) need path-style S3 addressing.
    let path_style = std::env::var("AWS_ENDPOINT_URL").is_ok();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(path_style)
            .build(),
    );
    let api = Arc::new(QueryApi::new(
        s3,
        aws_sdk_dynamodb::Client::new(&sdk),
        &bucket,
        &outputs_table,
    ));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<LambdaFunctionUrlRequest>| {
            let api = Arc::clone(&api);
            async move { Ok::<_, lambda_runtime::Error>(api.handle(&event.payload).await) }
        },
    ))
    .await
}
