//! The SAM/CloudFormation template model the `up` command starts from.
//!
//! ## Layout
//! - [`yaml`] — YAML (or JSON) text → JSON with short-form tags (`!Ref`, `!Sub`, …)
//!   rewritten to their long forms, so everything after it sees one syntax.
//! - [`intrinsics`] — the intrinsic-function evaluator and condition evaluation.
//! - [`resources`] — extraction of the resources the emulator runs (streams, tables,
//!   buckets, functions with their events, rules, schedules) into typed specs, and the
//!   list of everything it does not emulate.
//! - `functions` — functions, their events, rules, schedules and standalone mappings.
//! - [`events`] — a function's event sources (Kinesis, Schedule, ScheduleV2) with AWS's
//!   parameter ranges validated.
//!
//! ## Why `serde_norway`
//! CloudFormation's short forms are YAML *tags*; a YAML crate has to hand them to us
//! rather than fail or drop them. `serde_yaml` 0.9 does (`Value::Tagged`) but is archived;
//! `serde_norway` is its maintained fork with the same `Value` model, so the conversion
//! in [`yaml`] is ~50 lines. `saphyr` is pure Rust but has no serde `Value` bridge.
//!
//! ## Local names
//! Resources without an explicit name (`Name`, `TableName`, `BucketName`,
//! `FunctionName`) get their logical id (bucket names lower-cased), deterministic rather
//! than CloudFormation's `stack-Logical-RANDOM`, so a restarted emulator finds the same
//! names and tests can predict them.

pub mod events;
mod functions;
pub mod intrinsics;
pub mod resources;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use events::{KinesisEventSpec, ScheduleSpec, ScheduleTarget, StartingPosition};
pub use resources::{BucketSpec, FunctionSpec, StreamSpec, TableSpec};

/// Why a template could not be loaded.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    /// Not valid YAML/JSON.
    #[error("template syntax error: {0}")]
    Syntax(String),
    /// Valid YAML, but not a valid template (unknown reference, wrong shape, bad range).
    #[error("invalid template: {0}")]
    Invalid(String),
    /// A feature the emulator does not support and cannot safely ignore.
    #[error("unsupported template feature: {0}")]
    Unsupported(String),
    /// Reading the file failed.
    #[error("cannot read template {0}")]
    Io(String),
}

/// Where the template is deployed (the pseudo parameters).
#[derive(Debug, Clone)]
pub struct Deployment {
    /// `AWS::Region`.
    pub region: String,
    /// `AWS::AccountId`.
    pub account_id: String,
    /// `AWS::StackName`.
    pub stack_name: String,
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            account_id: "000000000000".to_owned(),
            stack_name: "shardwise-local".to_owned(),
        }
    }
}

/// A loaded template: what the emulator creates and runs.
#[derive(Debug, Clone, Default)]
pub struct Template {
    /// Directory of the template file; `CodeUri` is relative to it.
    pub base_dir: PathBuf,
    /// Kinesis streams.
    pub streams: Vec<StreamSpec>,
    /// DynamoDB tables.
    pub tables: Vec<TableSpec>,
    /// S3 buckets.
    pub buckets: Vec<BucketSpec>,
    /// Lambda functions with their event sources.
    pub functions: Vec<FunctionSpec>,
    /// Schedules from `AWS::Events::Rule` / `AWS::Scheduler::Schedule` resources and
    /// from functions' `Schedule`/`ScheduleV2` events.
    pub schedules: Vec<ScheduleSpec>,
    /// Human-readable notes about every resource type or property not emulated.
    pub not_emulated: Vec<String>,
}

impl Template {
    /// Loads a template file with `overrides` for its parameters.
    pub fn load(
        path: &Path,
        overrides: &BTreeMap<String, String>,
        deployment: &Deployment,
    ) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TemplateError::Io(format!("{}: {e}", path.display())))?;
        let mut template = Self::parse(&text, overrides, deployment)?;
        template.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(template)
    }

    /// Parses template text.
    pub fn parse(
        text: &str,
        overrides: &BTreeMap<String, String>,
        deployment: &Deployment,
    ) -> Result<Self, TemplateError> {
        let doc = yaml::parse(text)?;
        let Value::Object(doc) = doc else {
            return Err(TemplateError::Invalid("a template is a mapping".into()));
        };
        resources::extract(&doc, overrides, deployment)
    }

    /// The function with this name, if any.
    pub fn function(&self, name: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// Parses `K=V` parameter overrides (as `sam deploy --parameter-overrides` takes them).
pub fn parse_overrides<S: AsRef<str>>(
    items: &[S],
) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut out = BTreeMap::new();
    for item in items {
        // `sam` also accepts `ParameterKey=K,ParameterValue=V`.
        let item = item.as_ref();
        let (k, v) = if let Some(rest) = item.strip_prefix("ParameterKey=") {
            rest.split_once(",ParameterValue=")
        } else {
            item.split_once('=')
        }
        .ok_or_else(|| {
            TemplateError::Invalid(format!("parameter override {item}: expected K=V"))
        })?;
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}
