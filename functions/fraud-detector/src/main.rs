//! `fraud-detector` Lambda entry point: reads the configuration from the environment
//! (alerts to `ALERTS_TABLE` and `ALERTS_STREAM`) and runs the detector on the
//! `transactions` stream with the validating codec. Logic lives in the library.

use std::sync::Arc;

use fraud_detector::{FraudConfig, FraudDetector, ValidatingCodec, processing_config};
use shardwise::SystemClock;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let processing = processing_config(|name| std::env::var(name).ok())?;
    let detector = FraudDetector::new(FraudConfig::from_env()?);
    let codec = ValidatingCodec::new(Arc::new(SystemClock));
    shardwise::run_kinesis_with(detector, codec, processing).await
}
