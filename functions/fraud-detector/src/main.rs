//! `fraud-detector` Lambda entry point: reads the configuration from the environment
//! (alerts to `ALERTS_TABLE` and `ALERTS_STREAM`) and runs the detector on the
//! `transactions` stream with the shared validating codec. Logic lives in the library.
//!
//! `FRAUD_RULES=r1-hop` runs the Flink benchmark's rule R1 instead (`fraud_detector::hop`):
//! alert rows to `ALERTS_TABLE` only (the benchmark compares rows, not the alert stream),
//! with the watermark bound equivalent to Flink's 10 s unless
//! `WATERMARK_OUT_OF_ORDERNESS_MS` is set.

use fraud_detector::hop::{HopVelocity, R1_WATERMARK_OUT_OF_ORDERNESS_MS, r1_hop_selected};
use fraud_detector::{FraudConfig, FraudDetector, processing_config};
use monitoring::codec::TransactionCodec;
use shardwise::config::ENV_WATERMARK_OUT_OF_ORDERNESS_MS;

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let lookup = |name: &str| std::env::var(name).ok();
    let mut processing = processing_config(lookup)?;
    if r1_hop_selected(lookup) {
        processing.output_stream = None;
        if lookup(ENV_WATERMARK_OUT_OF_ORDERNESS_MS).is_none() {
            processing.watermark.out_of_orderness_ms = R1_WATERMARK_OUT_OF_ORDERNESS_MS;
        }
        return shardwise::run_kinesis_with(
            HopVelocity::new(),
            TransactionCodec::default(),
            processing,
        )
        .await;
    }
    let detector = FraudDetector::new(FraudConfig::from_env()?);
    shardwise::run_kinesis_with(detector, TransactionCodec::default(), processing).await
}
