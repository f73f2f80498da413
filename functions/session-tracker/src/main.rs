//! session-tracker: wiring only (see the library).

use monitoring::codec::TransactionCodec;
use session_tracker::SessionTracker;
use shardwise::ProcessingConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let tracker = SessionTracker::from_lookup(|name| std::env::var(name).ok())?;
    let config = ProcessingConfig::from_env()?;
    shardwise::run_kinesis_with(tracker, TransactionCodec::default(), config).await
}
