//! Where each stream function kept its keyed state, read back like any client would: the
//! backend its environment selects (`SHARDWISE_STATE_BACKEND`, the template's
//! `StateBackend` parameter for fraud-detector, session-tracker and daily-totals' first-seen
//! gate) and, on the shard log, the shards its
//! registry lists and the batches their checkpoints committed. The summary shows it so a
//! run says which backend produced its alerts, and fails when a shard-log function
//! processed the day without committing a single checkpoint.

use std::collections::BTreeMap;

use serde::Serialize;
use shardwise::ProcessingConfig;
use shardwise::config::StateBackend;
use shardwise::ids::ShardId;
use shardwise::shard_log::{AwsShardLog, ShardLogBackend};

use crate::stack::Running;

pub use shardwise::config::{
    STATE_BACKEND_DYNAMODB as DYNAMODB, STATE_BACKEND_SHARD_LOG as SHARD_LOG,
};

/// One stream function's state backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateBackendSummary {
    /// [`DYNAMODB`] or [`SHARD_LOG`].
    pub backend: String,
    /// Shard log: shards with a checkpoint (the operator's registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shards: Option<u64>,
    /// Shard log: batches committed, over all shards (the checkpoints' versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<u64>,
    /// Shard log: shards whose checkpoint still has an event-time timer pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_event_timers: Option<u64>,
    /// Why the shard log could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The state backend of every running stream function (binary name → backend), with the
/// operator named after its binary, as the application's functions are.
pub async fn state_backends(
    running: &Running,
    ddb: &aws_sdk_dynamodb::Client,
    s3: &aws_sdk_s3::Client,
) -> BTreeMap<String, StateBackendSummary> {
    let mut out = BTreeMap::new();
    for f in &running.stack.template.functions {
        if f.kinesis.is_empty() || !running.runs(&f.binary) {
            continue;
        }
        let env = &f.environment;
        let summary = match ProcessingConfig::from_lookup(|name| env.get(name).cloned()) {
            Err(e) => StateBackendSummary {
                backend: String::new(),
                shards: None,
                commits: None,
                pending_event_timers: None,
                error: Some(e.to_string()),
            },
            Ok(config) => match &config.state_backend {
                StateBackend::DynamoDb => StateBackendSummary {
                    backend: config.state_backend.name().to_owned(),
                    shards: None,
                    commits: None,
                    pending_event_timers: None,
                    error: None,
                },
                StateBackend::ShardLog { bucket, prefix } => {
                    let log = AwsShardLog::new(
                        ddb.clone(),
                        &config.state_table,
                        s3.clone(),
                        bucket,
                        prefix,
                    );
                    shard_log_summary(&log, shard_log_operator(&f.binary)).await
                }
            },
        };
        out.insert(f.binary.clone(), summary);
    }
    out
}

/// The operator whose shard log a function writes: its binary's name, except daily-totals,
/// whose totals stay in DynamoDB and whose shard log is its first-seen gate's.
fn shard_log_operator(binary: &str) -> &str {
    match binary {
        daily_totals::OPERATOR_NAME => daily_totals::GATE_OPERATOR,
        other => other,
    }
}

async fn shard_log_summary(log: &AwsShardLog, operator: &str) -> StateBackendSummary {
    let mut summary = StateBackendSummary {
        backend: SHARD_LOG.to_owned(),
        shards: None,
        commits: None,
        pending_event_timers: None,
        error: None,
    };
    let shards: Vec<ShardId> = match log.shards(operator).await {
        Ok(s) => s,
        Err(e) => {
            summary.error = Some(e.to_string());
            return summary;
        }
    };
    let (mut commits, mut pending) = (0, 0);
    for shard in &shards {
        match log.read_checkpoint(operator, shard).await {
            Ok(Some(c)) => {
                commits += c.version;
                pending += u64::from(c.next_event.is_some() && !c.superseded);
            }
            Ok(None) => {}
            Err(e) => {
                summary.error = Some(e.to_string());
                return summary;
            }
        }
    }
    summary.shards = Some(shards.len() as u64);
    summary.commits = Some(commits);
    summary.pending_event_timers = Some(pending);
    summary
}

/// Shards of shard-log functions with an event-time timer still pending (their timers are
/// not in the timers table); `None` if a shard log could not be read.
pub async fn pending_shard_log_event_timers(
    running: &Running,
    ddb: &aws_sdk_dynamodb::Client,
    s3: &aws_sdk_s3::Client,
) -> Option<u64> {
    let mut total = 0;
    for summary in state_backends(running, ddb, s3).await.into_values() {
        if summary.backend == SHARD_LOG {
            total += summary.pending_event_timers?;
        }
    }
    Some(total)
}
