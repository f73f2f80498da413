//! The `r1-hop` mode (`FRAUD_RULES=r1-hop`): the benchmark's rule R1 with Flink's HOP
//! window semantics, on the framework's event-time windows.
//!
//! The default mode's velocity rule looks at a *trailing* window per transaction; Flink's
//! `HOP(event_time, 1 min, 10 min)` instead evaluates every epoch-aligned 10-minute window
//! sliding by one minute once, when the watermark passes its end. To compare answers with
//! Flink (issue 9) this mode runs exactly that: per account (the state key and partition
//! key) and currency (amounts in different currencies never add up), a
//! `shardwise::window` sliding window with a `(count, sum)` accumulator; when a window
//! fires with `count ≥ 3` and `sum > 2,000.00`, one [`VelocityAlert`] row is emitted
//! under a deterministic key (pk `r1#<window end ms>`, sk `<account>#<currency>`), so a
//! re-fired timer overwrites instead of adding, and the benchmark reads every row with
//! one paginated scan of the alerts table.
//!
//! ## One timer per account
//! `Windows::add` registers a timer at every new window's end: ten per event here, each a
//! timer item written and later fired (a state read and a transaction) — the benchmark's
//! dominant cost. Since `Windows::fire` fires every window the watermark passed, one
//! timer per account suffices: at the earliest unfired window end. The timers `add` just
//! registered for later ends are deleted in the same callback (the framework nets a
//! registration and a deletion of one timer to nothing), and a firing re-registers the
//! next earliest end.
//!
//! ## Lateness, as Flink's SQL watermark
//! Flink SQL's `WATERMARK FOR t AS t - INTERVAL '10' SECOND` fires a window once the
//! watermark reaches `end - 1`; the framework fires once it reaches `end`. A framework
//! out-of-orderness of [`R1_WATERMARK_OUT_OF_ORDERNESS_MS`] (10 s − 1 ms) therefore gives
//! exactly Flink's firing (and dropping) condition. A record whose every window has fired
//! goes to the late-events side output (partition: its UTC day); one with only some of
//! its windows fired counts in the others, as in Flink's slicing window operator.

use std::collections::BTreeMap;

use monitoring::model::Transaction;
use serde::{Deserialize, Serialize};
use shardwise::operator::TimeDomain;
use shardwise::window::{Added, Assigner, Count, Sum, WindowResult, WindowState, Windows};
use shardwise::{Context, Error, EventTime, KeyedState, Operator, RecordMeta, Timer};

/// Env variable selecting the rule set.
pub const ENV_FRAUD_RULES: &str = "FRAUD_RULES";
/// Its value for this mode.
pub const R1_HOP_MODE: &str = "r1-hop";
/// The operator's name in this mode (its state, timers and late events are its own).
pub const R1_OPERATOR_NAME: &str = "fraud-r1";
/// Prefix of the alert rows' pk.
pub const R1_PK_PREFIX: &str = "r1#";
/// Window size: 10 minutes.
pub const R1_SIZE_MS: i64 = 10 * 60 * 1000;
/// Window slide: 1 minute.
pub const R1_SLIDE_MS: i64 = 60 * 1000;
/// Framework out-of-orderness equivalent to Flink's 10 s SQL watermark (see module doc).
pub const R1_WATERMARK_OUT_OF_ORDERNESS_MS: i64 = 10_000 - 1;

/// The `(count, sum)` aggregate of one window.
type CountSum = (Count<i64>, Sum);
/// Its accumulator.
type CountSumAcc = (u64, i64);

/// Whether the environment selects this mode.
pub fn r1_hop_selected(lookup: impl Fn(&str) -> Option<String>) -> bool {
    lookup(ENV_FRAUD_RULES).is_some_and(|v| v.trim() == R1_HOP_MODE)
}

/// One R1 alert row: a window of one account and currency over the thresholds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VelocityAlert {
    /// Account.
    pub account_id: String,
    /// Currency of the amounts.
    pub currency: String,
    /// Window start, epoch ms (inclusive).
    pub window_start_ms: i64,
    /// Window end, epoch ms (exclusive).
    pub window_end_ms: i64,
    /// Transactions in the window.
    pub count: u64,
    /// Their sum, minor units.
    pub sum_minor: i64,
}

impl VelocityAlert {
    /// The row's pk: one partition per window end (a minute), spreading writes.
    pub fn pk(&self) -> String {
        format!("{R1_PK_PREFIX}{}", self.window_end_ms)
    }

    /// The row's sk.
    pub fn sk(&self) -> String {
        format!("{}#{}", self.account_id, self.currency)
    }
}

/// Per account: the live windows of each currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HopState {
    /// Currency code → its windows (short name: stored for every account).
    #[serde(rename = "c", default)]
    pub by_currency: BTreeMap<String, WindowState<CountSumAcc>>,
}

impl KeyedState for HopState {}

impl HopState {
    /// Every held (unfired) window end, over all currencies.
    fn ends(&self) -> std::collections::BTreeSet<i64> {
        self.by_currency
            .values()
            .flat_map(|w| w.windows().map(|w| w.end))
            .collect()
    }
}

/// R1 with Flink HOP semantics.
#[derive(Debug)]
pub struct HopVelocity {
    windows: Windows<CountSum>,
    min_count: u64,
    sum_above_minor: i64,
}

impl Default for HopVelocity {
    fn default() -> Self {
        Self::new()
    }
}

impl HopVelocity {
    /// R1 with the application's thresholds (`monitoring::rules`).
    pub fn new() -> Self {
        let assigner = Assigner::Sliding {
            size_ms: R1_SIZE_MS,
            slide_ms: R1_SLIDE_MS,
        };
        Self {
            windows: Windows::new(assigner, (Count::new(), Sum)),
            // usize → u64 is lossless on every supported target.
            min_count: monitoring::rules::VELOCITY_MIN_COUNT as u64,
            sum_above_minor: monitoring::rules::VELOCITY_SUM_ABOVE_MINOR,
        }
    }

    fn emit(
        &self,
        account: &str,
        currency: &str,
        results: Vec<WindowResult<(u64, i64)>>,
        ctx: &mut Context<'_, HopState, VelocityAlert>,
    ) {
        for r in results {
            let (count, sum_minor) = r.result;
            if r.is_final && count >= self.min_count && sum_minor > self.sum_above_minor {
                let alert = VelocityAlert {
                    account_id: account.to_owned(),
                    currency: currency.to_owned(),
                    window_start_ms: r.window.start,
                    window_end_ms: r.window.end,
                    count,
                    sum_minor,
                };
                ctx.emit_keyed(alert.pk(), alert.sk(), alert);
            }
        }
    }
}

impl Operator for HopVelocity {
    type Event = Transaction;
    type State = HopState;
    type Output = VelocityAlert;

    fn name(&self) -> &str {
        R1_OPERATOR_NAME
    }

    /// The account id, the partition key too (per-key order holds).
    fn key(&self, event: &Transaction, _record: &RecordMeta) -> Result<String, Error> {
        Ok(event.account_id.as_str().to_owned())
    }

    fn event_time(&self, event: &Transaction) -> Option<EventTime> {
        Some(EventTime(event.event_time.millis()))
    }

    fn on_event(
        &self,
        key: &str,
        event: Transaction,
        ctx: &mut Context<'_, HopState, VelocityAlert>,
    ) -> Result<(), Error> {
        let currency = event.amount.currency.code();
        let t = event.event_time.millis();
        let day = monitoring::format_event_time(t);
        let partition = day.get(..10).unwrap_or_default();
        let before = ctx.state().ends();
        let added = self.windows.add(
            ctx,
            |s| s.by_currency.entry(currency.to_owned()).or_default(),
            EventTime(t),
            &event.amount.minor,
            partition,
            &event.lazy_value(),
        )?;
        if let Added::Accepted(results) = added {
            // Windows the watermark passed before their first event fire at once.
            self.emit(key, currency, results, ctx);
        }
        // Keep only the earliest end's timer among those `add` just registered (see the
        // module doc): an earlier end already has its timer.
        let after = ctx.state().ends();
        let earliest = after.first().copied();
        for end in after.difference(&before) {
            if Some(*end) != earliest {
                ctx.delete_timer(TimeDomain::Event, EventTime(*end));
            }
        }
        Ok(())
    }

    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, HopState, VelocityAlert>,
    ) -> Result<(), Error> {
        let currencies: Vec<String> = ctx.state().by_currency.keys().cloned().collect();
        for currency in currencies {
            let results = self.windows.fire(
                ctx,
                |s| s.by_currency.entry(currency.clone()).or_default(),
                timer,
            );
            self.emit(key, &currency, results, ctx);
        }
        // Purged currencies leave no empty entry behind.
        ctx.state().by_currency.retain(|_, w| !w.is_empty());
        if let Some(next) = ctx.state().ends().first().copied() {
            ctx.register_event_timer(EventTime(next));
        }
        Ok(())
    }
}
