//! Schedules: EventBridge rules and EventBridge Scheduler schedules that invoke
//! functions at the instants of the emulator's controllable [`Clock`](crate::Clock).
//!
//! - [`expression`] — `rate()`/`cron()` parsing and "next firing" with AWS's rules.
//! - [`runner`] — the background task that watches the clock and invokes functions
//!   with the payload each service sends.

pub mod expression;
pub mod runner;

pub use expression::{Expression, ExpressionError};
pub use runner::ScheduleRunner;
