//! The `load-generator` Lambda function: wiring only (logs, SDK clients, runtime).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use load_generator::{LoadReport, LoadRequest, handle};

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .without_time()
        .init();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let kinesis = Arc::new(aws_sdk_kinesis::Client::new(&config));
    // Emulators (and LocalStack) need path-style S3 addressing.
    let path_style = std::env::var("AWS_ENDPOINT_URL").is_ok();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(path_style)
            .build(),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<LoadRequest>| {
        let kinesis = Arc::clone(&kinesis);
        let s3 = s3.clone();
        async move {
            let report: LoadReport =
                handle(event.payload, kinesis, &s3, |k| std::env::var(k).ok()).await?;
            tracing::info!(
                records = report.records,
                put_calls = report.put_calls,
                "load done"
            );
            Ok::<_, Error>(report)
        }
    }))
    .await
}
