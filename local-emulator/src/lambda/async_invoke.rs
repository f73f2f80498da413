//! Asynchronous invocation (`Event`): what the Invoke API's `Event` type, EventBridge
//! rules and EventBridge Scheduler use.
//!
//! On a function error Lambda retries an asynchronous event twice, waiting about one
//! minute before the first retry and two minutes before the second
//! (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html>).
//! The waits follow the emulator's controllable clock, so a test can advance through
//! them; retries are counted per function (`async_retries`) because they are a source
//! of duplicate deliveries that handlers must tolerate. Not emulated: the event age
//! limit, `EventInvokeConfig` overrides and on-failure destinations for async events.

use std::time::Duration;

use bytes::Bytes;

use super::{Admission, InvokeError, InvokeOutcome, Lambda};
use crate::Clock;

/// Waits before the first and the second retry.
pub const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];

/// How often (real time) a waiting retry looks at the clock.
const CLOCK_POLL: Duration = Duration::from_millis(20);

/// Invokes `name` asynchronously: up to three attempts, waiting on `clock` in between.
/// Returns the last outcome.
pub async fn invoke_async(
    lambda: &Lambda,
    clock: &Clock,
    name: &str,
    payload: Bytes,
) -> Result<InvokeOutcome, InvokeError> {
    let mut attempt = 0;
    loop {
        let outcome = lambda
            .invoke(name, payload.clone(), Admission::Wait)
            .await?;
        let Some(delay) = RETRY_DELAYS.get(attempt).filter(|_| outcome.is_error()) else {
            return Ok(outcome);
        };
        let due = clock.now() + *delay;
        while clock.now() < due {
            tokio::time::sleep(CLOCK_POLL).await;
        }
        if let Some(f) = lambda.function(name) {
            f.count_async_retry();
        }
        attempt += 1;
    }
}
