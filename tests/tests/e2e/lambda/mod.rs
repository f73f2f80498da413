//! Lambda layer end-to-end tests: the real `fixture-recorder` binary (built here with
//! cargo, same target dir) run by the emulator as OS processes behind the Runtime API.
//!
//! - [`support`] — building the fixture, registering it, reading what it recorded.
//! - [`invoke`] — Runtime API, Invoke API, timeouts, crashes, concurrency, logs, faults.
//! - [`schedule`] — rate/cron schedules fired by the controlled clock.
//! - [`esm_delivery`], [`esm_sources`] — Kinesis event source mappings.
//! - [`up`] — template-driven start.

mod esm_delivery;
mod esm_sources;
mod invoke;
mod schedule;
mod support;
mod up;
