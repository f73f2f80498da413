//! `shardwise-local`: command-line wiring only; the emulator lives in the library.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use shardwise_emulator::{Config, run};

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
    }
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
