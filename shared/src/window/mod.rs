//! Event-time windows: assigners, aggregates and a keyed window state.
//!
//! ## Layout
//! - [`assigner`] — tumbling, sliding (hopping) and session windows over `[start, end)`.
//! - [`aggregate`] — the [`Aggregate`] trait (`add`, `merge`, `result`, serde
//!   accumulators) and the built-ins count, sum, min, max, mean.
//! - [`state`] — [`WindowState`] (the data kept in an operator's state) and [`Windows`]
//!   (the configuration that adds events, routes late ones and fires on timers).
//!
//! ## Using it in an operator
//! Put a `WindowState<A::Acc>` field in the operator's state, build a `Windows` once,
//! call `windows.add(ctx, |s| &mut s.field, time, &input, partition, &event)` in
//! `on_event` and `windows.fire(ctx, |s| &mut s.field, timer)` in `on_timer`, and emit
//! the returned results with `ctx.emit_keyed`. With ParallelizationFactor > 1 the state
//! key must be determined by the partition key (see [`Operator::key`](crate::Operator::key)).

pub mod aggregate;
pub mod assigner;
pub mod state;
#[cfg(test)]
mod tests;

pub use aggregate::{Aggregate, Count, Max, Mean, Min, Sum};
pub use assigner::{Assigner, Window};
pub use state::{Added, LATE_REASON_PREFIX, WindowResult, WindowState, Windows};
