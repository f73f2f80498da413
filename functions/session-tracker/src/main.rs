//! session-tracker: wiring only (see the library).

use monitoring::codec::TransactionCodec;
use session_tracker::SessionTracker;
use shardwise::ProcessingConfig;

/// mimalloc: glibc malloc (with `malloc_consolidate` on the large batch payloads) was ~40%
/// of a stream function's CPU in the pipeline benchmark (perf); the emulator uses it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let tracker = SessionTracker::from_lookup(|name| std::env::var(name).ok())?;
    let config = ProcessingConfig::from_env()?;
    shardwise::run_kinesis_with(tracker, TransactionCodec::default(), config).await
}
