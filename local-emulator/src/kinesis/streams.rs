//! Stream lifecycle and listing: CreateStream, DeleteStream, DescribeStream,
//! DescribeStreamSummary, ListStreams, ListShards and the retention period calls.
//!
//! Paginated calls keep AWS's contracts: DescribeStream pages with `Limit` +
//! `ExclusiveStartShardId` and `HasMoreShards`; ListStreams with `Limit` +
//! `ExclusiveStartStreamName`/`NextToken` and `HasMoreStreams`; ListShards with
//! `MaxResults` + `NextToken` (an opaque token that must not be combined with
//! `StreamName`) and the `ShardFilter` types of the API reference.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};

use super::input::{Input, KResult, check_name, check_range, invalid_argument, validation};
use super::stream::{
    Stream, StreamMetrics, StreamMode, StreamState, parse_shard_id, shard_id, uniform_ranges,
};
use super::{Kinesis, LIMIT_EXCEEDED, RESOURCE_IN_USE};
use crate::error::AwsJsonError;

/// Retention bounds in hours.
const MIN_RETENTION_HOURS: i64 = 24;
const MAX_RETENTION_HOURS: i64 = 8_760;
/// Shards an ON_DEMAND stream starts with (AWS's documented initial capacity).
const ON_DEMAND_INITIAL_SHARDS: u32 = 4;
/// Most open shards one stream may have here (AWS's default is an account quota; this
/// only keeps a typo from allocating millions of shards).
pub(crate) const MAX_SHARDS_PER_STREAM: i64 = 10_000;
/// Page sizes.
const DEFAULT_DESCRIBE_LIMIT: i64 = 100;
const DEFAULT_LIST_STREAMS_LIMIT: i64 = 100;
const MAX_LIST_SHARDS_PAGE: i64 = 1_000;

fn epoch_seconds(millis: u64) -> f64 {
    millis as f64 / 1000.0
}

impl Kinesis {
    pub(super) fn create_stream(&self, input: &Input<'_>) -> KResult<Value> {
        let name = input.str("StreamName")?;
        check_name(name, "streamName")?;
        let mode = match input.opt_object("StreamModeDetails")? {
            None => StreamMode::Provisioned,
            Some(details) => match details.str("StreamMode")? {
                "PROVISIONED" => StreamMode::Provisioned,
                "ON_DEMAND" => StreamMode::OnDemand,
                other => {
                    return Err(validation(
                        other,
                        "streamModeDetails.streamMode",
                        "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]",
                    ));
                }
            },
        };
        let count = match (input.opt_int("ShardCount")?, mode) {
            (Some(n), _) => {
                check_range(n, "shardCount", 1, i64::from(i32::MAX))?;
                n
            }
            (None, StreamMode::OnDemand) => i64::from(ON_DEMAND_INITIAL_SHARDS),
            (None, StreamMode::Provisioned) => {
                return Err(super::input::missing("shardCount"));
            }
        };
        if count > MAX_SHARDS_PER_STREAM {
            return Err(AwsJsonError::client(
                LIMIT_EXCEEDED,
                format!(
                    "This request would exceed the shard limit for the account {} in {}. \
                     Current limit of shards is {MAX_SHARDS_PER_STREAM}.",
                    self.account_id, self.region
                ),
            ));
        }
        let now = self.now_millis();
        let epoch = self.next_epoch(now);
        let mut state = StreamState {
            shards: Vec::new(),
            open: Vec::new(),
            retention_hours: MIN_RETENTION_HOURS as u32,
        };
        for range in uniform_ranges(u32::try_from(count).unwrap_or(1)) {
            state.add_shard(range, (None, None), now);
        }
        state.rebuild_open();
        let stream = Arc::new(Stream {
            name: name.to_owned(),
            arn: self.stream_arn(name),
            epoch,
            created_millis: now,
            mode,
            state: std::sync::RwLock::new(state),
            metrics: StreamMetrics::default(),
        });
        let mut streams = self.streams_write();
        if streams.contains_key(name) {
            return Err(AwsJsonError::client(
                RESOURCE_IN_USE,
                format!(
                    "Stream {name} under account {} already exists.",
                    self.account_id
                ),
            ));
        }
        streams.insert(name.to_owned(), stream);
        Ok(json!({}))
    }

    /// A stream epoch greater than every earlier one and close to creation time.
    fn next_epoch(&self, now_millis: u64) -> u64 {
        use std::sync::atomic::Ordering;
        let mut last = self.last_epoch.load(Ordering::Relaxed);
        loop {
            let next = now_millis.max(last + 1);
            match self.last_epoch.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }

    pub(super) fn delete_stream(&self, input: &Input<'_>) -> KResult<Value> {
        let stream = self.stream(input)?;
        self.streams_write().remove(&stream.name);
        Ok(json!({}))
    }

    pub(super) fn describe_stream(&self, input: &Input<'_>) -> KResult<Value> {
        let limit = input.opt_int("Limit")?.unwrap_or(DEFAULT_DESCRIBE_LIMIT);
        check_range(limit, "limit", 1, 10_000)?;
        let after = input.opt_str("ExclusiveStartShardId")?;
        if let Some(id) = after {
            check_name(id, "exclusiveStartShardId")?;
        }
        let after = after.and_then(parse_shard_id);
        let stream = self.stream(input)?;
        let now = self.now_millis();
        let state = stream.read();
        let visible: Vec<Value> = state
            .shards
            .iter()
            .filter(|e| state.is_visible(e, now))
            .filter(|e| after.is_none_or(|a| e.shard.index > a))
            .map(|e| stream.shard_json(e))
            .collect();
        let page = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = visible.len() > page;
        let shards: Vec<Value> = visible.into_iter().take(page).collect();
        Ok(json!({
            "StreamDescription": {
                "StreamName": stream.name,
                "StreamARN": stream.arn,
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": { "StreamMode": stream.mode.as_str() },
                "Shards": shards,
                "HasMoreShards": has_more,
                "RetentionPeriodHours": state.retention_hours,
                "StreamCreationTimestamp": epoch_seconds(stream.created_millis),
                "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
                "EncryptionType": "NONE",
            }
        }))
    }

    pub(super) fn describe_stream_summary(&self, input: &Input<'_>) -> KResult<Value> {
        let stream = self.stream(input)?;
        let state = stream.read();
        Ok(json!({
            "StreamDescriptionSummary": {
                "StreamName": stream.name,
                "StreamARN": stream.arn,
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": { "StreamMode": stream.mode.as_str() },
                "RetentionPeriodHours": state.retention_hours,
                "StreamCreationTimestamp": epoch_seconds(stream.created_millis),
                "EnhancedMonitoring": [{ "ShardLevelMetrics": [] }],
                "EncryptionType": "NONE",
                "OpenShardCount": state.open.len(),
                "ConsumerCount": 0,
            }
        }))
    }

    pub(super) fn list_streams(&self, input: &Input<'_>) -> KResult<Value> {
        let limit = input
            .opt_int("Limit")?
            .unwrap_or(DEFAULT_LIST_STREAMS_LIMIT);
        check_range(limit, "limit", 1, 10_000)?;
        let token = input
            .opt_str("NextToken")?
            .map(|t| decode_token(t).and_then(|v| v.as_str().map(str::to_owned)))
            .map(|t| t.ok_or_else(|| invalid_argument("Invalid NextToken.")))
            .transpose()?;
        let after = match token {
            Some(t) => Some(t),
            None => input
                .opt_str("ExclusiveStartStreamName")?
                .map(str::to_owned),
        };
        let page = usize::try_from(limit).unwrap_or(usize::MAX);
        let streams: Vec<Arc<Stream>> = {
            let all = self.streams_read();
            let iter: Box<dyn Iterator<Item = &Arc<Stream>>> = match &after {
                Some(a) => Box::new(
                    all.range::<str, _>((
                        std::ops::Bound::Excluded(a.as_str()),
                        std::ops::Bound::Unbounded,
                    ))
                    .map(|(_, s)| s),
                ),
                None => Box::new(all.values()),
            };
            iter.take(page + 1).cloned().collect()
        };
        let has_more = streams.len() > page;
        let streams = &streams[..streams.len().min(page)];
        let names: Vec<&str> = streams.iter().map(|s| s.name.as_str()).collect();
        let summaries: Vec<Value> = streams
            .iter()
            .map(|s| {
                json!({
                    "StreamName": s.name,
                    "StreamARN": s.arn,
                    "StreamStatus": "ACTIVE",
                    "StreamModeDetails": { "StreamMode": s.mode.as_str() },
                    "StreamCreationTimestamp": epoch_seconds(s.created_millis),
                })
            })
            .collect();
        let mut out = json!({
            "StreamNames": names,
            "HasMoreStreams": has_more,
            "StreamSummaries": summaries,
        });
        if has_more && let Some(last) = names.last() {
            out["NextToken"] = Value::String(encode_token(&json!(last)));
        }
        Ok(out)
    }

    pub(super) fn list_shards(&self, input: &Input<'_>) -> KResult<Value> {
        let max = input.opt_int("MaxResults")?.unwrap_or(MAX_LIST_SHARDS_PAGE);
        check_range(max, "maxResults", 1, 10_000)?;
        let page = usize::try_from(max.min(MAX_LIST_SHARDS_PAGE)).unwrap_or(1);
        let token = input.opt_str("NextToken")?;
        let (stream, after, filter) = match token {
            Some(token) => {
                if input.opt_str("StreamName")?.is_some() {
                    return Err(invalid_argument(
                        "NextToken and StreamName cannot be provided together.",
                    ));
                }
                let t =
                    decode_token(token).ok_or_else(|| invalid_argument("Invalid NextToken."))?;
                let name = t["stream"].as_str().unwrap_or_default();
                let stream = self.stream_by_name(name)?;
                let after = t["after"].as_u64().and_then(|a| u32::try_from(a).ok());
                // The filter was validated when the first page was asked for.
                let filter = Input::from_value(&t["filter"], "ShardFilter")
                    .ok()
                    .and_then(|f| ShardFilter::parse(&f).ok().flatten());
                (stream, after, filter)
            }
            None => {
                let stream = self.stream(input)?;
                let after = input.opt_str("ExclusiveStartShardId")?;
                if let Some(id) = after {
                    check_name(id, "exclusiveStartShardId")?;
                }
                let filter = match input.opt_object("ShardFilter")? {
                    Some(f) => ShardFilter::parse(&f)?,
                    None => None,
                };
                (stream, after.and_then(parse_shard_id), filter)
            }
        };
        let now = self.now_millis();
        let state = stream.read();
        let selected: Vec<&super::stream::ShardEntry> = state
            .shards
            .iter()
            .filter(|e| state.is_visible(e, now))
            .filter(|e| after.is_none_or(|a| e.shard.index > a))
            .filter(|e| {
                filter
                    .as_ref()
                    .is_none_or(|f| f.admits(e, &state, &stream, now))
            })
            .take(page + 1)
            .collect();
        let has_more = selected.len() > page;
        let shards: Vec<Value> = selected
            .iter()
            .take(page)
            .map(|e| stream.shard_json(e))
            .collect();
        let mut out = json!({ "Shards": shards });
        if has_more && let Some(last) = selected.get(page.saturating_sub(1)) {
            let filter_json = filter.as_ref().map(ShardFilter::to_json);
            out["NextToken"] = Value::String(encode_token(&json!({
                "stream": stream.name,
                "after": last.shard.index,
                "filter": filter_json,
            })));
        }
        Ok(out)
    }

    pub(super) fn increase_retention(&self, input: &Input<'_>) -> KResult<Value> {
        self.change_retention(input, true)
    }

    pub(super) fn decrease_retention(&self, input: &Input<'_>) -> KResult<Value> {
        self.change_retention(input, false)
    }

    fn change_retention(&self, input: &Input<'_>, increase: bool) -> KResult<Value> {
        let hours = input.int("RetentionPeriodHours")?;
        check_range(hours, "retentionPeriodHours", 1, 2_147_483_647)?;
        let stream = self.stream(input)?;
        if hours < MIN_RETENTION_HOURS {
            return Err(invalid_argument(format!(
                "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested \
                 retention period ({hours} hours) is too short."
            )));
        }
        if hours > MAX_RETENTION_HOURS {
            return Err(invalid_argument(format!(
                "Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. Requested \
                 retention period ({hours} hours) is too long."
            )));
        }
        let mut state = stream.write();
        let current = i64::from(state.retention_hours);
        if increase && hours < current {
            return Err(invalid_argument(format!(
                "Requested retention period ({hours} hours) for stream {} can not be shorter \
                 than existing retention period ({current} hours). Use DecreaseRetentionPeriod \
                 API.",
                stream.name
            )));
        }
        if !increase && hours > current {
            return Err(invalid_argument(format!(
                "Requested retention period ({hours} hours) for stream {} can not be longer \
                 than existing retention period ({current} hours). Use IncreaseRetentionPeriod \
                 API.",
                stream.name
            )));
        }
        state.retention_hours = u32::try_from(hours).unwrap_or(MAX_RETENTION_HOURS as u32);
        Ok(json!({}))
    }
}

/// A ListShards `ShardFilter`.
#[derive(Debug, Clone)]
enum ShardFilter {
    AfterShardId(u32),
    AtTrimHorizon,
    FromTrimHorizon,
    AtLatest,
    AtTimestamp(u64),
    FromTimestamp(u64),
}

impl ShardFilter {
    fn parse(f: &Input<'_>) -> KResult<Option<Self>> {
        let kind = f.str("Type")?;
        let ts = || {
            f.opt_timestamp_millis("Timestamp")?.ok_or_else(|| {
                invalid_argument(format!(
                    "Timestamp must be specified for ShardFilter {kind}"
                ))
            })
        };
        Ok(Some(match kind {
            "AFTER_SHARD_ID" => {
                let id = f.opt_str("ShardId")?.ok_or_else(|| {
                    invalid_argument("ShardId must be specified for ShardFilter AFTER_SHARD_ID")
                })?;
                check_name(id, "shardFilter.shardId")?;
                Self::AfterShardId(parse_shard_id(id).unwrap_or(0))
            }
            "AT_TRIM_HORIZON" => Self::AtTrimHorizon,
            "FROM_TRIM_HORIZON" => Self::FromTrimHorizon,
            "AT_LATEST" => Self::AtLatest,
            "AT_TIMESTAMP" => Self::AtTimestamp(ts()?),
            "FROM_TIMESTAMP" => Self::FromTimestamp(ts()?),
            other => {
                return Err(validation(
                    other,
                    "shardFilter.type",
                    "Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, \
                     FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]",
                ));
            }
        }))
    }

    fn to_json(&self) -> Value {
        let ts = |m: u64| epoch_seconds(m);
        match self {
            Self::AfterShardId(i) => json!({"Type": "AFTER_SHARD_ID", "ShardId": shard_id(*i)}),
            Self::AtTrimHorizon => json!({"Type": "AT_TRIM_HORIZON"}),
            Self::FromTrimHorizon => json!({"Type": "FROM_TRIM_HORIZON"}),
            Self::AtLatest => json!({"Type": "AT_LATEST"}),
            Self::AtTimestamp(m) => json!({"Type": "AT_TIMESTAMP", "Timestamp": ts(*m)}),
            Self::FromTimestamp(m) => json!({"Type": "FROM_TIMESTAMP", "Timestamp": ts(*m)}),
        }
    }

    /// Whether the shard belongs in the answer, per the ListShards API reference.
    fn admits(
        &self,
        entry: &super::stream::ShardEntry,
        state: &StreamState,
        stream: &Stream,
        now: u64,
    ) -> bool {
        let created = entry.shard.created_millis;
        let closed_at = entry.closure.as_ref().map(|c| c.at_millis);
        // "Open at time t": created by t (shards created with the stream count as open
        // from the beginning) and not closed before t.
        let open_at =
            |t: u64| created <= t.max(stream.created_millis) && closed_at.is_none_or(|c| c >= t);
        match self {
            Self::AfterShardId(i) => entry.shard.index > *i,
            Self::AtTrimHorizon => open_at(state.horizon(now)),
            Self::FromTrimHorizon => true,
            Self::AtLatest => closed_at.is_none(),
            Self::AtTimestamp(t) => open_at(*t),
            Self::FromTimestamp(t) => closed_at.is_none_or(|c| c >= *t),
        }
    }
}

fn encode_token(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

fn decode_token(token: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
