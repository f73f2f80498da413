//! Lambda layer end-to-end tests: the real `fixture-recorder` binary (built here with
//! cargo, same target dir) run by the emulator as OS processes behind the Runtime API.
//!
//! - [`support`] — building the fixture, registering it, reading what it recorded.
//! - [`invoke`] — Runtime API, Invoke API, timeouts, crashes, concurrency, logs, faults.
//! - [`schedule`] — rate/cron schedules fired by the controlled clock.
//! - [`esm`] — Kinesis event source mappings (need the Kinesis service).
//! - [`up`] — template-driven start.

mod esm;
mod invoke;
mod schedule;
mod support;
mod up;
