//! Extraction of the resources the emulator runs from a parsed template.
//!
//! Order matters: parameters (defaults, overrides, `AllowedValues`) and pseudo
//! parameters first, then every resource's local name and ARN (so any property can
//! `!Ref`/`!GetAtt` any resource), then conditions, then each resource's properties,
//! skipping resources whose `Condition` is false. Every resource type and function event
//! type the emulator does not run is recorded in [`Template::not_emulated`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::events::KinesisEventSpec;
use super::functions;
use super::intrinsics::{ResourceNames, Scope, evaluate_conditions, scalar_string};
use super::{Deployment, Template, TemplateError};

/// A Kinesis stream to create.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    /// Logical id.
    pub logical_id: String,
    /// Stream name.
    pub name: String,
    /// Shard count (on-demand streams start with 4, as on AWS).
    pub shard_count: u32,
    /// Retention in hours (default 24).
    pub retention_hours: u32,
}

/// A DynamoDB table to create.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Logical id.
    pub logical_id: String,
    /// Table name.
    pub name: String,
    /// The resolved CloudFormation properties (`KeySchema`, `AttributeDefinitions`,
    /// `GlobalSecondaryIndexes`, `TimeToLiveSpecification`, …), whose member names
    /// match the DynamoDB API's `CreateTable`.
    pub properties: Map<String, Value>,
}

/// An S3 bucket to create.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketSpec {
    /// Logical id.
    pub logical_id: String,
    /// Bucket name.
    pub name: String,
}

/// A Lambda function to build and run.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// Logical id.
    pub logical_id: String,
    /// Function name.
    pub name: String,
    /// Function ARN.
    pub arn: String,
    /// Execution role ARN (reported as `invokeIdentityArn` in Kinesis events).
    pub role_arn: String,
    /// `CodeUri`, relative to the template's directory.
    pub code_uri: PathBuf,
    /// The binary cargo builds (`Metadata.BuildProperties.Binary`, or the logical id).
    pub binary: String,
    /// Seconds before an invocation is killed (default 3).
    pub timeout_secs: u32,
    /// MB (default 128).
    pub memory_mb: u32,
    /// `ReservedConcurrentExecutions`.
    pub reserved_concurrency: Option<u32>,
    /// Environment variables with references resolved.
    pub environment: BTreeMap<String, String>,
    /// Kinesis event source mappings.
    pub kinesis: Vec<KinesisEventSpec>,
}

pub(super) fn extract(
    doc: &Map<String, Value>,
    overrides: &BTreeMap<String, String>,
    deployment: &Deployment,
) -> Result<Template, TemplateError> {
    let mut template = Template::default();
    let mut scope = Scope::default();
    parameters(doc, overrides, &mut scope)?;
    pseudo_parameters(deployment, &mut scope);
    if let Some(Value::Object(m)) = doc.get("Mappings") {
        scope.mappings = m.clone();
    }
    let resources = match doc.get("Resources") {
        Some(Value::Object(r)) => r,
        _ => {
            return Err(TemplateError::Invalid(
                "Resources section is required".into(),
            ));
        }
    };
    for (id, res) in resources {
        let names = names(id, res, &scope, deployment);
        if res.get("Type").and_then(Value::as_str) == Some(SERVERLESS_FUNCTION) {
            // SAM creates `<Function>Role` implicitly when no Role is given.
            scope.resources.insert(
                format!("{id}Role"),
                ResourceNames {
                    reference: format!("{id}Role"),
                    attributes: [("Arn".to_owned(), role_arn(deployment, &format!("{id}Role")))]
                        .into(),
                },
            );
        }
        scope.resources.insert(id.clone(), names);
    }
    if let Some(Value::Object(c)) = doc.get("Conditions") {
        evaluate_conditions(&mut scope, c)?;
    }
    let globals = doc
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    if let Some(Value::Object(g)) = doc.get("Globals") {
        for section in g.keys().filter(|k| *k != "Function") {
            template
                .not_emulated
                .push(format!("Globals.{section} (not emulated)"));
        }
    }
    let mut mappings = Vec::new();
    let mut no_effect: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, res) in resources {
        if let Some(Value::String(cond)) = res.get("Condition")
            && !scope.condition(cond)?
        {
            continue;
        }
        let ty = res.get("Type").and_then(Value::as_str).unwrap_or_default();
        if !RUN_TYPES.contains(&ty) {
            if NO_EFFECT_TYPES.contains(&ty) {
                no_effect.entry(ty).or_default().push(id.as_str());
            } else {
                template
                    .not_emulated
                    .push(format!("{id} ({ty}): resource type not emulated"));
            }
            continue;
        }
        let raw_props = res.get("Properties").cloned().unwrap_or(json!({}));
        let raw_props = if ty == SERVERLESS_FUNCTION {
            merge(&globals, &raw_props)
        } else {
            raw_props
        };
        let props = match scope.resolve_value(&raw_props)? {
            Value::Object(m) => m,
            _ => {
                return Err(TemplateError::Invalid(format!(
                    "{id}: Properties must be a map"
                )));
            }
        };
        let name = scope
            .resources
            .get(id)
            .map(|r| r.reference.clone())
            .unwrap_or_default();
        match ty {
            "AWS::Kinesis::Stream" => template.streams.push(StreamSpec {
                logical_id: id.clone(),
                name,
                shard_count: stream_shards(&props)?,
                retention_hours: number(&props, "RetentionPeriodHours", 24)?,
            }),
            "AWS::DynamoDB::Table" => template.tables.push(TableSpec {
                logical_id: id.clone(),
                name,
                properties: props,
            }),
            "AWS::S3::Bucket" => template.buckets.push(BucketSpec {
                logical_id: id.clone(),
                name,
            }),
            SERVERLESS_FUNCTION => {
                let f = functions::function(id, &name, res, &props, deployment, &mut template)?;
                template.functions.push(f);
            }
            "AWS::Events::Rule" => functions::rule(id, &props, &mut template),
            "AWS::Scheduler::Schedule" => functions::scheduler(id, &props, &mut template),
            "AWS::Lambda::EventSourceMapping" => mappings.push((id.clone(), props)),
            _ => {}
        }
    }
    for (ty, ids) in no_effect {
        template.not_emulated.push(format!(
            "{ty} accepted with no local effect: {}",
            ids.join(", ")
        ));
    }
    for (id, props) in mappings {
        functions::event_source_mapping(&id, props, &mut template)?;
    }
    // Schedules point at functions by ARN; resolve to local names and drop the rest loudly.
    let known: BTreeMap<String, String> = template
        .functions
        .iter()
        .map(|f| (f.arn.clone(), f.name.clone()))
        .collect();
    let mut schedules = Vec::new();
    for mut s in std::mem::take(&mut template.schedules) {
        if let Some(name) = known.get(&s.function) {
            s.function.clone_from(name);
            schedules.push(s);
        } else if template.functions.iter().any(|f| f.name == s.function) {
            schedules.push(s);
        } else {
            template.not_emulated.push(format!(
                "schedule {} targets {} which is not a function of this template",
                s.name, s.function
            ));
        }
    }
    template.schedules = schedules;
    Ok(template)
}

pub(super) const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";

/// Resource types whose properties the emulator reads and acts on.
const RUN_TYPES: &[&str] = &[
    "AWS::Kinesis::Stream",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    SERVERLESS_FUNCTION,
    "AWS::Events::Rule",
    "AWS::Scheduler::Schedule",
    "AWS::Lambda::EventSourceMapping",
];

/// Types that only matter for permissions or observability on AWS: listed, not run.
const NO_EFFECT_TYPES: &[&str] = &[
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::S3::BucketPolicy",
];

fn parameters(
    doc: &Map<String, Value>,
    overrides: &BTreeMap<String, String>,
    scope: &mut Scope,
) -> Result<(), TemplateError> {
    let declared = match doc.get("Parameters") {
        Some(Value::Object(p)) => p.clone(),
        _ => Map::new(),
    };
    for key in overrides.keys() {
        if !declared.contains_key(key) {
            return Err(TemplateError::Invalid(format!(
                "parameter override {key}: no such parameter"
            )));
        }
    }
    for (name, decl) in &declared {
        let value = match overrides.get(name) {
            Some(v) => v.clone(),
            None => match decl.get("Default") {
                Some(v) => scalar_string(v)?,
                None => {
                    return Err(TemplateError::Invalid(format!(
                        "parameter {name} has no Default and no override"
                    )));
                }
            },
        };
        if let Some(Value::Array(allowed)) = decl.get("AllowedValues")
            && !allowed
                .iter()
                .any(|a| scalar_string(a).ok().as_deref() == Some(&value))
        {
            return Err(TemplateError::Invalid(format!(
                "parameter {name}: {value} is not one of its AllowedValues"
            )));
        }
        let ty = decl.get("Type").and_then(Value::as_str).unwrap_or("String");
        let v = if ty == "CommaDelimitedList" || ty.starts_with("List<") {
            Value::Array(value.split(',').map(|s| Value::from(s.trim())).collect())
        } else {
            Value::String(value)
        };
        scope.parameters.insert(name.clone(), v);
    }
    Ok(())
}

fn pseudo_parameters(d: &Deployment, scope: &mut Scope) {
    let p = &mut scope.parameters;
    p.insert("AWS::Region".into(), json!(d.region));
    p.insert("AWS::AccountId".into(), json!(d.account_id));
    p.insert("AWS::StackName".into(), json!(d.stack_name));
    p.insert(
        "AWS::StackId".into(),
        json!(format!(
            "arn:aws:cloudformation:{}:{}:stack/{}/local",
            d.region, d.account_id, d.stack_name
        )),
    );
    p.insert("AWS::Partition".into(), json!("aws"));
    p.insert("AWS::URLSuffix".into(), json!("amazonaws.com"));
    p.insert("AWS::NotificationARNs".into(), json!([]));
}

/// The local name and ARN-ish attributes of one resource.
fn names(id: &str, res: &Value, scope: &Scope, d: &Deployment) -> ResourceNames {
    let ty = res.get("Type").and_then(Value::as_str).unwrap_or_default();
    let prop = |key: &str| {
        res.get("Properties")
            .and_then(|p| p.get(key))
            .and_then(|v| scope.resolve_value(v).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
    };
    let (r, a) = (&d.region, &d.account_id);
    let mut attrs = BTreeMap::new();
    let reference = match ty {
        "AWS::Kinesis::Stream" => {
            let name = prop("Name").unwrap_or_else(|| id.to_owned());
            attrs.insert(
                "Arn".into(),
                format!("arn:aws:kinesis:{r}:{a}:stream/{name}"),
            );
            name
        }
        "AWS::DynamoDB::Table" => {
            let name = prop("TableName").unwrap_or_else(|| id.to_owned());
            let arn = format!("arn:aws:dynamodb:{r}:{a}:table/{name}");
            attrs.insert(
                "StreamArn".into(),
                format!("{arn}/stream/1970-01-01T00:00:00.000"),
            );
            attrs.insert("Arn".into(), arn);
            name
        }
        "AWS::S3::Bucket" => {
            let name = prop("BucketName").unwrap_or_else(|| id.to_lowercase());
            attrs.insert("Arn".into(), format!("arn:aws:s3:::{name}"));
            attrs.insert("DomainName".into(), format!("{name}.s3.amazonaws.com"));
            attrs.insert(
                "RegionalDomainName".into(),
                format!("{name}.s3.{r}.amazonaws.com"),
            );
            name
        }
        SERVERLESS_FUNCTION | "AWS::Lambda::Function" => {
            let name = prop("FunctionName").unwrap_or_else(|| id.to_owned());
            attrs.insert(
                "Arn".into(),
                format!("arn:aws:lambda:{r}:{a}:function:{name}"),
            );
            name
        }
        "AWS::IAM::Role" => {
            let name = prop("RoleName").unwrap_or_else(|| id.to_owned());
            attrs.insert("Arn".into(), role_arn(d, &name));
            name
        }
        "AWS::SQS::Queue" => {
            let name = prop("QueueName").unwrap_or_else(|| id.to_owned());
            attrs.insert("Arn".into(), format!("arn:aws:sqs:{r}:{a}:{name}"));
            attrs.insert("QueueName".into(), name.clone());
            format!("https://sqs.{r}.amazonaws.com/{a}/{name}")
        }
        "AWS::SNS::Topic" => {
            let name = prop("TopicName").unwrap_or_else(|| id.to_owned());
            let arn = format!("arn:aws:sns:{r}:{a}:{name}");
            attrs.insert("TopicArn".into(), arn.clone());
            attrs.insert("TopicName".into(), name);
            arn
        }
        "AWS::Logs::LogGroup" => {
            let name = prop("LogGroupName").unwrap_or_else(|| id.to_owned());
            attrs.insert(
                "Arn".into(),
                format!("arn:aws:logs:{r}:{a}:log-group:{name}:*"),
            );
            name
        }
        "AWS::Events::Rule" => {
            let name = prop("Name").unwrap_or_else(|| id.to_owned());
            attrs.insert("Arn".into(), format!("arn:aws:events:{r}:{a}:rule/{name}"));
            name
        }
        "AWS::Scheduler::Schedule" => {
            let name = prop("Name").unwrap_or_else(|| id.to_owned());
            attrs.insert(
                "Arn".into(),
                format!("arn:aws:scheduler:{r}:{a}:schedule/default/{name}"),
            );
            name
        }
        _ => id.to_owned(),
    };
    ResourceNames {
        reference,
        attributes: attrs,
    }
}

pub(super) fn role_arn(d: &Deployment, name: &str) -> String {
    format!("arn:aws:iam::{}:role/{name}", d.account_id)
}

fn stream_shards(props: &Map<String, Value>) -> Result<u32, TemplateError> {
    let on_demand = props
        .get("StreamModeDetails")
        .and_then(|m| m.get("StreamMode"))
        .and_then(Value::as_str)
        == Some("ON_DEMAND");
    number(props, "ShardCount", if on_demand { 4 } else { 1 })
}

pub(super) fn number(
    props: &Map<String, Value>,
    key: &str,
    default: u32,
) -> Result<u32, TemplateError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => scalar_string(v)?
            .parse()
            .map_err(|_| TemplateError::Invalid(format!("{key} must be a non-negative integer"))),
    }
}

/// Deep-merges SAM `Globals.Function` under a function's own properties (the
/// function's values win; maps such as `Environment.Variables` merge key by key).
fn merge(globals: &Value, own: &Value) -> Value {
    match (globals, own) {
        (Value::Object(g), Value::Object(o)) => {
            let mut out = g.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(gv) => merge(gv, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, own) => own.clone(),
    }
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
