//! Functions and what invokes them: `AWS::Serverless::Function` (with its `Kinesis`,
//! `Schedule` and `ScheduleV2` events), `AWS::Events::Rule` and
//! `AWS::Scheduler::Schedule` targets, and `AWS::Lambda::EventSourceMapping`.
//! Properties the emulator does not act on are listed in `Template::not_emulated`,
//! except the permission/packaging/observability ones in
//! [`FUNCTION_PROPERTIES_NO_EFFECT`], which change nothing locally.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use super::events::{self, ScheduleSpec, ScheduleTarget};
use super::intrinsics::scalar_string;
use super::resources::{FunctionSpec, number, role_arn};
use super::{Deployment, Template, TemplateError};

/// Function properties the emulator acts on.
pub(super) const FUNCTION_PROPERTIES_RUN: &[&str] = &[
    "FunctionName",
    "CodeUri",
    "Handler",
    "Runtime",
    "Timeout",
    "MemorySize",
    "ReservedConcurrentExecutions",
    "Environment",
    "Events",
    "Role",
];

/// Function properties that only matter on AWS (permissions, packaging, observability).
pub(super) const FUNCTION_PROPERTIES_NO_EFFECT: &[&str] = &[
    "Architectures",
    "Policies",
    "Tracing",
    "Description",
    "Tags",
    "LoggingConfig",
    "PermissionsBoundary",
    "RolePath",
    "KmsKeyArn",
    "EphemeralStorage",
    "PackageType",
];

pub(super) fn function(
    id: &str,
    name: &str,
    res: &Value,
    props: &Map<String, Value>,
    d: &Deployment,
    template: &mut Template,
) -> Result<FunctionSpec, TemplateError> {
    let metadata = res.get("Metadata");
    if let Some(method) = metadata
        .and_then(|m| m.get("BuildMethod"))
        .and_then(Value::as_str)
        && method != "rust-cargolambda"
    {
        return Err(TemplateError::Unsupported(format!(
            "{id}: BuildMethod {method} (only rust-cargolambda functions can be run)"
        )));
    }
    let binary = metadata
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
        .map_or_else(|| id.to_owned(), str::to_owned);
    let code_uri = props
        .get("CodeUri")
        .and_then(Value::as_str)
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let mut environment = BTreeMap::new();
    if let Some(Value::Object(vars)) = props.get("Environment").and_then(|e| e.get("Variables")) {
        for (k, v) in vars {
            environment.insert(k.clone(), scalar_string(v)?);
        }
    }
    let role_arn = props
        .get("Role")
        .and_then(Value::as_str)
        .map_or_else(|| role_arn(d, &format!("{id}Role")), str::to_owned);
    let mut spec = FunctionSpec {
        logical_id: id.to_owned(),
        name: name.to_owned(),
        arn: format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            d.region, d.account_id
        ),
        role_arn,
        code_uri,
        binary,
        timeout_secs: number(props, "Timeout", 3)?,
        memory_mb: number(props, "MemorySize", 128)?,
        reserved_concurrency: match props.get("ReservedConcurrentExecutions") {
            None => None,
            Some(_) => Some(number(props, "ReservedConcurrentExecutions", 0)?),
        },
        environment,
        kinesis: Vec::new(),
    };
    for key in props.keys() {
        if FUNCTION_PROPERTIES_RUN.contains(&key.as_str()) {
            continue;
        }
        // Permission/packaging/observability properties change nothing locally and are
        // documented in FUNCTION_PROPERTIES_NO_EFFECT; listing them would bury the notes
        // that matter.
        if !FUNCTION_PROPERTIES_NO_EFFECT.contains(&key.as_str()) {
            template
                .not_emulated
                .push(format!("{id}: property {key} not emulated"));
        }
    }
    if let Some(Value::Object(evs)) = props.get("Events") {
        for (ev_name, ev) in evs {
            let ty = ev.get("Type").and_then(Value::as_str).unwrap_or_default();
            let ev_props = ev
                .get("Properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            match ty {
                "Kinesis" => spec.kinesis.push(events::kinesis(ev_name, &ev_props)?),
                "Schedule" | "ScheduleV2" => {
                    schedule_event(ev_name, ty, &ev_props, &spec.name, template)?;
                }
                other => template.not_emulated.push(format!(
                    "{id}: event {ev_name} of type {other} not emulated (the function can still be invoked directly)"
                )),
            }
        }
    }
    Ok(spec)
}

fn schedule_event(
    ev_name: &str,
    ty: &str,
    props: &Map<String, Value>,
    function: &str,
    template: &mut Template,
) -> Result<(), TemplateError> {
    let expr_key = if ty == "Schedule" {
        "Schedule"
    } else {
        "ScheduleExpression"
    };
    let expression = props
        .get(expr_key)
        .and_then(Value::as_str)
        .ok_or_else(|| {
            TemplateError::Invalid(format!("{function}: event {ev_name} needs {expr_key}"))
        })?
        .to_owned();
    if let Some(tz) = props
        .get("ScheduleExpressionTimezone")
        .and_then(Value::as_str)
        && tz != "UTC"
        && tz != "Etc/UTC"
    {
        return Err(TemplateError::Unsupported(format!(
            "{function}: event {ev_name}: ScheduleExpressionTimezone {tz} (only UTC)"
        )));
    }
    for ignored in [
        "FlexibleTimeWindow",
        "StartDate",
        "EndDate",
        "RetryPolicy",
        "DeadLetterConfig",
    ] {
        if props.contains_key(ignored) {
            template
                .not_emulated
                .push(format!("{function}: event {ev_name}: {ignored} ignored"));
        }
    }
    let input = props.get("Input").map(input_text);
    let enabled = enabled(props);
    let name = props
        .get("Name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("{function}-{ev_name}"), str::to_owned);
    let target = if ty == "Schedule" {
        ScheduleTarget::Rule { input }
    } else {
        ScheduleTarget::Scheduler { input }
    };
    template.schedules.push(ScheduleSpec {
        name,
        function: function.to_owned(),
        expression,
        target,
        enabled,
    });
    Ok(())
}

pub(super) fn rule(id: &str, props: &Map<String, Value>, template: &mut Template) {
    let Some(expression) = props.get("ScheduleExpression").and_then(Value::as_str) else {
        template.not_emulated.push(format!(
            "{id} (AWS::Events::Rule): event-pattern rules not emulated"
        ));
        return;
    };
    let name = props
        .get("Name")
        .and_then(Value::as_str)
        .map_or_else(|| id.to_owned(), str::to_owned);
    for target in props
        .get("Targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let arn = target
            .get("Arn")
            .and_then(Value::as_str)
            .unwrap_or_default();
        template.schedules.push(ScheduleSpec {
            name: name.clone(),
            function: arn.to_owned(),
            expression: expression.to_owned(),
            target: ScheduleTarget::Rule {
                input: target.get("Input").map(input_text),
            },
            enabled: enabled(props),
        });
    }
}

pub(super) fn scheduler(id: &str, props: &Map<String, Value>, template: &mut Template) {
    let expression = props
        .get("ScheduleExpression")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = props
        .get("Name")
        .and_then(Value::as_str)
        .map_or_else(|| id.to_owned(), str::to_owned);
    let target = props.get("Target").cloned().unwrap_or_default();
    template.schedules.push(ScheduleSpec {
        name,
        function: target
            .get("Arn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        expression: expression.to_owned(),
        target: ScheduleTarget::Scheduler {
            input: target.get("Input").map(input_text),
        },
        enabled: enabled(props),
    });
}

pub(super) fn event_source_mapping(
    id: &str,
    mut props: Map<String, Value>,
    template: &mut Template,
) -> Result<(), TemplateError> {
    let function = props
        .remove("FunctionName")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let function = function.rsplit(':').next().unwrap_or_default().to_owned();
    let source = props
        .remove("EventSourceArn")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    if !source.starts_with("arn:aws:kinesis:") {
        template.not_emulated.push(format!(
            "{id} (AWS::Lambda::EventSourceMapping): source {source} not emulated"
        ));
        return Ok(());
    }
    props.insert("Stream".into(), Value::String(source));
    let spec = events::kinesis(id, &props)?;
    match template.functions.iter_mut().find(|f| f.name == function) {
        Some(f) => f.kinesis.push(spec),
        None => {
            return Err(TemplateError::Invalid(format!(
                "{id}: FunctionName {function} is not a function of this template"
            )));
        }
    }
    Ok(())
}

fn enabled(props: &Map<String, Value>) -> bool {
    match props.get("Enabled") {
        Some(Value::Bool(b)) => *b,
        _ => props.get("State").and_then(Value::as_str) != Some("DISABLED"),
    }
}

/// `Input` is a JSON text in CloudFormation; SAM also accepts a mapping.
fn input_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
