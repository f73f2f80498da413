//! The stack the demo runs: the emulator in-process, the template's functions, and the
//! emulated clock's plan for the day.
//!
//! ## Day and clock alignment (why the clock starts where it does)
//! - The generated day `D` must lie entirely before the SYSTEM clock's "now": the
//!   functions run as processes and read the system clock (the validator refuses event
//!   times more than five minutes ahead of it; idle watermark advancement uses it).
//!   The default `D` is yesterday (UTC).
//! - The emulator's clock (schedules, record arrival times, iterator ages) follows the
//!   system clock: `timer-dispatcher` bounds each run by its scheduled event's `time`
//!   measured on the system clock, so an emulated clock behind or ahead of the system
//!   clock would make it poll not at all, or until its timeout.
//! - The reconciler reconciles the UTC day before its scheduled event's `time`, so `D`'s
//!   reconciliation is the reconcile schedule's firing on `D + 1`. When that instant is
//!   still ahead (a run between midnight and the reconcile time), the emulated clock is
//!   moved to it and the schedule fires by itself. Usually it has passed already (the
//!   clock never goes backwards), so the demo delivers that firing's event — the exact
//!   payload the schedule produces for `D + 1` at the reconcile time — to the reconciler
//!   with an asynchronous invocation, as EventBridge would have at that time.
//! - Replaying a day in minutes keeps event-time semantics: watermarks follow the events
//!   (largest event time − out-of-orderness), not processing time, while every shard
//!   keeps receiving records. Once the stream is drained the shards go idle, and after
//!   the idle timeout (processing time) the dispatcher moves their watermark to system
//!   "now" (after `D`), which closes — finalises — the day's windows. A replay that
//!   paused for longer than the idle timeout would make the rest of the day late; the
//!   demo streams without pauses. The generator's late events (1–6 h late) are late in
//!   the replay exactly as they would be live: those delivered after midnight plus the
//!   allowed lateness go to the late side output and the reconciler explains them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use shardwise_emulator::esm::EsmOptions;
use shardwise_emulator::lambda::LambdaSettings;
use shardwise_emulator::schedule::Expression;
use shardwise_emulator::template::{Deployment, Template};
use shardwise_emulator::up::{Stack, UpOptions, up};
use shardwise_emulator::{Clock, Config, Emulator};
use time::{Date, OffsetDateTime, Time};

use crate::DemoError;
use crate::build::{Profile, build_functions};
use crate::chaos::Faults;

/// Binary names of the application's functions (the template's `BuildProperties.Binary`).
pub mod binaries {
    /// Fraud alerts.
    pub const FRAUD_DETECTOR: &str = "fraud-detector";
    /// Daily totals per merchant and product.
    pub const DAILY_TOTALS: &str = "daily-totals";
    /// Device sessions.
    pub const SESSION_TRACKER: &str = "session-tracker";
    /// Raw archive to S3.
    pub const ARCHIVER: &str = "archiver";
    /// Timers and idle watermarks.
    pub const TIMER_DISPATCHER: &str = "timer-dispatcher";
    /// Nightly reconciliation.
    pub const RECONCILER: &str = "reconciler";
    /// The unified view.
    pub const QUERY_API: &str = "query-api";
    /// Not run: the demo streams the day itself, with the same library.
    pub const LOAD_GENERATOR: &str = "load-generator";
}

/// Physical resource names, read from the template's environment contract.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Names {
    /// Kinesis stream the day goes to.
    pub transactions_stream: String,
    /// Alerts table (GSI `by-day`).
    pub alerts_table: String,
    /// Stream-layer outputs (daily totals, sessions).
    pub outputs_table: String,
    /// Dead letters.
    pub dead_letter_table: String,
    /// Raw archive and reports.
    pub archive_bucket: String,
    /// Keyed state and watermark documents.
    pub state_table: String,
    /// Persisted timers.
    pub timers_table: String,
    /// Late-events side output.
    pub late_events_table: String,
}

impl Names {
    fn from_template(template: &Template) -> Result<Self, DemoError> {
        let env = template
            .functions
            .first()
            .map(|f| &f.environment)
            .ok_or_else(|| DemoError::Setup("the template declares no functions".into()))?;
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .ok_or_else(|| DemoError::Setup(format!("the template's environment lacks {k}")))
        };
        Ok(Self {
            transactions_stream: get("TRANSACTIONS_STREAM")?,
            alerts_table: get("ALERTS_TABLE")?,
            outputs_table: get("OUTPUTS_TABLE")?,
            dead_letter_table: get("DEAD_LETTER_TABLE")?,
            archive_bucket: get("ARCHIVE_BUCKET")?,
            state_table: get("STATE_TABLE")?,
            timers_table: get("TIMERS_TABLE")?,
            late_events_table: get("LATE_EVENTS_TABLE")?,
        })
    }
}

/// When the emulated clock starts and when the nightly reconciliation fires.
#[derive(Debug, Clone, Copy)]
pub struct ClockPlan {
    /// Emulated "now" at start-up (the system clock's now).
    pub start: OffsetDateTime,
    /// The reconcile schedule's firing on `D + 1`, if the template has one.
    pub reconcile_at: Option<OffsetDateTime>,
}

/// Plans the clock for `day` given the reconcile expression.
pub fn plan_clock(
    day: Date,
    reconcile_expression: Option<&str>,
    system_now: OffsetDateTime,
) -> Result<ClockPlan, DemoError> {
    let next_midnight = day
        .next_day()
        .ok_or_else(|| DemoError::Setup(format!("no day after {day}")))?
        .with_time(Time::MIDNIGHT)
        .assume_utc();
    if next_midnight > system_now {
        return Err(DemoError::Setup(format!(
            "day {day} has not ended on the system clock ({system_now}); the functions read \
             the system clock and would refuse its future events: pick an earlier --day"
        )));
    }
    let Some(text) = reconcile_expression else {
        return Ok(ClockPlan {
            start: system_now,
            reconcile_at: None,
        });
    };
    let expression = Expression::parse(text).map_err(|e| DemoError::Setup(e.to_string()))?;
    let just_before = next_midnight - time::Duration::seconds(1);
    let firing = expression
        .next_after(just_before, just_before)
        .filter(|f| f.date() == next_midnight.date())
        .ok_or_else(|| {
            DemoError::Setup(format!(
                "the reconcile schedule `{text}` does not fire on {} (it must, to reconcile {day})",
                next_midnight.date()
            ))
        })?;
    Ok(ClockPlan {
        start: system_now,
        reconcile_at: Some(firing),
    })
}

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The SAM template.
    pub template: PathBuf,
    /// Cargo profile for the functions.
    pub profile: Profile,
    /// 20 ms idle polling instead of AWS's ~1 s.
    pub fast_polling: bool,
    /// Per-function logs.
    pub logs_dir: PathBuf,
    /// Extra environment for every function.
    pub function_env: BTreeMap<String, String>,
    /// Faults the emulator injects (none by default).
    pub faults: Faults,
    /// Caps every Kinesis event's `BatchSize`.
    pub max_batch_size: Option<u32>,
}

/// The emulator serving in this process, with the template up.
#[derive(Debug)]
pub struct Running {
    /// The emulator.
    pub emulator: Arc<Emulator>,
    /// What `up` started.
    pub stack: Stack,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Resource names.
    pub names: Names,
    /// Function name by binary name, for the functions that run.
    pub functions: BTreeMap<String, String>,
    /// Binary name → why it is not running.
    pub missing: BTreeMap<String, String>,
    /// Warnings from `up`.
    pub warnings: Vec<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Stops schedules, pollers, functions and the server.
    pub async fn stop(mut self) {
        self.stack.stop(&self.emulator);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
    }

    /// Whether the function with this binary name runs.
    pub fn runs(&self, binary: &str) -> bool {
        self.functions.contains_key(binary)
    }
}

/// Loads the template (reading its reconcile schedule), without starting anything.
pub fn load_template(path: &Path) -> Result<Template, DemoError> {
    Template::load(path, &BTreeMap::new(), &Deployment::default())
        .map_err(|e| DemoError::Setup(format!("{}: {e}", path.display())))
}

/// The reconcile schedule's expression, if the template has one.
pub fn reconcile_expression(template: &Template) -> Option<String> {
    let reconciler = template
        .functions
        .iter()
        .find(|f| f.binary == binaries::RECONCILER)?;
    template
        .schedules
        .iter()
        .find(|s| s.function == reconciler.name && s.enabled)
        .map(|s| s.expression.clone())
}

/// Builds the functions, starts the emulator with its clock at `plan.start`, and brings
/// the template up with the functions that built.
pub async fn start(
    mut template: Template,
    options: &StackOptions,
    plan: &ClockPlan,
) -> Result<Running, DemoError> {
    let names = Names::from_template(&template)?;
    let wanted: Vec<String> = template
        .functions
        .iter()
        .map(|f| f.binary.clone())
        .filter(|b| b != binaries::LOAD_GENERATOR)
        .collect();
    let build_dir = template
        .functions
        .first()
        .map(|f| template.base_dir.join(&f.code_uri))
        .unwrap_or_else(|| template.base_dir.clone());
    eprintln!(
        "building {} functions ({:?} profile): {}",
        wanted.len(),
        options.profile,
        wanted.join(", ")
    );
    let built = build_functions(&build_dir, &wanted, options.profile).await;
    let mut prebuilt = BTreeMap::new();
    let mut functions = BTreeMap::new();
    for f in &template.functions {
        if let Some(exe) = built.executables.get(&f.binary) {
            prebuilt.insert(f.name.clone(), exe.clone());
            functions.insert(f.binary.clone(), f.name.clone());
        }
    }
    // Functions that are not there are left out of the stack entirely: no mapping
    // waits for them and no schedule fails invoking them.
    template
        .functions
        .retain(|f| prebuilt.contains_key(&f.name));
    template
        .schedules
        .retain(|s| prebuilt.contains_key(&s.function));
    for f in &mut template.functions {
        f.environment.extend(options.function_env.clone());
        if let Some(max) = options.max_batch_size {
            for event in &mut f.kinesis {
                event.batch_size = event.batch_size.min(max.max(1));
            }
        }
    }

    let mut config = Config {
        lambda: LambdaSettings {
            logs_dir: Some(options.logs_dir.clone()),
            echo_logs: false,
            ..LambdaSettings::default()
        },
        ..Config::default()
    };
    options.faults.apply(&mut config);
    let start: SystemTime = plan.start.into();
    let emulator = Arc::new(Emulator::with_clock(config, Clock::starting_at(start)));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| DemoError::Setup(format!("cannot bind a local port: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| DemoError::Setup(e.to_string()))?;
    let endpoint = format!("http://{addr}");
    emulator.lambda.set_endpoint(&endpoint);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = Arc::clone(&emulator);
    let server = tokio::spawn(async move {
        serving
            .serve(listener, async {
                let _ = rx.await;
            })
            .await
    });
    let up_options = UpOptions {
        esm: if options.fast_polling {
            EsmOptions::fast()
        } else {
            EsmOptions::default()
        },
        prebuilt,
        allow_missing_functions: true,
    };
    let stack = up(&emulator, template, &up_options)
        .await
        .map_err(|e| DemoError::Setup(format!("up: {e}")))?;
    let warnings = stack.warnings.clone();
    Ok(Running {
        emulator,
        stack,
        endpoint,
        names,
        functions,
        missing: built.missing,
        warnings,
        shutdown: Some(tx),
        server: Some(server),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_reconciliation_of_a_day_is_the_reconcile_firing_on_the_next_day() {
        let plan = plan_clock(
            date!(2026 - 11 - 20),
            Some("cron(15 2 * * ? *)"),
            datetime!(2026-11-22 03:00 UTC),
        )
        .unwrap();
        assert_eq!(plan.reconcile_at, Some(datetime!(2026-11-21 02:15 UTC)));
        assert_eq!(plan.start, datetime!(2026-11-22 03:00 UTC));
    }

    #[test]
    fn a_day_that_has_not_ended_on_the_system_clock_is_refused() {
        let err =
            plan_clock(date!(2026 - 11 - 22), None, datetime!(2026-11-22 03:00 UTC)).unwrap_err();
        assert!(err.to_string().contains("has not ended"), "{err}");
    }

    #[test]
    fn a_schedule_that_skips_the_next_day_is_refused() {
        // 2026-11-21 is a Saturday.
        let err = plan_clock(
            date!(2026 - 11 - 20),
            Some("cron(15 2 ? * MON *)"),
            datetime!(2026-11-25 03:00 UTC),
        );
        assert!(err.is_err());
    }
}
