//! Spawning execution environments and collecting their output.
//!
//! The child gets a *clean* environment (as on AWS, where nothing of the host leaks
//! in): the variables the Rust runtime panics without, the ones SDKs and tracing read,
//! test credentials, `AWS_ENDPOINT_URL` pointing at this emulator, and the template's
//! variables. Reserved names win over template variables, as AWS refuses to let a
//! template set them. Each output line is echoed as `[<function>] <line>` and appended
//! to `<logs dir>/<function>.log`.

use std::fs::File;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::Notify;

use super::LambdaSettings;
use super::function::Function;

/// Where one function's output goes.
#[derive(Debug)]
pub struct LogSink {
    prefix: String,
    file: Option<Mutex<File>>,
    echo: bool,
}

impl LogSink {
    pub(super) fn new(function: &str, settings: &LambdaSettings) -> Self {
        let file = settings.logs_dir.as_ref().and_then(|dir| {
            let _ = std::fs::create_dir_all(dir);
            let path = dir.join(format!("{function}.log"));
            match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
                Ok(f) => Some(Mutex::new(f)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot open function log file");
                    None
                }
            }
        });
        Self {
            prefix: format!("[{function}]"),
            file,
            echo: settings.echo_logs,
        }
    }

    fn line(&self, env: u64, line: &str) {
        if self.echo {
            eprintln!("{} {line}", self.prefix);
        }
        if let Some(file) = &self.file {
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            // Logging must never take the function down; a full disk loses log lines.
            let _ = writeln!(f, "{} env={env} {line}", self.prefix);
        }
    }
}

/// Starts environment `env` of `function`; its exit is reported to
/// `Function::environment_exited`, and `kill` terminates it.
pub(super) fn spawn(
    function: Arc<Function>,
    logs: Arc<LogSink>,
    endpoint: &str,
    env: u64,
    kill: Arc<Notify>,
) -> std::io::Result<()> {
    let config = function.config();
    let mut command = Command::new(&config.binary);
    command.env_clear();
    command.envs(&config.environment);
    for (k, v) in reserved_environment(config, endpoint, env) {
        command.env(k, v);
    }
    if let Some(dir) = config.binary.parent() {
        command.current_dir(dir);
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    if let Some(out) = child.stdout.take() {
        tokio::spawn(pipe(out, Arc::clone(&logs), env));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(pipe(err, Arc::clone(&logs), env));
    }
    logs.line(env, "START environment (cold start)");
    tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            () = kill.notified() => {
                let _ = child.start_kill();
                child.wait().await
            }
        };
        let status = match status {
            Ok(s) => s.to_string(),
            Err(e) => format!("wait failed: {e}"),
        };
        logs.line(env, &format!("END environment ({status})"));
        function.environment_exited(env, &status);
    });
    Ok(())
}

async fn pipe(stream: impl AsyncRead + Unpin, logs: Arc<LogSink>, env: u64) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        logs.line(env, &line);
    }
}

/// The variables Lambda sets (aws-semantics §6).
fn reserved_environment(
    config: &super::FunctionConfig,
    endpoint: &str,
    env: u64,
) -> Vec<(&'static str, String)> {
    let region = config
        .arn
        .split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .unwrap_or("us-east-1")
        .to_owned();
    let task_root = config
        .binary
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    vec![
        ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_RUNTIME_API",
            format!(
                "{endpoint}{}",
                super::runtime_api::prefix(&config.name, env)
            ),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", config.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/[$LATEST]{env:032x}"),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", region.clone()),
        ("AWS_DEFAULT_REGION", region),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "test".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", task_root.clone()),
        ("LAMBDA_RUNTIME_DIR", task_root),
        ("TZ", ":UTC".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
    ]
}
