//! The DynamoDB benchmark workloads run in-process (ignored by default): the emulator in
//! this test binary against moto at `SHARDWISE_BENCH_MOTO`, printing ops/s and the ratio.
//! `cargo test --workspace --test conformance dynamodb::bench -- --ignored --nocapture`.
//! (The `emulator-bench` binary runs the same workloads against a release build.)

use std::time::Duration;

use shardwise_emulator::Config;
use shardwise_tests::bench::{drive, dynamodb::workloads};
use shardwise_tests::{Target, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn dynamodb_workloads_report_ops_per_second_against_moto() {
    let ours = TestEnv::start_emulator(Config::default()).await;
    let moto = match std::env::var("SHARDWISE_BENCH_MOTO") {
        Ok(url) => Some(TestEnv::external(&url, Target::Moto).await),
        Err(_) => None,
    };
    let duration = Duration::from_secs(3);
    println!(
        "{:<44} {:>14} {:>14} {:>9}",
        "operation", "emulator ops/s", "moto ops/s", "ratio"
    );
    for w in workloads() {
        let op = (w.setup)(&ours).await.expect("setup on the emulator");
        let e = drive(op, 16, duration).await;
        assert_eq!(e.errors, 0, "{} failed on the emulator", w.name);
        let m = match &moto {
            Some(env) => {
                Some(drive((w.setup)(env).await.expect("setup on moto"), 16, duration).await)
            }
            None => None,
        };
        let (moto_cell, ratio) = match m {
            Some(m) => (
                format!("{:.0}", m.ops_per_sec),
                format!("{:.1}x", e.ops_per_sec / m.ops_per_sec.max(0.001)),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:<44} {:>14.0} {moto_cell:>14} {ratio:>9}",
            w.name, e.ops_per_sec
        );
    }
}
