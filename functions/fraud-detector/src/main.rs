//! `fraud-detector` Lambda entry point: reads the configuration from the environment
//! and runs the detector on the `transactions` stream. Logic lives in the library.

use fraud_detector::{FraudConfig, FraudDetector};
use shardwise::ProcessingConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let processing = ProcessingConfig::from_env()?;
    let detector = FraudDetector::new(FraudConfig::from_env()?);
    shardwise::run_kinesis(detector, processing).await
}
