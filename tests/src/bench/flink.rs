//! The Shardwise-vs-Flink benchmark (issue 9): a pure Rust reference of rules R1 and R2,
//! readers for Flink's result files, the comparison, the AWS cost model and the table.
//!
//! Flink runs outside Rust (`scripts/bench-flink.sh` drives `bench/flink/run_rules.py`,
//! Flink SQL in a local MiniCluster) and leaves result files and a metrics JSON; the
//! `flink-bench` binary reads them, recomputes both rules here from the same JSON Lines
//! input and demands equality. The reference is the judge because it is small enough to
//! read: if Flink and the reference agree, the harness and Flink's window semantics are
//! both what we think they are; the Shardwise side plugs into the same comparison later.
//!
//! ## Layout
//! - `input` — the JSON Lines transactions, reduced to the fields the rules read.
//! - `reference` — R1 (HOP 10 min / 1 min, COUNT ≥ 3 AND SUM > 200000) and R2 (daily
//!   revenue and count per merchant and currency) with Flink's watermark and lateness model.
//! - `results` — Flink's JSON result files back into the reference's row types.
//! - `compare` — multiset differences between an engine's rows and the reference.
//! - `late` — the records Flink dropped as late (from a probe job) against the model.
//! - `cost` — AWS list prices and the cost per million events of a Shardwise run.
//! - `table` — the printed comparison table.
//! - `emulator_stack` — phase 2's shared run: emulator, template up, put, drain, usage.
//! - `shardwise_run` — phase 2: R1 through the real fraud-detector on the emulator.
//! - `shardwise_r2` — phase 2: R2 through the real daily-totals on the emulator.

pub mod compare;
pub mod cost;
pub mod emulator_stack;
pub mod input;
pub mod late;
pub mod reference;
pub mod results;
pub mod rule_run;
pub mod shardwise_r2;
pub mod shardwise_run;
pub mod table;

#[cfg(test)]
mod smoke;
