//! A function's event sources, validated against AWS's documented parameter ranges
//! (<https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html>) so a
//! template that AWS would reject is rejected here too, at start-up.

use serde_json::{Map, Value};

use super::TemplateError;
use super::intrinsics::scalar_string;

/// Where a new Kinesis mapping starts reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartingPosition {
    /// The oldest record in the shard.
    TrimHorizon,
    /// Only records written after the mapping starts.
    Latest,
    /// Records at or after this time (Unix seconds).
    AtTimestamp(f64),
}

/// What an `OnFailure` destination points at.
#[derive(Debug, Clone, PartialEq)]
pub enum OnFailure {
    /// An S3 bucket (by name), which gets the failure record and the batch.
    S3Bucket(String),
}

/// A Kinesis event source mapping, with AWS's defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct KinesisEventSpec {
    /// Event name in the template (or the mapping's logical id).
    pub name: String,
    /// Stream ARN.
    pub stream_arn: String,
    /// Stream name (from the ARN).
    pub stream_name: String,
    /// Where to start.
    pub starting_position: StartingPosition,
    /// 1–10,000, default 100.
    pub batch_size: u32,
    /// 0–300 s, default 0.
    pub maximum_batching_window_secs: u32,
    /// 1–10, default 1.
    pub parallelization_factor: u32,
    /// -1 (infinite) or 0–10,000.
    pub maximum_retry_attempts: i64,
    /// -1 (infinite) or 60–604,800.
    pub maximum_record_age_secs: i64,
    /// Split a failing batch in two.
    pub bisect_on_error: bool,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`.
    pub report_batch_item_failures: bool,
    /// 0–900 s; 0 = no tumbling window.
    pub tumbling_window_secs: u32,
    /// Where records go after retries are exhausted.
    pub on_failure: Option<OnFailure>,
    /// `Enabled: false` creates the mapping paused.
    pub enabled: bool,
}

/// Which service delivers a schedule, which decides the payload.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleTarget {
    /// EventBridge rule (`Schedule` event / `AWS::Events::Rule`): the "Scheduled Event"
    /// envelope, or the target's `Input` if one is configured.
    Rule {
        /// Target `Input` (a JSON text) replacing the envelope, if set.
        input: Option<String>,
    },
    /// EventBridge Scheduler (`ScheduleV2` / `AWS::Scheduler::Schedule`): the
    /// configured `Input` verbatim (placeholders substituted), `{}` if none.
    Scheduler {
        /// Target `Input` (a JSON text).
        input: Option<String>,
    },
}

/// A schedule invoking one function.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSpec {
    /// Rule/schedule name (used in the envelope's `resources` ARN).
    pub name: String,
    /// The function it invokes (local function name).
    pub function: String,
    /// `rate(...)` or `cron(...)` text.
    pub expression: String,
    /// Payload flavour.
    pub target: ScheduleTarget,
    /// Disabled schedules are loaded but never fire.
    pub enabled: bool,
}

/// Reads a Kinesis event's properties.
pub fn kinesis(name: &str, props: &Map<String, Value>) -> Result<KinesisEventSpec, TemplateError> {
    for key in props.keys() {
        if !KINESIS_PROPERTIES.contains(&key.as_str()) {
            return Err(TemplateError::Unsupported(format!(
                "Kinesis event {name}: property {key}"
            )));
        }
    }
    let stream_arn = string(props, "Stream", name)?
        .ok_or_else(|| invalid(format!("Kinesis event {name}: Stream is required")))?;
    let stream_name = stream_arn
        .rsplit_once(":stream/")
        .map(|(_, n)| n.to_owned())
        .ok_or_else(|| {
            invalid(format!(
                "Kinesis event {name}: {stream_arn} is not a stream ARN"
            ))
        })?;
    let starting_position = match string(props, "StartingPosition", name)?.as_deref() {
        Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
        Some("LATEST") => StartingPosition::Latest,
        Some("AT_TIMESTAMP") => {
            let ts = props
                .get("StartingPositionTimestamp")
                .and_then(|v| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .ok_or_else(|| {
                    invalid(format!(
                        "Kinesis event {name}: AT_TIMESTAMP needs StartingPositionTimestamp"
                    ))
                })?;
            StartingPosition::AtTimestamp(ts)
        }
        Some(other) => {
            return Err(invalid(format!(
                "Kinesis event {name}: StartingPosition {other} is not TRIM_HORIZON, LATEST or AT_TIMESTAMP"
            )));
        }
        None => {
            return Err(invalid(format!(
                "Kinesis event {name}: StartingPosition is required"
            )));
        }
    };
    let on_failure = match props
        .get("DestinationConfig")
        .and_then(|d| d.get("OnFailure"))
        .and_then(|o| o.get("Destination"))
    {
        None => None,
        Some(dest) => {
            let arn = scalar_string(dest)?;
            if let Some(bucket) = arn.strip_prefix("arn:aws:s3:::") {
                Some(OnFailure::S3Bucket(bucket.to_owned()))
            } else {
                return Err(TemplateError::Unsupported(format!(
                    "Kinesis event {name}: OnFailure destination {arn} (only S3 buckets are emulated; SQS and SNS are not)"
                )));
            }
        }
    };
    let report = match props.get("FunctionResponseTypes") {
        None => false,
        Some(Value::Array(items)) => {
            for item in items {
                if item.as_str() != Some("ReportBatchItemFailures") {
                    return Err(invalid(format!(
                        "Kinesis event {name}: FunctionResponseTypes value {item}"
                    )));
                }
            }
            !items.is_empty()
        }
        Some(other) => {
            return Err(invalid(format!(
                "Kinesis event {name}: FunctionResponseTypes must be a list, got {other}"
            )));
        }
    };
    let record_age = int(props, "MaximumRecordAgeInSeconds", name, -1)?;
    if record_age != -1 && !(60..=604_800).contains(&record_age) {
        return Err(range(name, "MaximumRecordAgeInSeconds", "-1 or 60–604800"));
    }
    Ok(KinesisEventSpec {
        name: name.to_owned(),
        stream_arn,
        stream_name,
        starting_position,
        batch_size: ranged(props, "BatchSize", name, 100, 1, 10_000)?,
        maximum_batching_window_secs: ranged(
            props,
            "MaximumBatchingWindowInSeconds",
            name,
            0,
            0,
            300,
        )?,
        parallelization_factor: ranged(props, "ParallelizationFactor", name, 1, 1, 10)?,
        maximum_retry_attempts: {
            let v = int(props, "MaximumRetryAttempts", name, -1)?;
            if !(-1..=10_000).contains(&v) {
                return Err(range(name, "MaximumRetryAttempts", "-1–10000"));
            }
            v
        },
        maximum_record_age_secs: record_age,
        bisect_on_error: boolean(props, "BisectBatchOnFunctionError", name, false)?,
        report_batch_item_failures: report,
        tumbling_window_secs: ranged(props, "TumblingWindowInSeconds", name, 0, 0, 900)?,
        on_failure,
        enabled: boolean(props, "Enabled", name, true)?,
    })
}

/// Properties of a SAM `Kinesis` event (and `AWS::Lambda::EventSourceMapping`) that
/// the emulator honours. `FilterCriteria`, `StartingPositionTimestamp` aside, anything
/// else (e.g. `FilterCriteria`, `KmsKeyArn`, `MetricsConfig`) is refused by name.
const KINESIS_PROPERTIES: &[&str] = &[
    "Stream",
    "EventSourceArn",
    "FunctionName",
    "StartingPosition",
    "StartingPositionTimestamp",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "ParallelizationFactor",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "FunctionResponseTypes",
    "TumblingWindowInSeconds",
    "DestinationConfig",
    "Enabled",
];

fn string(
    props: &Map<String, Value>,
    key: &str,
    name: &str,
) -> Result<Option<String>, TemplateError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar_string(v)
            .map(Some)
            .map_err(|_| invalid(format!("event {name}: {key} must be a string"))),
    }
}

fn int(
    props: &Map<String, Value>,
    key: &str,
    name: &str,
    default: i64,
) -> Result<i64, TemplateError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| range(name, key, "an integer")),
        Some(Value::String(s)) => s.parse().map_err(|_| range(name, key, "an integer")),
        Some(_) => Err(range(name, key, "an integer")),
    }
}

fn ranged(
    props: &Map<String, Value>,
    key: &str,
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, TemplateError> {
    let v = int(props, key, name, i64::from(default))?;
    u32::try_from(v)
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| range(name, key, &format!("{min}–{max}")))
}

fn boolean(
    props: &Map<String, Value>,
    key: &str,
    name: &str,
    default: bool,
) -> Result<bool, TemplateError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" => Ok(true),
        Some(Value::String(s)) if s == "false" => Ok(false),
        Some(_) => Err(range(name, key, "true or false")),
    }
}

fn range(name: &str, key: &str, allowed: &str) -> TemplateError {
    invalid(format!("event {name}: {key} must be {allowed}"))
}

fn invalid(message: String) -> TemplateError {
    TemplateError::Invalid(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn kinesis_defaults_match_aws() {
        let spec = kinesis(
            "E",
            &props(json!({"Stream": "arn:aws:kinesis:us-east-1:0:stream/s", "StartingPosition": "LATEST"})),
        )
        .unwrap();
        assert_eq!(spec.stream_name, "s");
        assert_eq!(spec.batch_size, 100);
        assert_eq!(spec.parallelization_factor, 1);
        assert_eq!(spec.maximum_retry_attempts, -1);
        assert_eq!(spec.maximum_record_age_secs, -1);
        assert!(spec.enabled);
        assert!(!spec.report_batch_item_failures);
    }

    #[test]
    fn out_of_range_batch_size_is_rejected() {
        let err = kinesis(
            "E",
            &props(json!({"Stream": "arn:aws:kinesis:us-east-1:0:stream/s", "StartingPosition": "LATEST", "BatchSize": 10001})),
        )
        .unwrap_err();
        assert!(err.to_string().contains("BatchSize"), "{err}");
    }

    #[test]
    fn sqs_on_failure_is_a_clear_unsupported_error() {
        let err = kinesis(
            "E",
            &props(json!({
                "Stream": "arn:aws:kinesis:us-east-1:0:stream/s", "StartingPosition": "LATEST",
                "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:0:dlq"}}
            })),
        )
        .unwrap_err();
        assert!(matches!(err, TemplateError::Unsupported(m) if m.contains("SQS")));
    }

    #[test]
    fn record_age_between_minus_one_and_sixty_is_rejected() {
        let err = kinesis(
            "E",
            &props(json!({"Stream": "arn:aws:kinesis:us-east-1:0:stream/s", "StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30})),
        )
        .unwrap_err();
        assert!(err.to_string().contains("MaximumRecordAgeInSeconds"));
    }
}
