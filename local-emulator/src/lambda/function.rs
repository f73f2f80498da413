//! One function's execution environments and invocations.
//!
//! State machine per invocation: *queued* (in `queue`, waiting for an idle
//! environment) → *in flight* (handed to exactly one environment by its
//! `/invocation/next`, recorded in `inflight`) → *done* (the environment posted
//! `/response` or `/error`, the timeout fired, or the process exited). Whichever of those
//! three happens first removes the entry from `inflight` under the lock, so an
//! invocation completes exactly once even when a late response races a timeout kill.
//!
//! Environments are spawned lazily: an invocation that finds no idle environment starts
//! one (a cold start) as long as the function is below its concurrency limit. A process
//! that exits is forgotten; the next invocation that needs it starts a replacement.
//! Concurrency is bounded twice: the semaphore bounds concurrent *invocations*
//! (`ReservedConcurrentExecutions`), and no more environments are spawned than that.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, oneshot};

use super::faults::FaultInjector;
use super::process::{self, LogSink};
use super::{
    Admission, DEFAULT_MAX_ENVIRONMENTS, FunctionConfig, InvokeError, InvokeOutcome, LambdaSettings,
};

/// Work handed to an environment by `/invocation/next`.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event.
    pub payload: Bytes,
    /// `Lambda-Runtime-Deadline-Ms` (wall-clock epoch ms).
    pub deadline_ms: u128,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
}

#[derive(Debug)]
struct Pending {
    request_id: String,
    payload: Bytes,
    done: oneshot::Sender<InvokeOutcome>,
}

#[derive(Debug)]
struct InFlight {
    env: u64,
    done: oneshot::Sender<InvokeOutcome>,
}

#[derive(Debug)]
struct Env {
    /// Request id of the invocation it is running.
    busy: Option<String>,
    /// Signalled to kill the process.
    kill: Arc<Notify>,
    /// It has asked for work at least once (its init succeeded).
    ready: bool,
    /// A kill was requested; it must not take new work while it dies.
    dying: bool,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Pending>,
    envs: BTreeMap<u64, Env>,
    inflight: HashMap<String, InFlight>,
    endpoint: Option<String>,
}

#[derive(Debug, Default)]
struct Counters {
    invocations: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    throttles: AtomicU64,
    cold_starts: AtomicU64,
    process_exits: AtomicU64,
    async_retries: AtomicU64,
}

/// A registered function.
#[derive(Debug)]
pub struct Function {
    config: FunctionConfig,
    faults: FaultInjector,
    logs: Arc<LogSink>,
    state: Mutex<State>,
    work: Notify,
    permits: Arc<Semaphore>,
    max_envs: usize,
    next_env: AtomicU64,
    counters: Counters,
    closed: AtomicBool,
}

impl Function {
    pub(super) fn new(config: FunctionConfig, settings: &LambdaSettings, seed: u64) -> Self {
        let limit = config
            .reserved_concurrency
            .unwrap_or(DEFAULT_MAX_ENVIRONMENTS) as usize;
        let faults = config
            .faults
            .clone()
            .unwrap_or_else(|| settings.faults.clone());
        Self {
            faults: FaultInjector::new(faults, seed, &config.name),
            logs: Arc::new(LogSink::new(&config.name, settings)),
            state: Mutex::new(State::default()),
            work: Notify::new(),
            permits: Arc::new(Semaphore::new(limit)),
            max_envs: limit,
            next_env: AtomicU64::new(1),
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            config,
        }
    }

    /// Function name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The function's configuration.
    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    /// Its fault injector (the ESM asks it about duplicate deliveries).
    pub fn faults(&self) -> &FaultInjector {
        &self.faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one invocation to completion.
    pub async fn invoke(
        self: &Arc<Self>,
        endpoint: &str,
        payload: Bytes,
        admission: Admission,
    ) -> Result<InvokeOutcome, InvokeError> {
        let permit = match admission {
            Admission::FailFast => match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    self.counters.throttles.fetch_add(1, Ordering::Relaxed);
                    return Err(InvokeError::Throttled);
                }
            },
            Admission::Wait => Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .map_err(|_| InvokeError::NotFound(self.config.name.clone()))?,
        };
        if let Some(delay) = self.faults.delay() {
            tokio::time::sleep(delay).await;
        }
        self.counters.invocations.fetch_add(1, Ordering::Relaxed);
        let request_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        let spawn = {
            let mut state = self.lock();
            state.endpoint = Some(endpoint.to_owned());
            state.queue.push_back(Pending {
                request_id: request_id.clone(),
                payload,
                done: tx,
            });
            self.claim_new_env(&mut state)
        };
        self.work.notify_waiters();
        if let Some((env, kill)) = spawn
            && let Err(e) = self.spawn_env(endpoint, env, kill)
        {
            let mut state = self.lock();
            state.envs.remove(&env);
            if let Some(pos) = state.queue.iter().position(|p| p.request_id == request_id) {
                state.queue.remove(pos);
            }
            drop(state);
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return Ok(InvokeOutcome::error(
                "Runtime.InvalidEntrypoint",
                format!("cannot start {}: {e}", self.config.binary.display()),
            ));
        }
        let outcome = rx.await.unwrap_or_else(|_| {
            InvokeOutcome::error("Runtime.Unknown", "the function was shut down")
        });
        drop(permit);
        if outcome.is_error() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        Ok(outcome)
    }

    /// Reserves an environment slot if queued work outnumbers idle environments.
    fn claim_new_env(&self, state: &mut State) -> Option<(u64, Arc<Notify>)> {
        let idle = state
            .envs
            .values()
            .filter(|e| e.busy.is_none() && !e.dying)
            .count();
        if state.queue.len() > idle
            && state.envs.len() < self.max_envs
            && !self.closed.load(Ordering::Relaxed)
        {
            let id = self.next_env.fetch_add(1, Ordering::Relaxed);
            let kill = Arc::new(Notify::new());
            state.envs.insert(
                id,
                Env {
                    busy: None,
                    kill: Arc::clone(&kill),
                    ready: false,
                    dying: false,
                },
            );
            Some((id, kill))
        } else {
            None
        }
    }

    fn spawn_env(
        self: &Arc<Self>,
        endpoint: &str,
        env: u64,
        kill: Arc<Notify>,
    ) -> std::io::Result<()> {
        self.counters.cold_starts.fetch_add(1, Ordering::Relaxed);
        process::spawn(
            Arc::clone(self),
            Arc::clone(&self.logs),
            endpoint,
            env,
            kill,
        )
    }

    /// `/invocation/next` for environment `env`: waits for work. `None` if the
    /// environment is unknown (killed, replaced) or the function shut down.
    pub async fn next(self: &Arc<Self>, env: u64) -> Option<Assignment> {
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.closed.load(Ordering::Relaxed) {
                return None;
            }
            {
                let mut guard = self.lock();
                let state = &mut *guard;
                let slot = state.envs.get_mut(&env)?;
                if slot.dying {
                    return None;
                }
                slot.ready = true;
                if let Some(previous) = slot.busy.take() {
                    // Asking for more work without answering is a runtime bug; AWS
                    // treats the abandoned invocation as failed.
                    if let Some(f) = state.inflight.remove(&previous) {
                        let _ = f.done.send(InvokeOutcome::error(
                            "Runtime.InvalidResponse",
                            "the runtime asked for the next invocation without answering",
                        ));
                    }
                }
                if let Some(p) = state.queue.pop_front() {
                    if let Some(slot) = state.envs.get_mut(&env) {
                        slot.busy = Some(p.request_id.clone());
                    }
                    state
                        .inflight
                        .insert(p.request_id.clone(), InFlight { env, done: p.done });
                    drop(guard);
                    self.arm_timers(&p.request_id);
                    let deadline = SystemTime::now() + self.config.timeout;
                    return Some(Assignment {
                        deadline_ms: deadline
                            .duration_since(UNIX_EPOCH)
                            .unwrap_or_default()
                            .as_millis(),
                        trace_id: trace_id(),
                        request_id: p.request_id,
                        payload: p.payload,
                    });
                }
            }
            notified.await;
        }
    }

    fn arm_timers(self: &Arc<Self>, request_id: &str) {
        let me = Arc::clone(self);
        let id = request_id.to_owned();
        let timeout = self.config.timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            me.time_out(&id);
        });
        if let Some(after) = self.faults.kill_after(timeout) {
            let me = Arc::clone(self);
            let id = request_id.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let mut guard = me.lock();
                let state = &mut *guard;
                if let Some(f) = state.inflight.get(&id)
                    && let Some(env) = state.envs.get_mut(&f.env)
                {
                    env.dying = true;
                    env.kill.notify_one();
                    me.faults.count_kill();
                    tracing::info!(function = %me.config.name, request_id = %id, "fault injection: killed the environment mid-invocation");
                }
            });
        }
    }

    fn time_out(&self, request_id: &str) {
        let mut state = self.lock();
        let Some(f) = state.inflight.remove(request_id) else {
            return;
        };
        if let Some(env) = state.envs.get_mut(&f.env) {
            env.busy = None;
            env.dying = true;
            env.kill.notify_one();
        }
        drop(state);
        self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
        let secs = self.config.timeout.as_secs_f64();
        let _ = f.done.send(InvokeOutcome::error(
            "Sandbox.Timedout",
            format!("RequestId: {request_id} Error: Task timed out after {secs:.2} seconds"),
        ));
    }

    /// `/response` or `/error` from environment `env`; false if the request id is not
    /// in flight there (already timed out, or never existed).
    pub fn complete(&self, env: u64, request_id: &str, outcome: InvokeOutcome) -> bool {
        let mut state = self.lock();
        match state.inflight.get(request_id) {
            Some(f) if f.env == env => {}
            _ => return false,
        }
        let Some(f) = state.inflight.remove(request_id) else {
            return false;
        };
        if let Some(slot) = state.envs.get_mut(&env) {
            slot.busy = None;
        }
        drop(state);
        let _ = f.done.send(outcome);
        true
    }

    /// `/init/error`: the environment failed to initialise; it will exit.
    pub fn init_failed(&self, env: u64, error: &Value) {
        tracing::warn!(function = %self.config.name, env, %error, "function init error");
        if let Some(slot) = self.lock().envs.get_mut(&env) {
            slot.dying = true;
            slot.kill.notify_one();
        }
    }

    /// Called by the process watcher when an environment's process has exited.
    pub(super) fn environment_exited(self: &Arc<Self>, env: u64, status: &str) {
        self.counters.process_exits.fetch_add(1, Ordering::Relaxed);
        let (failed, spawn, endpoint) = {
            let mut state = self.lock();
            let Some(slot) = state.envs.remove(&env) else {
                return;
            };
            let failed = if let Some(id) = slot.busy {
                state.inflight.remove(&id).map(|f| {
                    (
                        f.done,
                        format!("RequestId: {id} Error: Runtime exited with error: {status}"),
                    )
                })
            } else if !slot.ready {
                // Died during init: fail the invocation that started it rather than
                // spawning replacements in a crash loop.
                state.queue.pop_front().map(|p| {
                    (
                        p.done,
                        format!(
                            "RequestId: {} Error: Runtime exited during init: {status}",
                            p.request_id
                        ),
                    )
                })
            } else {
                None
            };
            let spawn = self.claim_new_env(&mut state);
            (failed, spawn, state.endpoint.clone())
        };
        if let Some((done, message)) = failed {
            let _ = done.send(InvokeOutcome::error("Runtime.ExitError", message));
        }
        if let (Some((id, kill)), Some(endpoint)) = (spawn, endpoint)
            && self.spawn_env(&endpoint, id, kill).is_err()
        {
            self.lock().envs.remove(&id);
        }
        self.work.notify_waiters();
    }

    /// Whether environment `env` is currently registered.
    pub fn has_env(&self, env: u64) -> bool {
        self.lock().envs.contains_key(&env)
    }

    /// Kills every environment and fails everything queued or in flight.
    pub fn shutdown(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let mut state = self.lock();
        for env in state.envs.values() {
            env.kill.notify_one();
        }
        for p in state.queue.drain(..) {
            let _ = p.done.send(InvokeOutcome::error(
                "Runtime.Unknown",
                "function shut down",
            ));
        }
        for (_, f) in state.inflight.drain() {
            let _ = f.done.send(InvokeOutcome::error(
                "Runtime.Unknown",
                "function shut down",
            ));
        }
        drop(state);
        self.permits.close();
        self.work.notify_waiters();
    }

    /// Counters for `/_shardwise/metrics`.
    pub fn metrics_json(&self) -> Value {
        let c = &self.counters;
        let state = self.lock();
        json!({
            "invocations": c.invocations.load(Ordering::Relaxed),
            "errors": c.errors.load(Ordering::Relaxed),
            "timeouts": c.timeouts.load(Ordering::Relaxed),
            "throttles": c.throttles.load(Ordering::Relaxed),
            "cold_starts": c.cold_starts.load(Ordering::Relaxed),
            "process_exits": c.process_exits.load(Ordering::Relaxed),
            "async_retries": c.async_retries.load(Ordering::Relaxed),
            "environments": state.envs.len(),
            "queued": state.queue.len(),
            "in_flight": state.inflight.len(),
            "faults": self.faults.metrics_json(),
        })
    }

    /// Named counter (`invocations`, `errors`, `timeouts`, `cold_starts`, …) for tests.
    pub fn counter(&self, name: &str) -> u64 {
        self.metrics_json()
            .get(name)
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// Counts a retry of an asynchronous invocation.
    pub fn count_async_retry(&self) {
        self.counters.async_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// How long the function may run.
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }
}

/// An X-Ray style trace header (`Root=1-<epoch hex>-<24 hex>;Sampled=0`).
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &random[..24],
        &random[16..32]
    )
}
