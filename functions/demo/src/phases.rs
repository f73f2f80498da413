//! The phases after the drain: waiting for the outputs to settle (and the day's windows
//! to close), and waiting for the nightly reconciler's report once the emulated clock has
//! been moved to its schedule.
//!
//! Closing the windows: by default ([`force_watermarks`]) the generated day is treated as
//! what it is, a bounded input fully consumed once drained: the timer-driven operators'
//! watermarks are forced to the end of time and the dispatcher is kept running by direct
//! invocations ([`keep_dispatching`]), which fires every event-time timer (daily windows,
//! session gaps) at once. With `--live-watermarks` the windows close the way they would
//! live instead: the shards go idle and, after the idle timeout, the timer dispatcher's
//! scheduled runs advance their watermark to processing time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shardwise::{DynamoStateStore, EventTime, force_watermark};
use shardwise_emulator::lambda::Admission;
use shardwise_emulator::lambda::async_invoke::invoke_async;
use shardwise_emulator::schedule::runner::payload;
use shardwise_emulator::server::MetricsSource;
use time::OffsetDateTime;

use crate::results;
use crate::stack::{Running, binaries};
use crate::stream::{self, Progress};

/// When [`settle`] calls the outputs settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettleRule {
    /// Consecutive polls (1 s apart) with unchanged counts.
    pub stable_polls: u32,
    /// Also wait until no event-time timer is pending (with forced watermarks every one
    /// is due, so none left means every window and session has been closed).
    pub until_event_timers_fired: bool,
}

impl Default for SettleRule {
    fn default() -> Self {
        Self {
            stable_polls: 2,
            until_event_timers_fired: false,
        }
    }
}

/// Event-time timer items in the timers table (their pk holds `#event#`, see
/// `shardwise::timer_store`); `None` if the count could not be read.
pub async fn pending_event_timers(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Option<u64> {
    let mut total = 0_u64;
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .select(aws_sdk_dynamodb::types::Select::Count)
            .filter_expression("contains(pk, :event)")
            .expression_attribute_values(
                ":event",
                aws_sdk_dynamodb::types::AttributeValue::S(EVENT_TIMER_PK_MARK.to_owned()),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .ok()?;
        total += u64::try_from(page.count()).unwrap_or(0);
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Some(total),
        }
    }
}

/// What marks an event-time timer item's pk (`<operator>#event#all#<spread>`).
const EVENT_TIMER_PK_MARK: &str = "#event#";

/// After the drain: waits until the alert and output counts stop changing and, when the
/// windows can close (daily-totals and timer-dispatcher both run), the day's totals are
/// final — or until `timeout`, noting what did not settle.
pub async fn settle(
    running: &Running,
    ddb: &aws_sdk_dynamodb::Client,
    s3: &aws_sdk_s3::Client,
    day: &str,
    timeout: Duration,
    rule: SettleRule,
    notes: &mut Vec<String>,
    progress: &mut Progress,
) {
    let names = &running.names;
    let expect_final =
        running.runs(binaries::DAILY_TOTALS) && running.runs(binaries::TIMER_DISPATCHER);
    let deadline = Instant::now() + timeout;
    let mut last = None;
    let mut stable_polls = 0;
    loop {
        let alerts = stream::count_items(ddb, &names.alerts_table).await;
        let outputs = stream::count_items(ddb, &names.outputs_table).await;
        let rows = if running.runs(binaries::DAILY_TOTALS) {
            results::total_rows(ddb, &names.outputs_table, day)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let finals = rows.iter().filter(|r| r.is_final).count();
        let current = (alerts, outputs, finals);
        stable_polls = if last == Some(current) {
            stable_polls + 1
        } else {
            0
        };
        last = Some(current);
        let all_final = !expect_final || (!rows.is_empty() && finals == rows.len());
        // Event timers are in the timers table, or with the shard-log state of their
        // shard (its checkpoint names the earliest).
        let timers_fired = !rule.until_event_timers_fired
            || (pending_event_timers(ddb, &names.timers_table).await == Some(0)
                && crate::state::pending_shard_log_event_timers(running, ddb, s3).await == Some(0));
        if stable_polls >= rule.stable_polls && all_final && timers_fired {
            progress.finish(&format!(
                "settled: {alerts} alerts, {outputs} output items, {finals}/{} totals final",
                rows.len()
            ));
            return;
        }
        if Instant::now() >= deadline {
            progress.finish("settle timeout");
            notes.push(format!(
                "after {} s of settling: {finals} of {} daily-totals rows final (windows close \
                 once the shards have been idle for the watermark idle timeout)",
                timeout.as_secs(),
                rows.len()
            ));
            return;
        }
        progress.show(&format!(
            "settling: {alerts} alerts, {outputs} output items, {finals}/{} totals final",
            rows.len()
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

pub async fn wait_for_reports(
    running: &Running,
    s3: &aws_sdk_s3::Client,
    day: &str,
    timeout: Duration,
    progress: &mut Progress,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if results::reports_ready(s3, &running.names.archive_bucket, day).await {
            progress.finish("reconciliation report written");
            return Ok(());
        }
        let schedule_errors: u64 = running
            .stack
            .schedules
            .metrics()
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|s| {
                s["function"].as_str().is_some_and(|f| {
                    running
                        .functions
                        .get(binaries::RECONCILER)
                        .map(String::as_str)
                        == Some(f)
                })
            })
            .filter_map(|s| s["errors"].as_u64())
            .sum();
        if schedule_errors > 0 {
            return Err(format!(
                "the reconciler failed ({schedule_errors} failed scheduled invocations; see {})",
                running_log_hint()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the reconciler wrote no report within {} s",
                timeout.as_secs()
            ));
        }
        progress.show("waiting for the reconciler's report");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn running_log_hint() -> &'static str {
    "the function logs in <out_dir>/logs/"
}

/// The operators whose windows and timers the timer dispatcher fires (their operator
/// names are their binary names).
pub const TIMER_DRIVEN: [&str; 2] = [binaries::DAILY_TOTALS, binaries::SESSION_TRACKER];

/// Forces the watermark of every running timer-driven operator to the end of time (the
/// bounded input has been consumed completely), retrying errors such as throttling.
pub async fn force_watermarks(
    running: &Running,
    ddb: &aws_sdk_dynamodb::Client,
    attempts: u32,
) -> Result<(), String> {
    let names = &running.names;
    let store = DynamoStateStore::new(
        ddb.clone(),
        &names.state_table,
        Some(&names.outputs_table),
        &names.dead_letter_table,
    )
    .with_timers_table(Some(&names.timers_table));
    for operator in TIMER_DRIVEN.iter().filter(|o| running.runs(o)) {
        let mut last = None;
        for _ in 0..attempts.max(1) {
            match force_watermark(&store, operator, EventTime::MAX).await {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        if let Some(e) = last {
            return Err(format!("forcing the watermark of {operator}: {e}"));
        }
    }
    Ok(())
}

/// Keeps the timer dispatcher running — back-to-back invocations, each stamped one
/// schedule period ago so it lasts the dispatcher's minimum run (10 s) rather than a
/// whole minute, a killed one simply followed by the next — until the returned task is
/// aborted. `None` when the dispatcher does not run.
pub fn keep_dispatching(running: &Running) -> Option<tokio::task::JoinHandle<()>> {
    let function = running.functions.get(binaries::TIMER_DISPATCHER)?.clone();
    let spec = running
        .stack
        .template
        .schedules
        .iter()
        .find(|s| s.function == function)?
        .clone();
    let emulator = Arc::clone(&running.emulator);
    Some(tokio::spawn(async move {
        loop {
            let at = OffsetDateTime::from(emulator.clock.now()) - DISPATCH_STAMP_AGE;
            let event = payload(&emulator, &spec, at);
            let outcome = emulator
                .lambda
                .invoke(&function, event.into(), Admission::Wait)
                .await;
            if outcome.is_err() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }))
}

/// How far in the past [`keep_dispatching`] stamps its events: just under the
/// dispatcher's one-minute schedule period.
const DISPATCH_STAMP_AGE: time::Duration = time::Duration::seconds(59);

async fn invoke_until_success(
    running: &Running,
    function: &str,
    spec: &shardwise_emulator::template::ScheduleSpec,
    at: OffsetDateTime,
    attempts: u32,
) -> Result<(), String> {
    let event = payload(&running.emulator, spec, at);
    let mut last = String::new();
    for _ in 0..attempts.max(1) {
        match running
            .emulator
            .lambda
            .invoke(function, event.clone().into(), Admission::Wait)
            .await
        {
            Ok(outcome) if !outcome.is_error() => return Ok(()),
            Ok(outcome) => last = format!("{function} failed: {outcome:?}"),
            Err(e) => return Err(format!("{function} could not be invoked: {e}")),
        }
    }
    Err(last)
}

/// Delivers the reconcile schedule's firing at `at` (on the day after the generated day):
/// by moving the emulated clock there when it lies ahead, else (the clock never goes
/// back) by invoking the reconciler asynchronously with the event that firing carries.
///
/// With `attempts` > 1 (fault injection kills processes), a failed direct invocation is
/// repeated at once instead of waiting for Lambda's asynchronous retries (1 and 2
/// minutes apart on the emulated clock).
pub async fn fire_reconcile(
    running: &Running,
    at: OffsetDateTime,
    attempts: u32,
    progress: &mut Progress,
) -> Result<(), String> {
    let emulator = &running.emulator;
    if emulator.clock.rate() == 0.0 {
        emulator.clock.set_rate(1.0);
    }
    if OffsetDateTime::from(emulator.clock.now()) < at {
        emulator.clock.advance_to(at.into());
        progress.finish(&format!(
            "emulated clock moved to {at}: the nightly schedule fires"
        ));
        return Ok(());
    }
    let function = running
        .functions
        .get(binaries::RECONCILER)
        .ok_or("the reconciler is not running")?;
    let spec = running
        .stack
        .template
        .schedules
        .iter()
        .find(|s| &s.function == function)
        .ok_or("the template has no schedule for the reconciler")?;
    progress.finish(&format!(
        "delivering the nightly schedule's {at} event to the reconciler (that time has passed)"
    ));
    if attempts > 1 {
        return invoke_until_success(running, function, spec, at, attempts).await;
    }
    let event = payload(emulator, spec, at);
    match invoke_async(&emulator.lambda, &emulator.clock, function, event.into()).await {
        Ok(outcome) if !outcome.is_error() => Ok(()),
        Ok(outcome) => Err(format!("the reconciler failed: {outcome:?}")),
        Err(e) => Err(format!("the reconciler could not be invoked: {e}")),
    }
}
