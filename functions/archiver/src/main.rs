//! Wires the archiver to the Lambda runtime: env, SDK client, handler.

use std::sync::Arc;

use archiver::Archiver;
use lambda_runtime::{LambdaEvent, service_fn};
use shardwise::KinesisBatch;

/// Bucket for the raw archive (infra/template.yaml Globals).
const ENV_ARCHIVE_BUCKET: &str = "ARCHIVE_BUCKET";

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shardwise::runtime::init_tracing();
    let bucket = std::env::var(ENV_ARCHIVE_BUCKET)
        .map_err(|_| format!("{ENV_ARCHIVE_BUCKET} is not set"))?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Emulators (and LocalStack) need path-style S3 addressing.
    let path_style = std::env::var("AWS_ENDPOINT_URL").is_ok();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(path_style)
            .build(),
    );
    let archiver = Arc::new(Archiver::new(s3, &bucket));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisBatch>| {
        let archiver = Arc::clone(&archiver);
        async move {
            archiver
                .handle(&event.payload.into_inner())
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
