//! `shardwise-local`: command-line wiring only; the emulator lives in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use shardwise_emulator::esm::EsmOptions;
use shardwise_emulator::lambda::{FaultSettings, LambdaSettings};
use shardwise_emulator::template::{Deployment, Template, parse_overrides};
use shardwise_emulator::up::{UpOptions, up};
use shardwise_emulator::{Config, Emulator, run};

/// mimalloc: the JSON protocols allocate per member and per record, and glibc malloc was
/// about 30% of the emulator's instructions under a PutRecords/GetRecords load (callgrind).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "shardwise-local",
    version,
    about = "Local AWS emulator for Shardwise"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve Kinesis, DynamoDB and S3 on one port.
    Serve(ServeArgs),
    /// Serve, then create a SAM template's resources, build and run its functions,
    /// and start its schedules and Kinesis event source mappings.
    Up(UpArgs),
}

#[derive(Debug, Args)]
struct UpArgs {
    /// The SAM template.
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    /// Parameter overrides, `K=V` (or `ParameterKey=K,ParameterValue=V`).
    #[arg(long, num_args = 1..)]
    parameter_overrides: Vec<String>,
    /// Stack name (`AWS::StackName`).
    #[arg(long, default_value = "shardwise-local")]
    stack_name: String,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free port.
    #[arg(long, default_value_t = 4566)]
    port: u16,
    /// Poll idle shards every 20 ms instead of AWS's ~1 s (tests and demos).
    #[arg(long)]
    fast_polling: bool,
    /// Emulated seconds per real second (e.g. 60 makes an hour pass in a minute).
    #[arg(long, default_value_t = 1.0)]
    clock_rate: f64,
    /// Directory for per-function log files.
    #[arg(long, default_value = "target/shardwise-local/logs")]
    logs_dir: PathBuf,
    /// Probability that a function's process is killed during an invocation.
    #[arg(long, default_value_t = 0.0)]
    fault_kill_probability: f64,
    /// Probability that an event source mapping delivers a batch twice.
    #[arg(long, default_value_t = 0.0)]
    fault_duplicate_probability: f64,
    /// Probability that an invocation is delayed by --fault-delay-ms.
    #[arg(long, default_value_t = 0.0)]
    fault_delay_probability: f64,
    /// Delay applied to delayed invocations.
    #[arg(long, default_value_t = 500)]
    fault_delay_ms: u64,
    /// Report functions that fail to build and start the rest, instead of failing.
    #[arg(long)]
    allow_missing_functions: bool,
    /// Load and check the template, print what would run, and exit.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    knobs: Knobs,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free port (the bound address is printed first).
    #[arg(long, default_value_t = 4566)]
    port: u16,
    #[command(flatten)]
    knobs: Knobs,
}

/// Realism knobs shared by every command that starts the emulator.
#[derive(Debug, Args)]
struct Knobs {
    /// Region used in ARNs.
    #[arg(long, default_value = "us-east-1", env = "AWS_REGION")]
    region: String,
    /// Enforce Kinesis per-shard throughput limits.
    #[arg(long)]
    kinesis_enforce_limits: bool,
    /// Fraction of DynamoDB requests answered with a throttling error (0.0 – 1.0).
    #[arg(long, default_value_t = 0.0)]
    ddb_throttle_rate: f64,
    /// Milliseconds of latency added to every DynamoDB request.
    #[arg(long, default_value_t = 0)]
    ddb_latency_ms: u64,
    /// Seconds after expiry before the TTL sweeper deletes an item.
    #[arg(long, default_value_t = 0)]
    ddb_ttl_sweep_delay_secs: u64,
    /// Seed for every random decision, so runs reproduce.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

impl Knobs {
    fn config(&self) -> Config {
        Config {
            region: self.region.clone(),
            kinesis_enforce_limits: self.kinesis_enforce_limits,
            ddb_throttle_rate: self.ddb_throttle_rate.clamp(0.0, 1.0),
            ddb_latency: Duration::from_millis(self.ddb_latency_ms),
            ddb_ttl_sweep_delay: Duration::from_secs(self.ddb_ttl_sweep_delay_secs),
            seed: self.seed,
            ..Config::default()
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Up(args) => up_command(args).await,
    }
}

async fn up_command(args: UpArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config = args.knobs.config();
    config.lambda = LambdaSettings {
        logs_dir: Some(args.logs_dir.clone()),
        echo_logs: true,
        faults: FaultSettings {
            kill_probability: args.fault_kill_probability.clamp(0.0, 1.0),
            duplicate_probability: args.fault_duplicate_probability.clamp(0.0, 1.0),
            delay_probability: args.fault_delay_probability.clamp(0.0, 1.0),
            delay: Duration::from_millis(args.fault_delay_ms),
        },
    };
    let deployment = Deployment {
        region: config.region.clone(),
        account_id: config.account_id.clone(),
        stack_name: args.stack_name.clone(),
    };
    let overrides = parse_overrides(&args.parameter_overrides)?;
    let template = Template::load(&args.template, &overrides, &deployment)?;
    for note in &template.not_emulated {
        eprintln!("NOT EMULATED: {note}");
    }
    if args.dry_run {
        print!("{}", shardwise_emulator::up::plan(&template)?);
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    println!("http://{addr}");
    let emulator = Arc::new(Emulator::new(config));
    emulator.clock.set_rate(args.clock_rate);
    emulator.lambda.set_endpoint(&format!("http://{addr}"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = Arc::clone(&emulator);
    let server = tokio::spawn(async move {
        serving
            .serve(listener, async {
                let _ = rx.await;
            })
            .await
    });
    let options = UpOptions {
        esm: if args.fast_polling {
            EsmOptions::fast()
        } else {
            EsmOptions::default()
        },
        allow_missing_functions: args.allow_missing_functions,
        ..UpOptions::default()
    };
    let stack = up(&emulator, template, &options).await?;
    for w in &stack.warnings {
        eprintln!("WARNING: {w}");
    }
    for f in &stack.template.functions {
        if emulator.lambda.function(&f.name).is_some() {
            tracing::info!(function = %f.name, kinesis_mappings = f.kinesis.len(), "function ready");
        }
    }
    for (name, next) in stack.schedules.next_firings() {
        tracing::info!(schedule = %name, next = ?next, "schedule armed");
    }
    shutdown_signal().await;
    stack.stop(&emulator);
    let _ = tx.send(());
    let _ = server.await;
    tracing::info!("shut down cleanly");
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    // First stdout line: the bound address, for scripts that started us with --port 0.
    println!("http://{addr}");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    tracing::info!(%addr, "shardwise-local serving Kinesis, DynamoDB and S3");
    run(listener, args.knobs.config(), shutdown_signal()).await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
