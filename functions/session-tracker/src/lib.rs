//! # session-tracker — device sessions with heartbeats (seed "stateful-stream-processing")
//!
//! A session is the activity of one device on one account (state key
//! `<account>#<device>`, determined by the partition key's account, so per-key order holds
//! with any ParallelizationFactor): a maximal run of transactions whose consecutive event
//! times are less than the inactivity gap (`SESSION_TIMEOUT_SECONDS`) apart — an
//! event-time session window, so the result depends on the events only and not on when
//! they were delivered, and a from-scratch computation can check it.
//!
//! - `on_event` merges the transaction into the session(s) it is within the gap of
//!   (bridging two sessions merges them), moves the session's event-time timer to its new
//!   `end + gap`, and keeps a 30-second processing-time heartbeat timer running while any
//!   session is open.
//! - The event-time timer fires when the watermark passes `end + gap`: no on-time event
//!   can join the session any more, so its summary is emitted (pk
//!   `session-tracker#<start day>`, sk `<account>#<device>#<start ms>`).
//! - The heartbeat timer emits each open session's running figures under
//!   `session-tracker#heartbeat` (overwritten in place; a closed session's item says
//!   `closed`), then re-arms itself — the seed's timer-driven heartbeat emission, fired
//!   by the timer dispatcher without new data.
//! - A transaction at or below the watermark is late: its session may already be closed,
//!   so it goes to the late-events side output rather than silently opening a second
//!   session. Duplicate transactions (the same id re-sent) are skipped.
//!
//! ## State backend
//! The key begins with the partition key and `#`, so each key lives in one shard and the
//! template runs the tracker on the shard-log backend (`SHARDWISE_STATE_BACKEND`): a batch
//! costs one S3 object and one checkpoint write instead of a transaction per device. Its
//! timers then live with the shard's state: a busy shard fires them at the start of its
//! batches, and the `timer-dispatcher` function fires those of idle shards.

use std::collections::BTreeMap;

use monitoring::model::Transaction;
use serde::{Deserialize, Serialize};
use shardwise::{
    Context, Error, EventTime, KeyedState, MapState, Operator, RecordMeta, TimeDomain, Timer,
    ValueState,
};

/// The operator's name (state key prefix and output pk prefix).
pub const OPERATOR: &str = "session-tracker";
/// Heartbeat period of open sessions (seed: 30 seconds).
pub const HEARTBEAT_MS: i64 = 30_000;
/// How long a transaction id is remembered to drop duplicates (the generator re-sends
/// them 1–120 s later; kept in processing time, which is when re-sends show up).
pub const DEDUPE_MS: i64 = 10 * 60 * 1000;
/// Env var: the inactivity gap in seconds.
pub const ENV_SESSION_TIMEOUT_SECONDS: &str = "SESSION_TIMEOUT_SECONDS";
/// The pk of heartbeat items.
pub const HEARTBEAT_PK: &str = "session-tracker#heartbeat";

/// One session's running figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// First event time (epoch ms).
    pub start: i64,
    /// Last event time (epoch ms).
    pub end: i64,
    /// Transactions.
    pub transactions: u64,
    /// Amount per currency, minor units.
    pub amount_minor: BTreeMap<String, i64>,
    /// Heartbeats emitted so far.
    pub heartbeats: u64,
}

impl Session {
    fn of(tx: &Transaction) -> Self {
        Self {
            start: tx.event_time.0,
            end: tx.event_time.0,
            transactions: 1,
            amount_minor: BTreeMap::from([(tx.amount.currency.code().to_owned(), tx.amount.minor)]),
            heartbeats: 0,
        }
    }

    fn absorb(&mut self, other: Self) {
        self.start = self.start.min(other.start);
        self.end = self.end.max(other.end);
        self.transactions += other.transactions;
        for (currency, minor) in other.amount_minor {
            *self.amount_minor.entry(currency).or_default() += minor;
        }
        self.heartbeats = self.heartbeats.max(other.heartbeats);
    }

    /// Whether an event at `t` belongs to this session under `gap`.
    fn within_gap(&self, t: i64, gap: i64) -> bool {
        t > self.start - gap && t < self.end + gap
    }
}

/// Per `<account>#<device>` state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeviceState {
    /// Open sessions, sorted by start, pairwise further apart than the gap.
    open: ValueState<Vec<Session>>,
    /// When the heartbeat timer is due (processing time), if armed.
    heartbeat_due: ValueState<i64>,
    /// Recently seen transaction ids (processing-time expiry).
    seen: MapState<String, ()>,
}

impl KeyedState for DeviceState {
    fn expire(&mut self, now: EventTime) {
        self.seen.expire(now);
    }
}

/// What the operator emits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionOutput {
    /// A session closed: its final figures.
    Summary(SessionSummary),
    /// An open (or just closed) session's running figures.
    Heartbeat(SessionSummary),
}

/// A session's figures as written to the outputs table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// Day (UTC) of the first event.
    pub day: String,
    /// The account.
    pub account: String,
    /// The device.
    pub device: String,
    /// First event time, RFC 3339.
    pub start: String,
    /// Last event time, RFC 3339.
    pub end: String,
    /// `end - start`.
    pub duration_ms: i64,
    /// Transactions.
    pub transactions: u64,
    /// Amount per currency, minor units.
    pub amount_minor: BTreeMap<String, i64>,
    /// `open` or `closed`.
    pub status: String,
    /// Heartbeats emitted before this output.
    pub heartbeats: u64,
}

/// The session tracker.
#[derive(Debug, Clone)]
pub struct SessionTracker {
    gap_ms: i64,
}

impl SessionTracker {
    /// A tracker closing sessions after `gap_ms` of event-time inactivity.
    pub fn new(gap_ms: i64) -> Self {
        Self { gap_ms }
    }

    /// Reads `SESSION_TIMEOUT_SECONDS` through `lookup` (default 120 s).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let seconds = match lookup(ENV_SESSION_TIMEOUT_SECONDS) {
            None => 120,
            Some(text) => text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{ENV_SESSION_TIMEOUT_SECONDS} must be a positive number, not {text:?}"
                    ))
                })?,
        };
        Ok(Self::new(seconds * 1000))
    }

    fn summary(key: &str, s: &Session, status: &str) -> SessionSummary {
        let (account, device) = key.split_once('#').unwrap_or((key, ""));
        let start = monitoring::format_event_time(s.start);
        SessionSummary {
            day: start.get(..10).unwrap_or_default().to_owned(),
            account: account.to_owned(),
            device: device.to_owned(),
            end: monitoring::format_event_time(s.end),
            start,
            duration_ms: s.end - s.start,
            transactions: s.transactions,
            amount_minor: s.amount_minor.clone(),
            status: status.to_owned(),
            heartbeats: s.heartbeats,
        }
    }

    /// The sort key of a session's items.
    pub fn session_sk(key: &str, start: i64) -> String {
        format!("{key}#{start:015}")
    }

    fn arm_heartbeat(ctx: &mut Context<'_, DeviceState, SessionOutput>) {
        if ctx.state().heartbeat_due.get().is_none() {
            let due = ctx.now().0 + HEARTBEAT_MS;
            ctx.state().heartbeat_due.set(due);
            ctx.register_processing_timer(EventTime(due));
        }
    }

    fn close(&self, key: &str, due: i64, ctx: &mut Context<'_, DeviceState, SessionOutput>) {
        let gap = self.gap_ms;
        let open = ctx.state().open.get_mut_or_default();
        let (closing, staying): (Vec<Session>, Vec<Session>) =
            open.drain(..).partition(|s| s.end + gap <= due);
        *open = staying;
        if open.is_empty() {
            // The last session closed: stop its heartbeat too, so no timer outlives it.
            ctx.state().open.clear();
            if let Some(&due) = ctx.state().heartbeat_due.get() {
                ctx.delete_timer(TimeDomain::Processing, EventTime(due));
                ctx.state().heartbeat_due.clear();
            }
        }
        for s in closing {
            let sk = Self::session_sk(key, s.start);
            let summary = Self::summary(key, &s, "closed");
            ctx.emit_keyed(
                format!("{OPERATOR}#{}", summary.day),
                sk.clone(),
                SessionOutput::Summary(summary.clone()),
            );
            if s.heartbeats > 0 {
                ctx.emit_keyed(HEARTBEAT_PK, sk, SessionOutput::Heartbeat(summary));
            }
        }
    }

    fn heartbeat(&self, key: &str, ctx: &mut Context<'_, DeviceState, SessionOutput>) {
        ctx.state().heartbeat_due.clear();
        let open = ctx.state().open.get_mut_or_default();
        let mut beats = Vec::with_capacity(open.len());
        for s in open.iter_mut() {
            s.heartbeats += 1;
            beats.push((
                Self::session_sk(key, s.start),
                Self::summary(key, s, "open"),
            ));
        }
        let any_open = !beats.is_empty();
        for (sk, summary) in beats {
            ctx.emit_keyed(HEARTBEAT_PK, sk, SessionOutput::Heartbeat(summary));
        }
        if any_open {
            Self::arm_heartbeat(ctx);
        } else {
            ctx.state().open.clear();
        }
    }
}

impl Operator for SessionTracker {
    type Event = Transaction;
    type State = DeviceState;
    type Output = SessionOutput;

    fn name(&self) -> &str {
        OPERATOR
    }

    fn key(&self, tx: &Transaction, _: &RecordMeta) -> Result<String, Error> {
        Ok(format!(
            "{}#{}",
            tx.account_id.as_str(),
            tx.device_id.as_str()
        ))
    }

    fn on_event(
        &self,
        _key: &str,
        tx: Transaction,
        ctx: &mut Context<'_, DeviceState, SessionOutput>,
    ) -> Result<(), Error> {
        let id = tx.transaction_id.as_str().to_owned();
        if ctx.state().seen.get(&id).is_some() {
            return Ok(());
        }
        let expires = EventTime(ctx.now().0 + DEDUPE_MS);
        ctx.state().seen.insert_with_expiry(id, (), expires);
        let t = tx.event_time.0;
        if t <= ctx.watermark().0 {
            let day = monitoring::format_event_time(t);
            let day = day.get(..10).unwrap_or_default().to_owned();
            return ctx.emit_late(
                day,
                &tx.to_value(),
                "event time at or below the watermark: its session may have closed",
            );
        }
        let gap = self.gap_ms;
        let mut merged = Session::of(&tx);
        let open = ctx.state().open.get_mut_or_default();
        let (joining, mut rest): (Vec<Session>, Vec<Session>) =
            open.drain(..).partition(|s| s.within_gap(t, gap));
        let stale_timers: Vec<i64> = joining.iter().map(|s| s.end + gap).collect();
        for s in joining {
            merged.absorb(s);
        }
        let due = merged.end + gap;
        rest.push(merged);
        rest.sort_by_key(|s| s.start);
        *open = rest;
        for stale in stale_timers.into_iter().filter(|&d| d != due) {
            ctx.delete_timer(TimeDomain::Event, EventTime(stale));
        }
        ctx.register_event_timer(EventTime(due));
        Self::arm_heartbeat(ctx);
        Ok(())
    }

    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, DeviceState, SessionOutput>,
    ) -> Result<(), Error> {
        match timer.domain {
            TimeDomain::Event => self.close(key, timer.time.0, ctx),
            TimeDomain::Processing => self.heartbeat(key, ctx),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_comes_from_the_environment_with_a_default() {
        assert_eq!(
            SessionTracker::from_lookup(|_| None).unwrap().gap_ms,
            120_000
        );
        let t = SessionTracker::from_lookup(|_| Some("30".into())).unwrap();
        assert_eq!(t.gap_ms, 30_000);
        assert!(SessionTracker::from_lookup(|_| Some("-1".into())).is_err());
    }

    #[test]
    fn an_event_within_the_gap_of_two_sessions_bridges_them() {
        let a = Session {
            start: 0,
            end: 10,
            transactions: 1,
            amount_minor: BTreeMap::new(),
            heartbeats: 0,
        };
        assert!(a.within_gap(15, 10));
        assert!(
            !a.within_gap(20, 10),
            "exactly the gap apart is a new session"
        );
        assert!(
            a.within_gap(-5, 10),
            "an earlier out-of-order event extends the start"
        );
    }
}
