//! Kinesis event source mappings: pollers that invoke functions with AWS's delivery
//! semantics.
//!
//! ## Layout
//! - [`mapping`] — one mapping: shard discovery (parents drained before children),
//!   one reader per shard, its counters and checkpoints.
//! - [`slot`] — one sub-batcher of a shard (ParallelizationFactor slots, records routed
//!   by partition-key hash so per-key order holds): batching window, batch size,
//!   retries, bisection, partial-batch responses, record age, tumbling windows.
//! - [`records`] — records, the event JSON, and the verdict on a response.
//! - [`destination`] — OnFailure records written to S3.
//! - [`client`] — the Kinesis calls the readers make; [`source`] the seam between
//!   readers and Kinesis; [`memory`] an in-memory shard log for tests.
//!
//! ## Supported properties
//! BatchSize, MaximumBatchingWindowInSeconds, StartingPosition (TRIM_HORIZON, LATEST,
//! AT_TIMESTAMP), ParallelizationFactor, MaximumRetryAttempts,
//! MaximumRecordAgeInSeconds (checked before retries), BisectBatchOnFunctionError,
//! FunctionResponseTypes ReportBatchItemFailures, TumblingWindowInSeconds,
//! DestinationConfig.OnFailure (S3 only), Enabled. Not supported: FilterCriteria,
//! enhanced fan-out consumers, DynamoDB/SQS/Kafka sources, runtime updates of a
//! mapping (UpdateEventSourceMapping).

pub mod client;
pub mod destination;
pub mod mapping;
pub mod memory;
pub mod records;
pub mod slot;
pub mod source;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Emulator;
use crate::server::MetricsSource;
use crate::template::Template;

pub use mapping::Mapping;

/// Polling cadence.
#[derive(Debug, Clone)]
pub struct EsmOptions {
    /// Wait between polls of an idle shard (AWS: about one second).
    pub idle_poll: Duration,
    /// Wait before retrying a failed batch (grows exponentially up to 16×).
    pub retry_backoff: Duration,
}

impl Default for EsmOptions {
    fn default() -> Self {
        Self {
            idle_poll: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(500),
        }
    }
}

impl EsmOptions {
    /// Fast polling for tests and demos.
    pub fn fast() -> Self {
        Self {
            idle_poll: Duration::from_millis(20),
            retry_backoff: Duration::from_millis(20),
        }
    }
}

/// Every mapping of a stack.
#[derive(Debug)]
pub struct EventSourceMappings {
    mappings: Vec<Arc<Mapping>>,
}

impl EventSourceMappings {
    /// Starts a poller for every Kinesis event of every function in `template`.
    pub fn start(
        emulator: &Arc<Emulator>,
        template: &Template,
        options: &EsmOptions,
    ) -> Result<Arc<Self>, String> {
        let mut mappings = Vec::new();
        for f in &template.functions {
            for spec in &f.kinesis {
                let source = Arc::new(source::KinesisSource(Arc::clone(emulator)));
                mappings.push(Mapping::start(
                    emulator,
                    source,
                    f,
                    spec.clone(),
                    options.clone(),
                )?);
            }
        }
        Ok(Arc::new(Self { mappings }))
    }

    /// The mappings.
    pub fn mappings(&self) -> &[Arc<Mapping>] {
        &self.mappings
    }

    /// Stops every poller.
    pub fn stop(&self) {
        for m in &self.mappings {
            m.stop();
        }
    }
}

impl Drop for EventSourceMappings {
    fn drop(&mut self) {
        self.stop();
    }
}

impl MetricsSource for EventSourceMappings {
    fn key(&self) -> &'static str {
        "event_source_mappings"
    }

    fn metrics(&self) -> Value {
        Value::Array(self.mappings.iter().map(|m| m.metrics_json()).collect())
    }
}

/// `{"<uuid>": {...}}` for a list of mappings (used by tests that start mappings
/// without a template).
pub fn metrics_of(mappings: &[Arc<Mapping>]) -> Value {
    json!(
        mappings
            .iter()
            .map(|m| m.metrics_json())
            .collect::<Vec<_>>()
    )
}
