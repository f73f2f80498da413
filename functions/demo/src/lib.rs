//! # shardwise-demo — the monitoring system end to end, in one command
//!
//! Starts the emulator in this process, brings `infra/template.yaml` up with the
//! application's functions (built with cargo; the ones not written yet are reported
//! missing and the rest still run), streams a generated day of transactions with the
//! load generator's sender while showing progress, waits until every function has
//! drained the stream, moves the emulated clock to the nightly reconcile time so the
//! reconciler runs for the generated day, and summarises: alerts scored against the
//! generator's ground truth, daily totals, the reconciliation verdict, dead letters by
//! reason, sessions, and where the downloaded `report.html` is.
//!
//! Application knowledge lives here (resource names from the template's environment
//! contract, table layouts, report locations); the emulator stays generic.
//!
//! ## Layout
//! - [`stack`] — template, function builds ([`build`]), the in-process emulator, the
//!   clock plan (read its docs for how the day and the clocks line up).
//! - [`stream`] — putting the day, live progress, waiting for the drain.
//! - [`phases`] — after the drain: outputs settling, the nightly run's report.
//! - [`results`] — reading alerts, totals, dead letters, sessions and reports.
//! - [`state`] — which state backend each stream function used (shard-log commits).
//! - [`summary`] — the [`Summary`], its pass/fail checks and its text.
//! - [`chaos`] — optional fault injection ([`Faults`], off by default) and the emulator's
//!   counters proving it happened.
//! - [`details`] — the raw results behind the summary, for oracle tests
//!   ([`run_detailed`]).
//!
//! ## Why these dependencies
//! `shardwise-emulator` (in-process AWS), `monitoring` (generator, ground truth, scoring,
//! validator for dead-letter reasons), `load-generator` (the PutRecords sender), the AWS
//! SDK clients (results are read like any client would), `tokio`, `serde_json`, `time`,
//! `clap` for the CLI, `mimalloc` like the emulator's own binary.

pub mod build;
pub mod chaos;
pub mod details;
pub mod phases;
pub mod results;
pub mod stack;
pub mod state;
pub mod stream;
pub mod summary;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use monitoring::generator::{Generated, GeneratorConfig, generate};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

pub use build::Profile;
pub use chaos::{FaultCounts, Faults};
pub use details::Details;
pub use summary::Summary;

use stack::{ClockPlan, Running, StackOptions, binaries};
use stream::Progress;

/// Why the demo could not run at all (as opposed to running and failing its checks,
/// which [`Summary::failures`] reports).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Template, day, clock or emulator set-up.
    #[error("set-up: {0}")]
    Setup(String),
    /// The generator refused the configuration.
    #[error("generator: {0}")]
    Generator(String),
    /// Putting the day on the stream failed.
    #[error("streaming: {0}")]
    Stream(String),
    /// Reading results failed.
    #[error("reading results: {0}")]
    Read(String),
}

/// Everything the demo can be told.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The SAM template.
    pub template: PathBuf,
    /// UTC day to generate (`YYYY-MM-DD`); default yesterday.
    pub day: Option<String>,
    /// Distinct valid transactions.
    pub transactions: u64,
    /// Generator seed.
    pub seed: u64,
    /// Cargo profile of the functions.
    pub profile: Profile,
    /// Fast ESM polling (20 ms) instead of AWS-faithful (~1 s).
    pub fast_polling: bool,
    /// Where summary, ground truth, reports and function logs go.
    pub out_dir: PathBuf,
    /// Longest wait for the functions to drain the stream.
    pub drain_timeout: Duration,
    /// Longest wait, after the drain, for outputs to stop changing and the day's
    /// windows to become final.
    pub settle_timeout: Duration,
    /// Longest wait for the reconciler's report.
    pub reconcile_timeout: Duration,
    /// Environment variables set on every function on top of the template's (e.g.
    /// `WATERMARK_IDLE_TIMEOUT_MS` for a tiny day whose windows should close quickly).
    pub function_env: BTreeMap<String, String>,
    /// Faults the emulator injects while the demo runs (none by default).
    pub faults: Faults,
    /// The rest of the generator's configuration (rates of duplicates, late events and
    /// malformed records, …); `seed`, `day` and `transactions` come from the fields
    /// above. A test comparing with an oracle that ignores watermarks turns late events
    /// off: whether one is dropped depends on how far the other shards had progressed.
    pub generator: GeneratorConfig,
    /// Close the day's windows by forcing the timer-driven operators' watermarks to the
    /// end of time after the drain and invoking the dispatcher directly, instead of
    /// waiting for idle advancement and the dispatcher's schedule (default true: the
    /// demo's day is a bounded input, fully consumed once drained).
    pub force_watermarks: bool,
    /// Caps the template's Kinesis `BatchSize` (smaller batches: more invocations, so
    /// more chances for injected faults to land); `None` keeps the template's.
    pub max_batch_size: Option<u32>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            template: PathBuf::from("infra/template.yaml"),
            day: None,
            transactions: 20_000,
            seed: 1,
            profile: Profile::of_this_build(),
            fast_polling: true,
            out_dir: PathBuf::from("target/demo"),
            drain_timeout: Duration::from_secs(900),
            settle_timeout: Duration::from_secs(180),
            reconcile_timeout: Duration::from_secs(300),
            function_env: BTreeMap::new(),
            faults: Faults::default(),
            generator: GeneratorConfig::default(),
            force_watermarks: true,
            max_batch_size: None,
        }
    }
}

/// The UTC day before `now`.
pub fn yesterday(now: OffsetDateTime) -> Date {
    now.date().previous_day().unwrap_or(now.date())
}

/// The generator configuration the demo streams for `day` (an oracle regenerates the
/// same day with it).
pub fn generator_config(options: &DemoOptions, day: &str) -> GeneratorConfig {
    GeneratorConfig {
        seed: options.seed,
        day: day.to_owned(),
        transactions: options.transactions,
        ..options.generator.clone()
    }
}

/// Runs the demo and returns its summary (also written to `<out_dir>/summary.json`).
pub async fn run(options: &DemoOptions) -> Result<Summary, DemoError> {
    run_inner(options, false).await.map(|(summary, _)| summary)
}

/// Runs the demo and also returns the raw results behind its summary (read before the
/// stack stops), for tests that compare them with an oracle.
pub async fn run_detailed(options: &DemoOptions) -> Result<(Summary, Details), DemoError> {
    let (summary, details) = run_inner(options, true).await?;
    let details = details.ok_or_else(|| DemoError::Read("no details were read".into()))?;
    Ok((summary, details))
}

async fn run_inner(
    options: &DemoOptions,
    want_details: bool,
) -> Result<(Summary, Option<Details>), DemoError> {
    let template = stack::load_template(&options.template)?;
    let now = OffsetDateTime::now_utc();
    let day = match &options.day {
        Some(d) => Date::parse(d, format_description!("[year]-[month]-[day]"))
            .map_err(|_| DemoError::Setup(format!("--day `{d}` is not YYYY-MM-DD")))?,
        None => yesterday(now),
    };
    let day_text = day.to_string();
    let config = generator_config(options, &day_text);
    let generated = generate(&config).map_err(|e| DemoError::Generator(e.to_string()))?;
    let plan = stack::plan_clock(day, stack::reconcile_expression(&template).as_deref(), now)?;
    std::fs::create_dir_all(&options.out_dir)
        .map_err(|e| DemoError::Setup(format!("{}: {e}", options.out_dir.display())))?;
    write_ground_truth(&generated, &options.out_dir)?;
    let stack_options = StackOptions {
        template: options.template.clone(),
        profile: options.profile,
        fast_polling: options.fast_polling,
        logs_dir: options.out_dir.join("logs"),
        function_env: options.function_env.clone(),
        faults: options.faults.clone(),
        max_batch_size: options.max_batch_size,
    };
    let started = Instant::now();
    let running = stack::start(template, &stack_options, &plan).await?;
    let build_and_up = started.elapsed().as_secs_f64();
    for w in &running.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "emulator at {} (clock {}), functions: {}",
        running.endpoint,
        plan.start,
        running
            .functions
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    let result = drive(
        &running,
        &generated,
        &day_text,
        &plan,
        options,
        want_details,
    )
    .await;
    running.stop().await;
    let (mut summary, details) = result?;
    summary.timings.insert("build_and_up".into(), build_and_up);
    summary
        .timings
        .insert("total".into(), started.elapsed().as_secs_f64());
    summary.check();
    let json = serde_json::to_vec_pretty(&summary).unwrap_or_default();
    std::fs::write(options.out_dir.join("summary.json"), json)
        .map_err(|e| DemoError::Read(format!("writing summary.json: {e}")))?;
    Ok((summary, details))
}

fn write_ground_truth(generated: &Generated, out: &std::path::Path) -> Result<(), DemoError> {
    let path = out.join("ground-truth.jsonl");
    let mut bytes = Vec::new();
    generated
        .ground_truth()
        .write_jsonl(&mut bytes)
        .and_then(|()| std::fs::write(&path, bytes))
        .map_err(|e| DemoError::Setup(format!("{}: {e}", path.display())))
}

async fn sdk_config(endpoint: &str, faults: &Faults) -> SdkConfig {
    let creds = aws_sdk_kinesis::config::Credentials::new("test", "test", None, None, "demo");
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            aws_config::retry::RetryConfig::standard().with_max_attempts(faults.sdk_max_attempts()),
        )
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

async fn drive(
    running: &Running,
    generated: &Generated,
    day: &str,
    plan: &ClockPlan,
    options: &DemoOptions,
    want_details: bool,
) -> Result<(Summary, Option<Details>), DemoError> {
    let sdk = sdk_config(&running.endpoint, &options.faults).await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let truth = generated.ground_truth();
    let names = &running.names;
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let mut progress = Progress::new();
    let started = Instant::now();
    let (load, _) = stream::stream_day(
        running,
        kinesis,
        &ddb,
        generated,
        plan.reconcile_at.filter(|at| *at > plan.start),
        &mut progress,
    )
    .await?;
    let put = load.records;
    let behind = stream::wait_drained(
        running,
        &ddb,
        load.records,
        plan.reconcile_at.filter(|at| *at > plan.start),
        options.drain_timeout,
        &mut progress,
    )
    .await;
    let pipeline_seconds = started.elapsed().as_secs_f64();
    let mut timings = BTreeMap::new();
    timings.insert("stream_and_drain".to_owned(), pipeline_seconds);
    let phase = Instant::now();
    let mut settle_rule = phases::SettleRule::default();
    let dispatching = if options.force_watermarks {
        match phases::force_watermarks(running, &ddb, 10).await {
            Ok(()) => {
                // Every event-time timer is due now: settled means none is pending
                // any more (and the counts have stopped moving).
                settle_rule = phases::SettleRule {
                    stable_polls: 3,
                    until_event_timers_fired: true,
                };
                phases::keep_dispatching(running)
            }
            Err(e) => {
                errors.push(e);
                None
            }
        }
    } else {
        None
    };
    phases::settle(
        running,
        &ddb,
        &s3,
        day,
        options.settle_timeout,
        settle_rule,
        &mut notes,
        &mut progress,
    )
    .await;
    if let Some(task) = dispatching {
        task.abort();
    }

    timings.insert("settle".to_owned(), phase.elapsed().as_secs_f64());
    let phase = Instant::now();
    let reconciliation = if let (true, Some(at)) =
        (running.runs(binaries::RECONCILER), plan.reconcile_at)
    {
        let attempts = options.faults.invoke_attempts();
        if let Err(e) = phases::fire_reconcile(running, at, attempts, &mut progress).await {
            errors.push(e);
        }
        match phases::wait_for_reports(running, &s3, day, options.reconcile_timeout, &mut progress)
            .await
        {
            Ok(()) => {
                match results::download_reports(&s3, &names.archive_bucket, day, &options.out_dir)
                    .await
                {
                    Ok(r) => Some(r),
                    Err(e) => {
                        errors.push(e.to_string());
                        None
                    }
                }
            }
            Err(e) => {
                errors.push(e);
                None
            }
        }
    } else {
        None
    };

    timings.insert("reconcile".to_owned(), phase.elapsed().as_secs_f64());
    let alerts = if running.runs(binaries::FRAUD_DETECTOR) {
        Some(results::alerts(&ddb, &names.alerts_table, day, truth).await?)
    } else {
        None
    };
    let totals = if running.runs(binaries::DAILY_TOTALS) {
        let rows = results::total_rows(&ddb, &names.outputs_table, day).await?;
        Some(results::totals_summary(&rows, truth))
    } else {
        None
    };
    let now_ms = OffsetDateTime::now_utc()
        .unix_timestamp()
        .saturating_mul(1000);
    let dead_letters = results::dead_letters(&ddb, &names.dead_letter_table, truth, now_ms).await?;
    let sessions = if running.runs(binaries::SESSION_TRACKER) {
        Some(results::sessions(&ddb, &names.outputs_table, day).await?)
    } else {
        None
    };
    let state_backends = state::state_backends(running, &ddb, &s3).await;
    if !running.runs(binaries::TIMER_DISPATCHER) {
        notes.push(
            "timer-dispatcher is not running: idle watermarks and timers do not advance".into(),
        );
    }
    let counts = &truth.counts;
    let mut summary = Summary {
        day: day.to_owned(),
        seed: truth.config.seed,
        transactions: counts.transactions,
        records: counts.records,
        fraud_cases: counts.fraud_cases,
        functions_running: running.functions.keys().cloned().collect(),
        functions_missing: running.missing.clone(),
        load,
        pipeline_seconds,
        timings,
        not_drained: behind.iter().map(|b| (b.function.clone(), b.lag)).collect(),
        function_errors: stream::consumption(running, &names.transactions_stream)
            .into_iter()
            .map(|c| (c.function, c.function_errors))
            .collect(),
        alerts,
        totals,
        reconciliation,
        dead_letters,
        sessions,
        state_backends,
        faults: (!options.faults.is_off()).then(|| FaultCounts::read(running)),
        out_dir: options.out_dir.clone(),
        notes,
        errors,
        failures: Vec::new(),
    };
    summary.check();
    let details = if want_details {
        Some(Details::read(running, &ddb, day, put).await?)
    } else {
        None
    };
    Ok((summary, details))
}
