//! The Lambda layer: real function binaries as OS processes behind the Runtime API.
//!
//! ## Layout
//! - [`function`] — one function's execution environments, invocation queue, in-flight
//!   table, timeout enforcement and reserved concurrency. The heart of the layer.
//! - [`process`] — spawning an execution environment (a `bootstrap` process with the
//!   environment the Rust runtime requires) and piping its output to prefixed logs.
//! - [`runtime_api`] — `/_lambda/<function>/<env>/2018-06-01/runtime/...`: each
//!   environment gets its own URL prefix (the Rust runtime client keeps the path of
//!   `AWS_LAMBDA_RUNTIME_API`, see `lambda_runtime_api_client::set_origin`), so the
//!   emulator always knows which process is asking for work.
//! - [`invoke_api`] — `POST /2015-03-31/functions/{name}/invocations`;
//!   [`async_invoke`] — `Event` invocations with Lambda's two retries.
//! - [`faults`] — seeded fault injection (process kills, invocation delays, duplicate
//!   batch delivery) with every injected fault counted.
//!
//! ## Why processes and not threads
//! The point is to run the exact binary that gets deployed: its panics, exits, memory
//! and start-up time are then real, and a timeout can only be enforced the way AWS
//! does it — by killing the environment.

pub mod async_invoke;
pub mod faults;
pub mod function;
pub mod invoke_api;
pub mod process;
pub mod runtime_api;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde_json::{Value, json};

pub use faults::FaultSettings;
pub use function::Function;

/// Settings of the Lambda layer (all off/empty by default: no functions registered).
#[derive(Debug, Clone, Default)]
pub struct LambdaSettings {
    /// Where per-function log files go (`<dir>/<function>.log`); none = no files.
    pub logs_dir: Option<PathBuf>,
    /// Echo function output to the emulator's stderr, prefixed with `[<function>]`.
    pub echo_logs: bool,
    /// Fault injection applied to every function unless it has its own.
    pub faults: FaultSettings,
}

/// Everything needed to run one function.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    /// Function name.
    pub name: String,
    /// Function ARN.
    pub arn: String,
    /// The built `bootstrap` binary.
    pub binary: PathBuf,
    /// Invocation timeout.
    pub timeout: std::time::Duration,
    /// Memory size (MB), reported to the runtime.
    pub memory_mb: u32,
    /// `ReservedConcurrentExecutions`; `None` = up to [`DEFAULT_MAX_ENVIRONMENTS`].
    pub reserved_concurrency: Option<u32>,
    /// Template environment variables (references already resolved).
    pub environment: BTreeMap<String, String>,
    /// Per-function fault injection overriding [`LambdaSettings::faults`].
    pub faults: Option<FaultSettings>,
}

/// Upper bound on concurrent environments of a function without reserved concurrency
/// (AWS's account default is 1,000; a laptop is smaller).
pub const DEFAULT_MAX_ENVIRONMENTS: u32 = 32;

/// The result of one invocation, as the caller (Invoke API, ESM, scheduler) sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeOutcome {
    /// The function returned this payload.
    Success(Bytes),
    /// Handler error, panic, timeout or crash: `{"errorType", "errorMessage"}`.
    FunctionError {
        /// `errorType`, e.g. `Sandbox.Timedout` or `Runtime.ExitError`.
        error_type: String,
        /// The error document.
        payload: Value,
    },
}

impl InvokeOutcome {
    pub(crate) fn error(error_type: &str, message: impl Into<String>) -> Self {
        Self::FunctionError {
            error_type: error_type.to_owned(),
            payload: json!({"errorType": error_type, "errorMessage": message.into()}),
        }
    }

    /// True for any kind of function error.
    pub fn is_error(&self) -> bool {
        matches!(self, Self::FunctionError { .. })
    }
}

/// Why an invocation could not even start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvokeError {
    /// No such function.
    #[error("Function not found: {0}")]
    NotFound(String),
    /// Reserved concurrency exhausted (synchronous callers only).
    #[error("Rate Exceeded.")]
    Throttled,
    /// The emulator does not know its own URL yet (not serving).
    #[error("the Lambda layer is not serving yet")]
    NotServing,
}

/// Whether a caller waits for a free concurrency slot or is throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Synchronous Invoke API callers get `TooManyRequestsException`.
    FailFast,
    /// Event source mappings, schedules and async invokes wait (AWS retries throttles
    /// for them without consuming retry attempts).
    Wait,
}

/// All functions of one emulator.
#[derive(Debug, Default)]
pub struct Lambda {
    settings: RwLock<LambdaSettings>,
    functions: RwLock<BTreeMap<String, Arc<Function>>>,
    endpoint: RwLock<Option<String>>,
    seed: u64,
}

impl Lambda {
    /// An empty Lambda layer.
    pub fn new(settings: LambdaSettings, seed: u64) -> Self {
        Self {
            settings: RwLock::new(settings),
            seed,
            ..Self::default()
        }
    }

    /// Records the emulator's base URL (`http://host:port`), which environments use for
    /// both the Runtime API and `AWS_ENDPOINT_URL`.
    pub fn set_endpoint(&self, endpoint: &str) {
        *self.endpoint.write().unwrap_or_else(|e| e.into_inner()) =
            Some(endpoint.trim_end_matches('/').to_owned());
    }

    /// The emulator's base URL, once serving.
    pub fn endpoint(&self) -> Option<String> {
        self.endpoint
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the layer's settings (affects functions registered afterwards).
    pub fn configure(&self, settings: LambdaSettings) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings;
    }

    /// Registers (or replaces) a function. Its environments start on first invocation.
    pub fn register(&self, config: FunctionConfig) -> Arc<Function> {
        let settings = self
            .settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let function = Arc::new(Function::new(config, &settings, self.seed));
        let old = self
            .functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(function.name().to_owned(), Arc::clone(&function));
        if let Some(old) = old {
            old.shutdown();
        }
        function
    }

    /// A registered function by name.
    pub fn function(&self, name: &str) -> Option<Arc<Function>> {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Names of all registered functions.
    pub fn names(&self) -> Vec<String> {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Invokes `name` with `payload` and waits for the outcome.
    pub async fn invoke(
        &self,
        name: &str,
        payload: Bytes,
        admission: Admission,
    ) -> Result<InvokeOutcome, InvokeError> {
        let function = self
            .function(name)
            .ok_or_else(|| InvokeError::NotFound(name.to_owned()))?;
        let endpoint = self.endpoint().ok_or(InvokeError::NotServing)?;
        function.invoke(&endpoint, payload, admission).await
    }

    /// Kills every environment of every function (used at shutdown and reset).
    pub fn shutdown(&self) {
        for f in self
            .functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            f.shutdown();
        }
    }

    /// Unregisters every function, killing its environments.
    pub fn reset(&self) {
        self.shutdown();
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Per-function counters for `/_shardwise/metrics`.
    pub fn metrics(&self) -> Value {
        let functions = self.functions.read().unwrap_or_else(|e| e.into_inner());
        let mut out = serde_json::Map::new();
        for (name, f) in functions.iter() {
            out.insert(name.clone(), f.metrics_json());
        }
        Value::Object(out)
    }
}
