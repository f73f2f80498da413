//! The dispatcher's type-erased view of an operator: "run `on_timer` for this key over
//! this stored state". Erasing only this synchronous step keeps the dispatcher's async
//! machinery (queries, reads, commits, retries) non-generic, so one dispatcher binary
//! serves operators with different event, state and output types.

use crate::error::Error;
use crate::fold::collect_effects;
use crate::ids::EventTime;
use crate::operator::{Context, Effects, Operator, TimeDomain, Timer, TimerChange};
use crate::state::{KeyedState, Lifetime};
use crate::store::OutputItem;

/// What a timer callback produced.
#[derive(Debug)]
pub struct Fired {
    /// The new state, encoded.
    pub body: String,
    /// Outputs (deterministic ids derived from the timer).
    pub outputs: Vec<OutputItem>,
    /// Timer changes in call order.
    pub changes: Vec<TimerChange>,
    /// When the whole new state may expire.
    pub lifetime: Lifetime,
}

/// An operator as the dispatcher sees it.
pub trait TimerCallback: Send + Sync {
    /// The operator's name (its items' prefix).
    fn name(&self) -> &str;

    /// Runs `on_timer` for `key` over its stored state `body` (`None`: default state).
    fn fire(
        &self,
        key: &str,
        timer: Timer,
        body: Option<&str>,
        now: EventTime,
        watermark: EventTime,
    ) -> Result<Fired, Error>;
}

/// The origin of a key's timer's effects: default output ids derive from it, so a
/// re-run of the same firing (after a lost commit answer) produces the same items.
pub fn timer_origin(key: &str, timer: Timer) -> String {
    let domain = match timer.domain {
        TimeDomain::Processing => "processing",
        TimeDomain::Event => "event",
    };
    format!("timer#{domain}#{}#{key}", timer.time.0)
}

/// Adapts an [`Operator`] to [`TimerCallback`].
#[derive(Debug)]
pub struct OperatorCallback<O> {
    operator: O,
    max_state_bytes: usize,
}

impl<O: Operator> OperatorCallback<O> {
    /// Wraps `operator`; states larger than `max_state_bytes` are refused.
    pub fn new(operator: O, max_state_bytes: usize) -> Self {
        Self {
            operator,
            max_state_bytes,
        }
    }
}

impl<O: Operator> TimerCallback for OperatorCallback<O> {
    fn name(&self) -> &str {
        self.operator.name()
    }

    fn fire(
        &self,
        key: &str,
        timer: Timer,
        body: Option<&str>,
        now: EventTime,
        watermark: EventTime,
    ) -> Result<Fired, Error> {
        let mut state: O::State = match body {
            Some(text) => serde_json::from_str(text).map_err(|e| Error::CorruptState {
                key: key.to_owned(),
                reason: e.to_string(),
            })?,
            None => O::State::default(),
        };
        state.expire(now);
        let mut effects = Effects::default();
        let mut ctx = Context::new(&mut state, &mut effects, None, now)
            .with_watermark(watermark)
            .with_timer(timer);
        self.operator.on_timer(key, timer, &mut ctx)?;
        let mut outputs = Vec::new();
        let changes = collect_effects(
            self.operator.name(),
            key,
            || timer_origin(key, timer),
            effects,
            &mut outputs,
        )?;
        let body = serde_json::to_string(&state).map_err(|e| Error::Service(e.to_string()))?;
        if body.len() > self.max_state_bytes {
            return Err(Error::StateTooLarge {
                key: key.to_owned(),
                bytes: body.len(),
                limit: self.max_state_bytes,
            });
        }
        Ok(Fired {
            body,
            outputs,
            changes,
            lifetime: state.lifetime(),
        })
    }
}
