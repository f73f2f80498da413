//! Fires schedules at the emulated clock's instants.
//!
//! The runner polls the clock every few real milliseconds (the clock may run faster
//! than real time or jump forward through `/_shardwise/clock`), and fires every
//! instant that has come due, in order, each with its own scheduled time — so
//! advancing the clock by an hour fires a `rate(15 minutes)` schedule four times with
//! four distinct `time`s, as the same hour would on AWS. Invocations are asynchronous
//! (both services invoke Lambda with the `Event` type) and wait for a concurrency
//! slot. Payloads:
//! - rules: the "Scheduled Event" envelope (or the target's `Input` verbatim);
//! - Scheduler: the target's `Input` with `<aws.scheduler.*>` placeholders replaced,
//!   `{}` when none is configured.
//!
//! A failed invocation is retried as Lambda retries asynchronous events (twice, after
//! one and two emulated minutes). Not emulated: Scheduler's `FlexibleTimeWindow`,
//! `RetryPolicy`, start/end dates and time zones.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use super::expression::{Expression, ExpressionError};
use crate::Emulator;
use crate::lambda::async_invoke::invoke_async;
use crate::server::MetricsSource;
use crate::template::{ScheduleSpec, ScheduleTarget};

/// How often (real time) the runner looks at the clock.
const TICK: Duration = Duration::from_millis(20);
/// Firings of one schedule per tick at most, so a clock jumped years ahead with a
/// `rate(1 minute)` schedule cannot flood the machine; the rest are skipped and counted.
const MAX_CATCH_UP: u32 = 1_000;

#[derive(Debug)]
struct Entry {
    spec: ScheduleSpec,
    expression: Expression,
    start: OffsetDateTime,
    next: Option<OffsetDateTime>,
    fired: AtomicU64,
    errors: Arc<AtomicU64>,
    skipped: u64,
}

/// The running schedules of one emulator.
#[derive(Debug)]
pub struct ScheduleRunner {
    entries: Mutex<Vec<Entry>>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl ScheduleRunner {
    /// Validates every expression (an invalid one is a start-up error, as AWS rejects
    /// the rule) and starts firing the enabled schedules.
    pub fn start(
        emulator: &Arc<Emulator>,
        specs: Vec<ScheduleSpec>,
    ) -> Result<Arc<Self>, ExpressionError> {
        let now = to_offset(emulator.clock.now());
        let mut entries = Vec::new();
        for spec in specs {
            let expression = Expression::parse(&spec.expression)?;
            let next = if spec.enabled {
                expression.next_after(now, now)
            } else {
                None
            };
            entries.push(Entry {
                spec,
                expression,
                start: now,
                next,
                fired: AtomicU64::new(0),
                errors: Arc::new(AtomicU64::new(0)),
                skipped: 0,
            });
        }
        let runner = Arc::new(Self {
            entries: Mutex::new(entries),
            task: Mutex::new(None),
        });
        let weak = Arc::downgrade(&runner);
        let em = Arc::clone(emulator);
        let handle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TICK).await;
                let Some(runner) = weak.upgrade() else { return };
                runner.tick(&em);
            }
        });
        *runner.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle.abort_handle());
        Ok(runner)
    }

    fn tick(&self, emulator: &Arc<Emulator>) {
        let now = to_offset(emulator.clock.now());
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        for entry in entries.iter_mut() {
            let mut fired_now = 0;
            while let Some(due) = entry.next.filter(|t| *t <= now) {
                if fired_now < MAX_CATCH_UP {
                    fire(emulator, entry, due);
                    fired_now += 1;
                } else {
                    entry.skipped += 1;
                }
                entry.next = entry.expression.next_after(entry.start, due);
            }
        }
    }

    /// Stops firing.
    pub fn stop(&self) {
        if let Some(h) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
    }

    /// When each schedule fires next (RFC 3339), by name.
    pub fn next_firings(&self) -> Vec<(String, Option<String>)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .map(|e| (e.spec.name.clone(), e.next.map(aws_time)))
            .collect()
    }
}

impl Drop for ScheduleRunner {
    fn drop(&mut self) {
        self.stop();
    }
}

impl MetricsSource for ScheduleRunner {
    fn key(&self) -> &'static str {
        "schedules"
    }

    fn metrics(&self) -> Value {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = serde_json::Map::new();
        for e in entries.iter() {
            out.insert(
                e.spec.name.clone(),
                json!({
                    "function": e.spec.function,
                    "expression": e.spec.expression,
                    "enabled": e.spec.enabled,
                    "fired": e.fired.load(Ordering::Relaxed),
                    "errors": e.errors.load(Ordering::Relaxed),
                    "skipped": e.skipped,
                    "next": e.next.map(aws_time),
                }),
            );
        }
        Value::Object(out)
    }
}

fn fire(emulator: &Arc<Emulator>, entry: &Entry, due: OffsetDateTime) {
    entry.fired.fetch_add(1, Ordering::Relaxed);
    let payload = payload(emulator, &entry.spec, due);
    let em = Arc::clone(emulator);
    let function = entry.spec.function.clone();
    let errors = Arc::clone(&entry.errors);
    tokio::spawn(async move {
        match invoke_async(&em.lambda, &em.clock, &function, Bytes::from(payload)).await {
            Ok(outcome) if !outcome.is_error() => {}
            Ok(outcome) => {
                errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%function, ?outcome, "scheduled invocation failed");
            }
            Err(e) => {
                errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%function, error = %e, "scheduled invocation could not start");
            }
        }
    });
}

/// The event a schedule delivers for the firing at `due`.
pub fn payload(emulator: &Emulator, spec: &ScheduleSpec, due: OffsetDateTime) -> String {
    let (region, account) = (&emulator.config.region, &emulator.config.account_id);
    match &spec.target {
        ScheduleTarget::Rule { input: Some(input) } => input.clone(),
        ScheduleTarget::Rule { input: None } => json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": account,
            "time": aws_time(due),
            "region": region,
            "resources": [format!("arn:aws:events:{region}:{account}:rule/{}", spec.name)],
            "detail": {},
        })
        .to_string(),
        ScheduleTarget::Scheduler { input } => {
            let arn = format!(
                "arn:aws:scheduler:{region}:{account}:schedule/default/{}",
                spec.name
            );
            input
                .as_deref()
                .unwrap_or("{}")
                .replace("<aws.scheduler.schedule-arn>", &arn)
                .replace("<aws.scheduler.scheduled-time>", &aws_time(due))
                .replace(
                    "<aws.scheduler.execution-id>",
                    &uuid::Uuid::new_v4().to_string(),
                )
                .replace("<aws.scheduler.attempt-number>", "1")
        }
    }
}

fn to_offset(t: std::time::SystemTime) -> OffsetDateTime {
    OffsetDateTime::from(t)
}

/// `2026-03-11T02:00:00Z`, the format of the envelope's `time`.
pub fn aws_time(t: OffsetDateTime) -> String {
    let f = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_default()
}
