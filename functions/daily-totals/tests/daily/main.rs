//! daily-totals tests: a generated day through an in-memory time driver (watermarks and
//! event-time timers as the dispatcher will drive them), and batches through the real
//! framework path (`Processor` over `MemoryStateStore`).

mod driver;
mod framework;
mod generated_day;
