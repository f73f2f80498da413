//! End-to-end tests: real function binaries run by the emulator's Lambda layer, the
//! framework's exactly-once commit against the emulator, and (later) the application.
//! One binary, so the workspace links the SDKs into as few test executables as possible.

mod app_loadgen;
mod app_template;
mod chaos;
mod demo;
mod flink_rules;
mod framework;
mod lambda;
mod timers;
