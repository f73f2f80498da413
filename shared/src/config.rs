//! `ProcessingConfig`: how a function processes its batches, read once from the
//! environment the SAM template sets, through an injectable lookup (as cargo-lambda
//! does) so tests never touch the process environment.

use std::time::Duration;

use crate::error::Error;

/// Env var: `exactly_once` (default) or `at_least_once`.
pub const ENV_CONSISTENCY: &str = "SHARDWISE_CONSISTENCY";
// Table and stream names use the variables `infra/template.yaml` sets for every function
// (its Globals), so a function needs no per-framework configuration.
/// Env var: the state table name (required).
pub const ENV_STATE_TABLE: &str = "STATE_TABLE";
/// Env var: the outputs table name (optional; operators that emit need it).
pub const ENV_OUTPUT_TABLE: &str = "OUTPUTS_TABLE";
/// Env var: the dead-letter table name (required).
pub const ENV_DEAD_LETTER_TABLE: &str = "DEAD_LETTER_TABLE";
/// Env var: the timers table name (optional; operators that set timers need it).
pub const ENV_TIMERS_TABLE: &str = "TIMERS_TABLE";
/// Env var: the late-events table name (optional; operators that route late events need it).
pub const ENV_LATE_EVENTS_TABLE: &str = "LATE_EVENTS_TABLE";
/// Env var: how many key commits run concurrently.
pub const ENV_COMMIT_CONCURRENCY: &str = "SHARDWISE_COMMIT_CONCURRENCY";
/// Env var: actions per grouped TransactWriteItems (2–100; unset, 0 or 1: each key commits
/// alone). See `dynamo_group`: fewer requests.
pub const ENV_COMMIT_GROUP: &str = "SHARDWISE_COMMIT_GROUP";
/// Env var: which commits are grouped: `transactions` (default: those that are
/// transactions anyway, at no extra write units) or `all` (single-item commits too, at
/// twice their write units).
pub const ENV_COMMIT_GROUP_SCOPE: &str = "SHARDWISE_COMMIT_GROUP_SCOPE";
/// Env var: attempts per DynamoDB call on throttling before giving up on the key.
pub const ENV_MAX_THROTTLE_RETRIES: &str = "SHARDWISE_MAX_THROTTLE_RETRIES";
/// Env var: re-reads per key on version conflicts before giving up on the key.
pub const ENV_MAX_CONFLICT_RETRIES: &str = "SHARDWISE_MAX_CONFLICT_RETRIES";
/// Env var: retryable operator failures of one record before it is dead-lettered.
pub const ENV_MAX_RECORD_ATTEMPTS: &str = "SHARDWISE_MAX_RECORD_ATTEMPTS";
/// Env var: largest serialized state per key, bytes (below DynamoDB's 400 KB item limit).
pub const ENV_MAX_STATE_BYTES: &str = "SHARDWISE_MAX_STATE_BYTES";
/// Env var: batches slower than this many milliseconds are logged and counted.
pub const ENV_LATENCY_THRESHOLD_MS: &str = "SHARDWISE_LATENCY_THRESHOLD_MS";

/// Env var: bounded out-of-orderness of event times, ms (watermark = max − this).
pub const ENV_WATERMARK_OUT_OF_ORDERNESS_MS: &str = "WATERMARK_OUT_OF_ORDERNESS_MS";
/// Env var: a shard without watermark progress for this long is advanced by processing time.
pub const ENV_WATERMARK_IDLE_TIMEOUT_MS: &str = "WATERMARK_IDLE_TIMEOUT_MS";
/// Env var: processing-time timer bucket width, seconds (same for every function!).
pub const ENV_TIMER_BUCKET_SECONDS: &str = "TIMER_BUCKET_SECONDS";
/// Env var: spread partitions per timer bucket (same for every function!).
pub const ENV_TIMER_SPREAD: &str = "TIMER_SPREAD";
/// Env var: where keyed state lives, `dynamodb` (default: one item per key) or
/// `shard_log` (per shard in the function's memory, one S3 object and one checkpoint per
/// batch; see [`crate::shard_log`]).
pub const ENV_STATE_BACKEND: &str = "SHARDWISE_STATE_BACKEND";
/// Env var: the S3 bucket of the `shard_log` backend's objects.
pub const ENV_STATE_BUCKET: &str = "SHARDWISE_STATE_BUCKET";
/// Env var: the key prefix of the `shard_log` backend's objects (default `shardwise-state/`).
pub const ENV_STATE_PREFIX: &str = "SHARDWISE_STATE_PREFIX";
/// The `shard_log` backend's default object prefix.
pub const DEFAULT_STATE_PREFIX: &str = "shardwise-state/";

/// The `SHARDWISE_STATE_BACKEND` value of the per-key DynamoDB backend.
pub const STATE_BACKEND_DYNAMODB: &str = "dynamodb";
/// The `SHARDWISE_STATE_BACKEND` value of the shard-log backend.
pub const STATE_BACKEND_SHARD_LOG: &str = "shard_log";

/// Where keyed state lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StateBackend {
    /// One DynamoDB item per key, committed per key per batch.
    #[default]
    DynamoDb,
    /// Per shard in memory, logged to S3, checkpointed in the state table.
    ShardLog {
        /// The objects' bucket.
        bucket: String,
        /// The objects' key prefix.
        prefix: String,
    },
}

impl StateBackend {
    /// Its `SHARDWISE_STATE_BACKEND` value.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DynamoDb => STATE_BACKEND_DYNAMODB,
            Self::ShardLog { .. } => STATE_BACKEND_SHARD_LOG,
        }
    }

    fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let chosen = lookup(ENV_STATE_BACKEND).filter(|t| !t.trim().is_empty());
        match chosen.as_deref().map(str::trim) {
            None | Some(STATE_BACKEND_DYNAMODB) => Ok(Self::DynamoDb),
            Some(STATE_BACKEND_SHARD_LOG) => {
                let bucket = lookup(ENV_STATE_BUCKET)
                    .filter(|b| !b.trim().is_empty())
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "{ENV_STATE_BACKEND}=shard_log needs {ENV_STATE_BUCKET}"
                        ))
                    })?;
                let prefix =
                    lookup(ENV_STATE_PREFIX).unwrap_or_else(|| DEFAULT_STATE_PREFIX.to_owned());
                Ok(Self::ShardLog { bucket, prefix })
            }
            Some(other) => Err(Error::Config(format!(
                "{ENV_STATE_BACKEND} must be dynamodb or shard_log, not {other:?}"
            ))),
        }
    }
}

/// DynamoDB's item size limit (400 KB, attribute names included).
pub const DYNAMODB_ITEM_LIMIT: usize = 400 * 1024;
/// Default state budget: the item limit minus room for the key, version and
/// high-water marks of many shards.
pub const DEFAULT_MAX_STATE_BYTES: usize = 350 * 1024;

/// The delivery guarantee a function runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Dedupe by per-shard high-water marks and commit with conditional writes.
    #[default]
    ExactlyOnce,
    /// No high-water-mark skipping and unconditional writes: cheaper, and re-deliveries
    /// are applied again.
    AtLeastOnce,
}

impl Consistency {
    fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "exactly_once" => Ok(Self::ExactlyOnce),
            "at_least_once" => Ok(Self::AtLeastOnce),
            other => Err(Error::Config(format!(
                "{ENV_CONSISTENCY} must be exactly_once or at_least_once, not {other:?}"
            ))),
        }
    }
}

/// How batches are processed and committed.
#[derive(Debug, Clone)]
pub struct ProcessingConfig {
    /// Delivery guarantee.
    pub consistency: Consistency,
    /// State table (key `pk` + `sk`, strings, like every Shardwise table).
    pub state_table: String,
    /// Outputs table; `None` if the operator never emits. A function may point it at
    /// another table (fraud-detector: the alerts table).
    pub output_table: Option<String>,
    /// Kinesis stream every committed output is also published to (deterministic record
    /// ids, at-least-once: consumers dedupe on the id); `None` for none.
    pub output_stream: Option<String>,
    /// Timers table; `None` if the operator sets no timers.
    pub timers_table: Option<String>,
    /// Late-events table (`Context::emit_late`); `None` if the operator routes none.
    pub late_events_table: Option<String>,
    /// Dead-letter table.
    pub dead_letter_table: String,
    /// Key commits in flight at once.
    pub commit_concurrency: usize,
    /// Actions per grouped transaction of several keys' commits (≤ 1: no grouping).
    pub commit_group: usize,
    /// Which commits are grouped.
    pub commit_group_scope: crate::dynamo_group::GroupScope,
    /// Retries of one DynamoDB call when throttled.
    pub max_throttle_retries: u32,
    /// Re-reads of one key after version conflicts.
    pub max_conflict_retries: u32,
    /// Retryable operator failures of one record before it counts as poison.
    pub max_record_attempts: u32,
    /// Largest serialized state per key.
    pub max_state_bytes: usize,
    /// Batches slower than this are logged and counted.
    pub latency_threshold: Duration,
    /// How timer items are partitioned.
    pub timer_layout: crate::timer_store::TimerLayout,
    /// How watermarks are derived.
    pub watermark: crate::watermark::WatermarkPolicy,
    /// Where keyed state lives.
    pub state_backend: StateBackend,
}

impl ProcessingConfig {
    /// A configuration with defaults for everything but the table names.
    pub fn new(state_table: &str, dead_letter_table: &str) -> Self {
        Self {
            consistency: Consistency::ExactlyOnce,
            state_table: state_table.to_owned(),
            output_table: None,
            output_stream: None,
            timers_table: None,
            late_events_table: None,
            dead_letter_table: dead_letter_table.to_owned(),
            commit_concurrency: 32,
            commit_group: 0,
            commit_group_scope: crate::dynamo_group::GroupScope::Transactions,
            max_throttle_retries: 8,
            max_conflict_retries: 8,
            max_record_attempts: 3,
            max_state_bytes: DEFAULT_MAX_STATE_BYTES,
            latency_threshold: Duration::from_secs(5),
            timer_layout: crate::timer_store::TimerLayout::default(),
            watermark: crate::watermark::WatermarkPolicy::default(),
            state_backend: StateBackend::DynamoDb,
        }
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (env var name → value).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let required = |name: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::Config(format!("{name} is not set")))
        };
        let mut config = Self::new(
            &required(ENV_STATE_TABLE)?,
            &required(ENV_DEAD_LETTER_TABLE)?,
        );
        let optional = |name: &str| lookup(name).filter(|v| !v.is_empty());
        config.output_table = optional(ENV_OUTPUT_TABLE);
        config.timers_table = optional(ENV_TIMERS_TABLE);
        config.late_events_table = optional(ENV_LATE_EVENTS_TABLE);
        if let Some(text) = lookup(ENV_CONSISTENCY) {
            config.consistency = Consistency::parse(&text)?;
        }
        if let Some(n) = number(&lookup, ENV_COMMIT_CONCURRENCY)? {
            if n == 0 {
                return Err(Error::Config(format!(
                    "{ENV_COMMIT_CONCURRENCY} must be ≥ 1"
                )));
            }
            config.commit_concurrency = n;
        }
        if let Some(n) = number::<usize>(&lookup, ENV_COMMIT_GROUP)? {
            if n > crate::dynamo_group::MAX_ACTIONS {
                return Err(Error::Config(format!(
                    "{ENV_COMMIT_GROUP} must be at most {} (TransactWriteItems' limit)",
                    crate::dynamo_group::MAX_ACTIONS
                )));
            }
            config.commit_group = n;
        }
        if let Some(text) = optional(ENV_COMMIT_GROUP_SCOPE) {
            config.commit_group_scope = crate::dynamo_group::GroupScope::parse(&text)?;
        }
        if let Some(n) = number(&lookup, ENV_MAX_THROTTLE_RETRIES)? {
            config.max_throttle_retries = n;
        }
        if let Some(n) = number(&lookup, ENV_MAX_CONFLICT_RETRIES)? {
            config.max_conflict_retries = n;
        }
        if let Some(n) = number(&lookup, ENV_MAX_RECORD_ATTEMPTS)? {
            if n == 0 {
                return Err(Error::Config(format!(
                    "{ENV_MAX_RECORD_ATTEMPTS} must be ≥ 1"
                )));
            }
            config.max_record_attempts = n;
        }
        if let Some(n) = number::<usize>(&lookup, ENV_MAX_STATE_BYTES)? {
            if n > DYNAMODB_ITEM_LIMIT {
                return Err(Error::Config(format!(
                    "{ENV_MAX_STATE_BYTES} must be at most {DYNAMODB_ITEM_LIMIT}"
                )));
            }
            config.max_state_bytes = n;
        }
        if let Some(ms) = number(&lookup, ENV_LATENCY_THRESHOLD_MS)? {
            config.latency_threshold = Duration::from_millis(ms);
        }
        read_time_settings(&lookup, &mut config)?;
        config.state_backend = StateBackend::from_lookup(&lookup)?;
        Ok(config)
    }
}

/// The timer and watermark settings (kept apart to keep merges of this file local).
fn read_time_settings(
    lookup: &impl Fn(&str) -> Option<String>,
    config: &mut ProcessingConfig,
) -> Result<(), Error> {
    if let Some(ms) = number::<i64>(lookup, ENV_WATERMARK_OUT_OF_ORDERNESS_MS)? {
        config.watermark.out_of_orderness_ms = ms.max(0);
    }
    if let Some(ms) = number::<i64>(lookup, ENV_WATERMARK_IDLE_TIMEOUT_MS)? {
        config.watermark.idle_timeout_ms = ms.max(1);
    }
    if let Some(s) = number::<i64>(lookup, ENV_TIMER_BUCKET_SECONDS)? {
        if s < 1 {
            return Err(Error::Config(format!(
                "{ENV_TIMER_BUCKET_SECONDS} must be ≥ 1"
            )));
        }
        config.timer_layout.bucket_ms = s.saturating_mul(1000);
    }
    if let Some(n) = number::<u32>(lookup, ENV_TIMER_SPREAD)? {
        if n == 0 {
            return Err(Error::Config(format!("{ENV_TIMER_SPREAD} must be ≥ 1")));
        }
        config.timer_layout.spread = n;
    }
    Ok(())
}

fn number<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<T>, Error> {
    lookup(name)
        .map(|text| {
            text.trim()
                .parse()
                .map_err(|_| Error::Config(format!("{name} must be a number, not {text:?}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn config_defaults_to_exactly_once_with_only_table_names_set() {
        let config = ProcessingConfig::from_lookup(lookup(&[
            (ENV_STATE_TABLE, "state"),
            (ENV_DEAD_LETTER_TABLE, "dlq"),
        ]))
        .unwrap();
        assert_eq!(config.consistency, Consistency::ExactlyOnce);
        assert_eq!(config.state_table, "state");
        assert!(config.output_table.is_none());
    }

    #[test]
    fn config_reads_every_knob_from_the_lookup() {
        let config = ProcessingConfig::from_lookup(lookup(&[
            (ENV_STATE_TABLE, "state"),
            (ENV_DEAD_LETTER_TABLE, "dlq"),
            (ENV_OUTPUT_TABLE, "out"),
            (ENV_CONSISTENCY, "at_least_once"),
            (ENV_COMMIT_CONCURRENCY, "7"),
            (ENV_LATENCY_THRESHOLD_MS, "250"),
            (ENV_COMMIT_GROUP, "50"),
            (ENV_COMMIT_GROUP_SCOPE, "all"),
        ]))
        .unwrap();
        assert_eq!(config.commit_group, 50);
        assert_eq!(
            config.commit_group_scope,
            crate::dynamo_group::GroupScope::All
        );
        assert_eq!(config.consistency, Consistency::AtLeastOnce);
        assert_eq!(config.commit_concurrency, 7);
        assert_eq!(config.output_table.as_deref(), Some("out"));
        assert_eq!(config.latency_threshold, Duration::from_millis(250));
    }

    #[test]
    fn config_rejects_missing_tables_and_bad_values() {
        assert!(ProcessingConfig::from_lookup(lookup(&[])).is_err());
        let bad = [
            (ENV_STATE_TABLE, "s"),
            (ENV_DEAD_LETTER_TABLE, "d"),
            (ENV_CONSISTENCY, "maybe_once"),
        ];
        assert!(ProcessingConfig::from_lookup(lookup(&bad)).is_err());
        let zero = [
            (ENV_STATE_TABLE, "s"),
            (ENV_DEAD_LETTER_TABLE, "d"),
            (ENV_COMMIT_CONCURRENCY, "0"),
        ];
        assert!(ProcessingConfig::from_lookup(lookup(&zero)).is_err());
        let scope = [
            (ENV_STATE_TABLE, "s"),
            (ENV_DEAD_LETTER_TABLE, "d"),
            (ENV_COMMIT_GROUP_SCOPE, "some"),
        ];
        assert!(ProcessingConfig::from_lookup(lookup(&scope)).is_err());
    }

    #[test]
    fn the_shard_log_backend_needs_a_bucket_and_takes_a_prefix() {
        let base = [(ENV_STATE_TABLE, "s"), (ENV_DEAD_LETTER_TABLE, "d")];
        let config = ProcessingConfig::from_lookup(lookup(&base)).unwrap();
        assert_eq!(config.state_backend, StateBackend::DynamoDb);
        let no_bucket = [base[0], base[1], (ENV_STATE_BACKEND, "shard_log")];
        let err = ProcessingConfig::from_lookup(lookup(&no_bucket)).unwrap_err();
        assert!(err.to_string().contains(ENV_STATE_BUCKET), "{err}");
        let full = [
            base[0],
            base[1],
            (ENV_STATE_BACKEND, "shard_log"),
            (ENV_STATE_BUCKET, "b"),
        ];
        let config = ProcessingConfig::from_lookup(lookup(&full)).unwrap();
        assert_eq!(
            config.state_backend,
            StateBackend::ShardLog {
                bucket: "b".into(),
                prefix: DEFAULT_STATE_PREFIX.into()
            }
        );
        let bad = [base[0], base[1], (ENV_STATE_BACKEND, "redis")];
        assert!(ProcessingConfig::from_lookup(lookup(&bad)).is_err());
    }
}
