//! Keyed window state: per-window accumulators inside any operator's state, driven by
//! event time, the watermark and event-time timers.
//!
//! [`WindowState`] is plain serde data (a sorted list of `[start, end)` slots with their
//! accumulator and whether the final result was emitted), stored in the operator's
//! [`KeyedState`](crate::KeyedState) like any other field. [`Windows`] is the stateless
//! configuration (assigner, aggregate, allowed lateness) that drives it from callbacks:
//!
//! - [`Windows::add`] in `on_event`: an event whose every window satisfies
//!   `end + allowed_lateness ≤ watermark` is LATE and goes to the late-events side output
//!   with `ctx.emit_late` (never dropped, never counted). Otherwise it is accumulated into
//!   its live windows; a new window registers an event-time timer at its end (results)
//!   and one at `end + allowed_lateness` (purge). An allowed-late event for a window whose
//!   result was already emitted returns the UPDATED final result at once; a window that
//!   the watermark already passed but never fired (first event allowed-late) fires at once.
//! - [`Windows::fire`] in `on_timer`: emits the final result of every window whose end the
//!   watermark reached, and purges windows past their allowed lateness.
//!
//! Results are returned to the caller, which emits them with `ctx.emit_keyed` under the
//! keys it chooses (so a later update overwrites the earlier item) or however it likes.
//!
//! Session windows merge: an event's `[t, t + gap)` absorbs every session it overlaps and
//! their accumulators are merged. A merged session is a new window (new bounds), so its
//! result is a new one; the absorbed sessions' timers are left to fire harmlessly (firing
//! is idempotent: it only looks at which windows the watermark passed). Timers are never
//! deleted for the same reason: two `Windows` over different fields of one key's state
//! would otherwise delete each other's timers.
//!
//! The timer time is the window end, and the watermark means "event times at or below it
//! are complete", so a window fires once `watermark ≥ end` — and with zero allowed
//! lateness every event for it is late from then on, so a final result is never followed
//! by a silent change.

use serde::{Deserialize, Serialize};

use super::aggregate::Aggregate;
use super::assigner::{Assigner, Window};
use crate::error::Error;
use crate::ids::EventTime;
use crate::operator::{Context, TimeDomain, Timer};

/// The reason text of late events routed by [`Windows::add`].
pub const LATE_REASON_PREFIX: &str = "window closed";

/// One window's accumulator (short field names: this is stored for every key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Slot<Acc> {
    #[serde(rename = "s")]
    start: i64,
    #[serde(rename = "e")]
    end: i64,
    #[serde(rename = "a")]
    acc: Acc,
    /// The final result was emitted (the watermark passed `end`).
    #[serde(rename = "f", default, skip_serializing_if = "std::ops::Not::not")]
    fired: bool,
}

impl<Acc> Slot<Acc> {
    fn window(&self) -> Window {
        Window::new(self.start, self.end)
    }
}

/// The windows of one key, sorted by (start, end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "Acc: Serialize",
    deserialize = "Acc: serde::de::DeserializeOwned"
))]
pub struct WindowState<Acc> {
    #[serde(default = "Vec::new", rename = "w")]
    slots: Vec<Slot<Acc>>,
}

impl<Acc> Default for WindowState<Acc> {
    fn default() -> Self {
        Self { slots: Vec::new() }
    }
}

impl<Acc> WindowState<Acc> {
    /// The windows currently held (not yet purged), in order.
    pub fn windows(&self) -> impl Iterator<Item = Window> + '_ {
        self.slots.iter().map(Slot::window)
    }

    /// The accumulator of `window`, if held.
    pub fn accumulator(&self, window: Window) -> Option<&Acc> {
        self.slots
            .iter()
            .find(|s| s.window() == window)
            .map(|s| &s.acc)
    }

    /// Number of windows held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when no window is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// A window's result.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult<R> {
    /// The window.
    pub window: Window,
    /// The aggregate's result.
    pub result: R,
    /// The watermark passed the window's end (`final` in the daily-totals contract);
    /// allowed-late events may still replace a final result with an updated one.
    pub is_final: bool,
}

/// What [`Windows::add`] did with an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Added<R> {
    /// Every window of the event was past its allowed lateness: the event went to the
    /// late-events side output and changed nothing.
    Late,
    /// Accumulated; these results must be emitted now (updates of already-final windows,
    /// windows that fire at once, and early results when enabled).
    Accepted(Vec<WindowResult<R>>),
}

/// Window configuration: how to assign, what to aggregate, how late is too late.
#[derive(Debug, Clone)]
pub struct Windows<A> {
    assigner: Assigner,
    aggregate: A,
    allowed_lateness_ms: i64,
    early_results: bool,
}

impl<A: Aggregate> Windows<A> {
    /// Windows with no allowed lateness and no early results.
    pub fn new(assigner: Assigner, aggregate: A) -> Self {
        Self {
            assigner,
            aggregate,
            allowed_lateness_ms: 0,
            early_results: false,
        }
    }

    /// Accepts events up to `ms` after their window's end (negative counts as 0).
    #[must_use]
    pub fn with_allowed_lateness(mut self, ms: i64) -> Self {
        self.allowed_lateness_ms = ms.max(0);
        self
    }

    /// Also returns a non-final result from every `add` (at most one output per window
    /// per event: mind output volume).
    #[must_use]
    pub fn with_early_results(mut self, early: bool) -> Self {
        self.early_results = early;
        self
    }

    /// The assigner.
    pub fn assigner(&self) -> Assigner {
        self.assigner
    }

    /// The aggregate.
    pub fn aggregate(&self) -> &A {
        &self.aggregate
    }

    /// Allowed lateness in ms.
    pub fn allowed_lateness_ms(&self) -> i64 {
        self.allowed_lateness_ms
    }

    fn expired(&self, window: Window, watermark: EventTime) -> bool {
        window.end.saturating_add(self.allowed_lateness_ms) <= watermark.0
    }

    /// Whether an event at `time` would be late at `watermark` (every window it belongs to
    /// is past its allowed lateness). For sessions this looks at the event's own
    /// `[t, t + gap)` only: merging with a live session can still rescue it in `add`.
    pub fn is_late(&self, time: EventTime, watermark: EventTime) -> bool {
        self.assigner
            .assign(time)
            .into_iter()
            .all(|w| self.expired(w, watermark))
    }

    /// Adds `input` at event time `time` to the windows held in `lens(state)`, or routes
    /// `event` to the late side output under `partition` when all its windows are past
    /// their allowed lateness. Registers the windows' timers on `ctx`.
    pub fn add<S, O, E: Serialize>(
        &self,
        ctx: &mut Context<'_, S, O>,
        lens: impl FnOnce(&mut S) -> &mut WindowState<A::Acc>,
        time: EventTime,
        input: &A::Input,
        partition: &str,
        event: &E,
    ) -> Result<Added<A::Output>, Error> {
        let watermark = ctx.watermark();
        let state = lens(ctx.state());
        let (results, timers) = if self.assigner.is_merging() {
            self.add_merging(state, time, input, watermark)
        } else {
            self.add_aligned(state, time, input, watermark)
        };
        let Some(results) = results else {
            let reason = format!(
                "{LATE_REASON_PREFIX}: event time {} is past its window end + allowed lateness {} ms (watermark {})",
                time.0, self.allowed_lateness_ms, watermark.0
            );
            ctx.emit_late(partition, event, &reason)?;
            return Ok(Added::Late);
        };
        for t in timers {
            ctx.register_event_timer(t);
        }
        Ok(Added::Accepted(results))
    }

    fn register(&self, window: Window, watermark: EventTime, timers: &mut Vec<EventTime>) {
        if window.end > watermark.0 {
            timers.push(window.end_time());
        }
        if self.allowed_lateness_ms > 0 {
            timers.push(EventTime(
                window.end.saturating_add(self.allowed_lateness_ms),
            ));
        }
    }

    /// The result to emit for a slot just changed, if any; marks it fired when the
    /// watermark already passed its end.
    fn changed(
        &self,
        slot: &mut Slot<A::Acc>,
        watermark: EventTime,
    ) -> Option<WindowResult<A::Output>> {
        if slot.end <= watermark.0 {
            slot.fired = true;
        }
        (slot.fired || self.early_results).then(|| WindowResult {
            window: slot.window(),
            result: self.aggregate.result(&slot.acc),
            is_final: slot.fired,
        })
    }

    #[allow(clippy::type_complexity)]
    fn add_aligned(
        &self,
        state: &mut WindowState<A::Acc>,
        time: EventTime,
        input: &A::Input,
        watermark: EventTime,
    ) -> (Option<Vec<WindowResult<A::Output>>>, Vec<EventTime>) {
        let live: Vec<Window> = self
            .assigner
            .assign(time)
            .into_iter()
            .filter(|w| !self.expired(*w, watermark))
            .collect();
        if live.is_empty() {
            return (None, Vec::new());
        }
        let (mut results, mut timers) = (Vec::new(), Vec::new());
        for window in live {
            let at = match state.slots.binary_search_by_key(&window, |s| s.window()) {
                Ok(at) => at,
                Err(at) => {
                    state.slots.insert(
                        at,
                        Slot {
                            start: window.start,
                            end: window.end,
                            acc: A::Acc::default(),
                            fired: false,
                        },
                    );
                    self.register(window, watermark, &mut timers);
                    at
                }
            };
            if let Some(slot) = state.slots.get_mut(at) {
                self.aggregate.add(&mut slot.acc, input);
                results.extend(self.changed(slot, watermark));
            }
        }
        (Some(results), timers)
    }

    #[allow(clippy::type_complexity)]
    fn add_merging(
        &self,
        state: &mut WindowState<A::Acc>,
        time: EventTime,
        input: &A::Input,
        watermark: EventTime,
    ) -> (Option<Vec<WindowResult<A::Output>>>, Vec<EventTime>) {
        let Some(proto) = self.assigner.assign(time).into_iter().next() else {
            return (Some(Vec::new()), Vec::new());
        };
        let merged = state
            .slots
            .iter()
            .map(Slot::window)
            .filter(|w| w.intersects(proto))
            .fold(proto, Window::cover);
        if self.expired(merged, watermark) {
            return (None, Vec::new());
        }
        let mut timers = Vec::new();
        // Absorb every overlapping session into one slot (in start order: deterministic).
        let (absorbed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut state.slots)
            .into_iter()
            .partition(|s| s.window().intersects(proto));
        state.slots = kept;
        let unchanged = absorbed.len() == 1 && absorbed.iter().all(|s| s.window() == merged);
        let mut slot = Slot {
            start: merged.start,
            end: merged.end,
            acc: A::Acc::default(),
            fired: unchanged && absorbed.iter().any(|s| s.fired),
        };
        for old in absorbed {
            self.aggregate.merge(&mut slot.acc, old.acc);
        }
        self.aggregate.add(&mut slot.acc, input);
        if !unchanged {
            self.register(merged, watermark, &mut timers);
        }
        let result = self.changed(&mut slot, watermark);
        let at = state.slots.partition_point(|s| s.window() < merged);
        state.slots.insert(at, slot);
        (Some(result.into_iter().collect()), timers)
    }

    /// Handles a fired timer: returns the final results of the windows whose end the
    /// watermark reached (each once), and purges the windows past their allowed lateness.
    /// Processing-time timers are ignored.
    pub fn fire<S, O>(
        &self,
        ctx: &mut Context<'_, S, O>,
        lens: impl FnOnce(&mut S) -> &mut WindowState<A::Acc>,
        timer: Timer,
    ) -> Vec<WindowResult<A::Output>> {
        if timer.domain != TimeDomain::Event {
            return Vec::new();
        }
        // The dispatcher fires a timer once the watermark reached it.
        let watermark = timer.time.max(ctx.watermark());
        let state = lens(ctx.state());
        let mut results = Vec::new();
        for slot in state.slots.iter_mut().filter(|s| !s.fired) {
            if slot.end <= watermark.0 {
                slot.fired = true;
                results.push(WindowResult {
                    window: slot.window(),
                    result: self.aggregate.result(&slot.acc),
                    is_final: true,
                });
            }
        }
        state.slots.retain(|s| !self.expired(s.window(), watermark));
        results
    }
}
