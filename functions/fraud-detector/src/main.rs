//! `fraud-detector` Lambda entry point: reads the configuration from the environment
//! (alerts to `ALERTS_TABLE` and `ALERTS_STREAM`) and runs the detector on the
//! `transactions` stream with the shared validating codec. Logic lives in the library.

use fraud_detector::{FraudConfig, FraudDetector, processing_config};
use monitoring::codec::TransactionCodec;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let processing = processing_config(|name| std::env::var(name).ok())?;
    let detector = FraudDetector::new(FraudConfig::from_env()?);
    shardwise::run_kinesis_with(detector, TransactionCodec::default(), processing).await
}
