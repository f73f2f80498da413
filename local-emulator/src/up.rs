//! `shardwise-local up`: create a template's resources, build and register its
//! functions, and start its schedules and event source mappings.
//!
//! Resources are created through the same service entry points the SDKs reach
//! (`call_json` for Kinesis and DynamoDB, an in-process REST request for S3), so a
//! resource created here is indistinguishable from one a client created. Functions are
//! built with `cargo build --workspace --bin <Binary>` in their `CodeUri` (what `sam
//! build` with `BuildMethod: rust-cargolambda` builds, minus the cross-compilation) and
//! the executable path is read from cargo's JSON messages rather than guessed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use serde_json::{Map, Value, json};

use crate::Emulator;
use crate::esm::{EsmOptions, EventSourceMappings};
use crate::lambda::FunctionConfig;
use crate::schedule::ScheduleRunner;
use crate::server::{DYNAMODB_TARGET_PREFIX, KINESIS_TARGET_PREFIX};
use crate::template::{FunctionSpec, Template};

/// Why `up` failed.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// Creating a resource failed.
    #[error("cannot create {resource}: {message}")]
    Resource {
        /// Which resource.
        resource: String,
        /// Why.
        message: String,
    },
    /// Building a function failed.
    #[error("cannot build function {function}: {message}")]
    Build {
        /// Which function.
        function: String,
        /// Why.
        message: String,
    },
    /// A schedule expression is invalid.
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ExpressionError),
    /// An event source mapping cannot start.
    #[error("event source mapping: {0}")]
    Mapping(String),
}

/// How `up` runs.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Event source mapping polling (AWS-faithful by default, or fast for tests).
    pub esm: EsmOptions,
    /// Use these executables instead of building (function name → path).
    pub prebuilt: BTreeMap<String, PathBuf>,
    /// A function that fails to build is reported in [`Stack::warnings`] and left out
    /// (its mappings then wait and its schedules fail) instead of failing `up`: for a
    /// template whose functions are not all written yet.
    pub allow_missing_functions: bool,
}

/// What `up` started; dropping it stops schedules and pollers.
#[derive(Debug)]
pub struct Stack {
    /// The loaded template.
    pub template: Template,
    /// Running schedules.
    pub schedules: Arc<ScheduleRunner>,
    /// Running event source mappings.
    pub mappings: Arc<EventSourceMappings>,
    /// Warnings worth showing (services not available in this build, …).
    pub warnings: Vec<String>,
}

impl Stack {
    /// Stops schedules and pollers and kills every function environment.
    pub fn stop(&self, emulator: &Emulator) {
        self.schedules.stop();
        self.mappings.stop();
        emulator.lambda.shutdown();
    }
}

/// Brings a template up in `emulator` (which must already be serving).
pub async fn up(
    emulator: &Arc<Emulator>,
    template: Template,
    options: &UpOptions,
) -> Result<Stack, UpError> {
    let mut warnings = Vec::new();
    for s in &template.streams {
        let body = json!({"StreamName": s.name, "ShardCount": s.shard_count});
        let created = create_json(
            emulator,
            KINESIS_TARGET_PREFIX,
            "CreateStream",
            &body,
            &s.name,
            &mut warnings,
        )
        .await?;
        if created && s.retention_hours != 24 {
            let body = json!({"StreamName": s.name, "RetentionPeriodHours": s.retention_hours});
            create_json(
                emulator,
                KINESIS_TARGET_PREFIX,
                "IncreaseStreamRetentionPeriod",
                &body,
                &s.name,
                &mut warnings,
            )
            .await?;
        }
    }
    for t in &template.tables {
        let (create, ttl) = create_table_request(&t.name, &t.properties);
        let created = create_json(
            emulator,
            DYNAMODB_TARGET_PREFIX,
            "CreateTable",
            &create,
            &t.name,
            &mut warnings,
        )
        .await?;
        if let Some(ttl) = ttl.filter(|_| created) {
            let body = json!({"TableName": t.name, "TimeToLiveSpecification": ttl});
            create_json(
                emulator,
                DYNAMODB_TARGET_PREFIX,
                "UpdateTimeToLive",
                &body,
                &t.name,
                &mut warnings,
            )
            .await?;
        }
    }
    for b in &template.buckets {
        create_bucket(emulator, &b.name, &mut warnings).await?;
    }
    for f in &template.functions {
        let binary = match options.prebuilt.get(&f.name) {
            Some(p) => p.clone(),
            None => match build(&template.base_dir, f).await {
                Ok(p) => p,
                Err(e) if options.allow_missing_functions => {
                    warnings.push(format!("{e}; function not started"));
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        emulator.lambda.register(function_config(f, binary));
    }
    let schedules = ScheduleRunner::start(emulator, template.schedules.clone())?;
    emulator.add_metrics_source(Arc::clone(&schedules) as _);
    let mappings =
        EventSourceMappings::start(emulator, &template, &options.esm).map_err(UpError::Mapping)?;
    emulator.add_metrics_source(Arc::clone(&mappings) as _);
    Ok(Stack {
        template,
        schedules,
        mappings,
        warnings,
    })
}

/// A human-readable list of what `up` would create and run; fails on an invalid
/// schedule expression, as `up` would.
pub fn plan(template: &Template) -> Result<String, UpError> {
    use std::fmt::Write as _;
    let mut out = String::new();
    for s in &template.streams {
        let _ = writeln!(
            out,
            "stream   {} ({} shards, {} h retention)",
            s.name, s.shard_count, s.retention_hours
        );
    }
    for t in &template.tables {
        let _ = writeln!(out, "table    {}", t.name);
    }
    for b in &template.buckets {
        let _ = writeln!(out, "bucket   {}", b.name);
    }
    for f in &template.functions {
        let _ = writeln!(
            out,
            "function {} (binary {} from {}, timeout {} s, memory {} MB, reserved concurrency {:?})",
            f.name,
            f.binary,
            template.base_dir.join(&f.code_uri).display(),
            f.timeout_secs,
            f.memory_mb,
            f.reserved_concurrency
        );
        for (k, v) in &f.environment {
            let _ = writeln!(out, "           env {k}={v}");
        }
        for k in &f.kinesis {
            let _ = writeln!(
                out,
                "           kinesis {} <- {} ({:?}, batch {}, window {} s, parallelization {}, retries {}, max age {}, bisect {}, report failures {}, tumbling {} s, on failure {:?}, enabled {})",
                k.name,
                k.stream_name,
                k.starting_position,
                k.batch_size,
                k.maximum_batching_window_secs,
                k.parallelization_factor,
                k.maximum_retry_attempts,
                k.maximum_record_age_secs,
                k.bisect_on_error,
                k.report_batch_item_failures,
                k.tumbling_window_secs,
                k.on_failure,
                k.enabled
            );
        }
    }
    for s in &template.schedules {
        crate::schedule::Expression::parse(&s.expression)?;
        let _ = writeln!(
            out,
            "schedule {} -> {} {} (enabled {})",
            s.name, s.function, s.expression, s.enabled
        );
    }
    Ok(out)
}

/// The function's runtime configuration.
pub fn function_config(f: &FunctionSpec, binary: PathBuf) -> FunctionConfig {
    FunctionConfig {
        name: f.name.clone(),
        arn: f.arn.clone(),
        binary,
        timeout: Duration::from_secs(u64::from(f.timeout_secs.max(1))),
        memory_mb: f.memory_mb,
        reserved_concurrency: f.reserved_concurrency,
        environment: f.environment.clone(),
        faults: None,
    }
}

async fn create_json(
    emulator: &Emulator,
    prefix: &str,
    operation: &str,
    body: &Value,
    resource: &str,
    warnings: &mut Vec<String>,
) -> Result<bool, UpError> {
    match emulator
        .call_json(
            &format!("{prefix}.{operation}"),
            body.to_string().as_bytes(),
        )
        .await
    {
        Ok(_) => Ok(true),
        // Already there (a second `up` on the same emulator): keep it as it is.
        Err(e) if e.code() == "ResourceInUseException" => Ok(false),
        Err(e) if e.code() == "UnknownOperationException" => {
            warnings.push(format!(
                "{resource}: {operation} is not implemented by this build's {prefix} service; resource not created"
            ));
            Ok(false)
        }
        Err(e) => Err(UpError::Resource {
            resource: resource.to_owned(),
            message: e.to_string(),
        }),
    }
}

/// The `CreateTable` request for a table's CloudFormation properties, and its TTL
/// specification (a separate `UpdateTimeToLive` call in the API).
pub fn create_table_request(name: &str, props: &Map<String, Value>) -> (Value, Option<Value>) {
    let mut req = Map::new();
    req.insert("TableName".into(), Value::String(name.to_owned()));
    for key in [
        "AttributeDefinitions",
        "KeySchema",
        "BillingMode",
        "ProvisionedThroughput",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "StreamSpecification",
        "SSESpecification",
        "TableClass",
        "DeletionProtectionEnabled",
    ] {
        if let Some(v) = props.get(key) {
            req.insert(key.to_owned(), v.clone());
        }
    }
    (
        Value::Object(req),
        props.get("TimeToLiveSpecification").cloned(),
    )
}

async fn create_bucket(
    emulator: &Emulator,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<(), UpError> {
    let request = axum::http::Request::builder()
        .method("PUT")
        .uri(format!("/{name}"))
        .header("host", "localhost")
        .body(Body::empty())
        .map_err(|e| UpError::Resource {
            resource: name.to_owned(),
            message: e.to_string(),
        })?;
    let (_, response) = emulator.s3.handle(request).await;
    let status = response.status();
    if status.is_success() || status.as_u16() == 409 {
        Ok(())
    } else if status.as_u16() == 501 {
        warnings.push(format!(
            "{name}: S3 is not implemented by this build; bucket not created"
        ));
        Ok(())
    } else {
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        Err(UpError::Resource {
            resource: name.to_owned(),
            message: format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
        })
    }
}

/// True for the variables cargo sets for one crate's build or test run. A nested
/// `cargo build` that inherits them (say, `up` called from a test) makes build scripts such
/// as ring's rerun, rebuilding rustls and the AWS SDKs — and the next plain build rebuilds
/// them back. Builds started by `up` drop them.
pub fn is_crate_scoped_cargo_var(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || matches!(
            name,
            "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "OUT_DIR"
        )
}

/// `cargo` (as the running cargo names it) without the crate-scoped variables.
pub fn cargo_command() -> std::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(cargo);
    for (name, _) in std::env::vars_os() {
        if is_crate_scoped_cargo_var(&name.to_string_lossy()) {
            command.env_remove(&name);
        }
    }
    command
}

/// Builds a function's binary with cargo and returns the executable's path.
pub async fn build(base_dir: &Path, f: &FunctionSpec) -> Result<PathBuf, UpError> {
    let dir = base_dir.join(&f.code_uri);
    let err = |message: String| UpError::Build {
        function: f.name.clone(),
        message,
    };
    tracing::info!(function = %f.name, binary = %f.binary, dir = %dir.display(), "building");
    let output = tokio::process::Command::from(cargo_command())
        .args([
            "build",
            "--workspace",
            "--bin",
            &f.binary,
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(&dir)
        .output()
        .await
        .map_err(|e| err(format!("cannot run cargo in {}: {e}", dir.display())))?;
    if !output.status.success() {
        // Cargo's own `error:` lines say why (no such binary, compile errors).
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why: Vec<&str> = stderr
            .lines()
            .filter(|l| l.trim_start().starts_with("error"))
            .take(3)
            .collect();
        return Err(err(format!(
            "cargo build failed ({}): {}",
            output.status,
            why.join(" / ")
        )));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == f.binary.as_str())
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| err(format!("cargo built no executable named {}", f.binary)))
}
