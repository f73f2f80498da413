//! Window results against an oracle computed directly from the events, with random
//! out-of-order input, random batch splits and random watermark progress.
//!
//! The driver does what the framework's dispatcher does: events are applied with the
//! watermark of their batch, then every registered event timer at or below the new
//! watermark fires in time order; at the end the watermark goes to +∞.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::*;
use crate::ids::EventTime;
use crate::operator::{Context, Effects, TimeDomain, Timer, TimerChange};

type Agg = (Count<i64>, Sum);
type Out = (u64, i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Ev {
    id: usize,
    t: i64,
    v: i64,
}

struct Driver {
    windows: Windows<Agg>,
    state: WindowState<<Agg as Aggregate>::Acc>,
    timers: BTreeSet<i64>,
    watermark: EventTime,
    /// The last result per window and whether it was final.
    emitted: BTreeMap<Window, (Out, bool)>,
    late: Vec<usize>,
}

impl Driver {
    fn new(windows: Windows<Agg>) -> Self {
        Self {
            windows,
            state: WindowState::default(),
            timers: BTreeSet::new(),
            watermark: EventTime::MIN,
            emitted: BTreeMap::new(),
            late: Vec::new(),
        }
    }

    fn absorb(&mut self, effects: Effects<()>, results: Vec<WindowResult<Out>>) {
        for change in effects.timers {
            match change {
                TimerChange::Set(t) => {
                    self.timers.insert(t.time.0);
                }
                TimerChange::Delete(t) => {
                    self.timers.remove(&t.time.0);
                }
            }
        }
        for late in effects.late {
            let body: serde_json::Value = serde_json::from_str(&late.body).unwrap();
            assert!(
                body["reason"]
                    .as_str()
                    .unwrap()
                    .starts_with(LATE_REASON_PREFIX)
            );
            let ev: Ev = serde_json::from_value(body["event"].clone()).unwrap();
            assert_eq!(late.partition, "p");
            self.late.push(ev.id);
        }
        for r in results {
            if let Some((_, was_final)) = self.emitted.get(&r.window) {
                assert!(
                    !was_final || r.is_final,
                    "a final result went back to early"
                );
            }
            self.emitted.insert(r.window, (r.result, r.is_final));
        }
    }

    fn event(&mut self, ev: Ev) {
        let mut effects = Effects::default();
        let mut ctx = Context::new(&mut self.state, &mut effects, None, EventTime(0))
            .with_watermark(self.watermark);
        let added = self
            .windows
            .add(&mut ctx, |s| s, EventTime(ev.t), &ev.v, "p", &ev)
            .unwrap();
        let results = match added {
            Added::Late => Vec::new(),
            Added::Accepted(r) => r,
        };
        self.absorb(effects, results);
    }

    fn advance(&mut self, watermark: EventTime) {
        assert!(watermark >= self.watermark);
        self.watermark = watermark;
        while let Some(&t) = self.timers.iter().next().filter(|&&t| t <= watermark.0) {
            self.timers.remove(&t);
            let timer = Timer {
                domain: TimeDomain::Event,
                time: EventTime(t),
            };
            let mut effects = Effects::default();
            let mut ctx = Context::new(&mut self.state, &mut effects, None, EventTime(0))
                .with_watermark(watermark)
                .with_timer(timer);
            let results = self.windows.fire(&mut ctx, |s| s, timer);
            self.absorb(effects, results);
        }
    }
}

/// Random events over [0, span) delivered with bounded disorder plus a few stragglers.
fn random_events(rng: &mut SmallRng, n: usize, span: i64) -> Vec<Ev> {
    let mut evs: Vec<Ev> = (0..n)
        .map(|id| Ev {
            id,
            t: rng.random_range(0..span),
            v: rng.random_range(-50..1000),
        })
        .collect();
    evs.sort_by_key(|e| e.t);
    // Disorder: swap neighbours within a small distance, and move some far back.
    for i in 0..n {
        let j = (i + rng.random_range(0..6)).min(n - 1);
        evs.swap(i, j);
    }
    for _ in 0..n / 20 {
        let from = rng.random_range(0..n);
        let to = rng.random_range(from..n);
        let e = evs.remove(from);
        evs.insert(to, e);
    }
    evs
}

/// Runs `evs` in random batches with a random watermark before each batch (bounded by
/// `cap(next event index)`); returns the driver and each event's watermark when applied.
fn run(
    rng: &mut SmallRng,
    windows: Windows<Agg>,
    evs: &[Ev],
    cap: impl Fn(usize) -> i64,
) -> (Driver, Vec<i64>) {
    let mut d = Driver::new(windows);
    let mut seen_wm = vec![0; evs.len()];
    let mut i = 0;
    let mut max_t = i64::MIN;
    while i < evs.len() {
        let size = rng.random_range(1..20).min(evs.len() - i);
        // Watermark: somewhere below the largest time seen, never above `cap`.
        if max_t > i64::MIN {
            let lag = rng.random_range(0..400);
            let wm = (max_t - lag).min(cap(i)).max(d.watermark.0);
            d.advance(EventTime(wm));
        }
        for (k, ev) in evs.iter().enumerate().skip(i).take(size) {
            seen_wm[k] = d.watermark.0;
            max_t = max_t.max(ev.t);
            d.event(*ev);
        }
        i += size;
    }
    d.advance(EventTime::MAX);
    assert!(d.state.is_empty(), "every window is purged at the end");
    (d, seen_wm)
}

fn check_aligned(assigner: Assigner, lateness: i64, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let evs = random_events(&mut rng, 400, 5_000);
    let windows = Windows::new(assigner, (Count::new(), Sum)).with_allowed_lateness(lateness);
    let (d, seen_wm) = run(&mut rng, windows, &evs, |_| i64::MAX);
    // Oracle: an event counts in each of its windows that was not past its lateness when
    // the event was applied; it is late when none was.
    let mut expected: BTreeMap<Window, Out> = BTreeMap::new();
    let mut expected_late = Vec::new();
    for (ev, wm) in evs.iter().zip(&seen_wm) {
        let live: Vec<Window> = assigner
            .assign(EventTime(ev.t))
            .into_iter()
            .filter(|w| w.end + lateness > *wm)
            .collect();
        if live.is_empty() {
            expected_late.push(ev.id);
        }
        for w in live {
            let e = expected.entry(w).or_default();
            e.0 += 1;
            e.1 += ev.v;
        }
    }
    let got: BTreeMap<Window, Out> = d.emitted.iter().map(|(w, (r, _))| (*w, *r)).collect();
    assert_eq!(got, expected, "seed {seed}");
    assert!(d.emitted.values().all(|(_, f)| *f), "all results end final");
    assert_eq!(d.late, expected_late, "seed {seed}");
}

#[test]
fn tumbling_results_equal_the_oracle_under_disorder_and_random_watermarks() {
    for seed in 0..20 {
        check_aligned(Assigner::tumbling(250).unwrap(), 0, seed);
        check_aligned(Assigner::tumbling(250).unwrap(), 300, seed);
    }
}

#[test]
fn sliding_results_equal_the_oracle_under_disorder_and_random_watermarks() {
    for seed in 0..20 {
        check_aligned(Assigner::sliding(300, 100).unwrap(), 0, seed);
        check_aligned(Assigner::sliding(250, 100).unwrap(), 150, seed);
    }
}

#[test]
fn late_events_appear_in_the_side_output_and_nowhere_else() {
    let windows = Windows::new(Assigner::tumbling(100).unwrap(), (Count::new(), Sum));
    let mut d = Driver::new(windows);
    d.event(Ev { id: 0, t: 10, v: 5 });
    d.advance(EventTime(150));
    d.event(Ev { id: 1, t: 20, v: 7 }); // [0,100) fired and purged: late
    d.event(Ev {
        id: 2,
        t: 120,
        v: 1,
    });
    d.advance(EventTime::MAX);
    assert_eq!(d.late, vec![1]);
    assert_eq!(d.emitted[&Window::new(0, 100)], ((1, 5), true));
    assert_eq!(d.emitted[&Window::new(100, 200)], ((1, 1), true));
}

#[test]
fn allowed_late_events_update_a_final_result_at_once_until_the_purge() {
    let windows = Windows::new(Assigner::tumbling(100).unwrap(), (Count::new(), Sum))
        .with_allowed_lateness(50);
    let mut d = Driver::new(windows);
    d.event(Ev { id: 0, t: 10, v: 5 });
    d.advance(EventTime(120));
    assert_eq!(d.emitted[&Window::new(0, 100)], ((1, 5), true));
    d.event(Ev { id: 1, t: 30, v: 7 });
    assert_eq!(
        d.emitted[&Window::new(0, 100)],
        ((2, 12), true),
        "updated at once"
    );
    d.advance(EventTime(150));
    assert!(d.state.is_empty(), "purged at end + lateness");
    d.event(Ev { id: 2, t: 40, v: 9 });
    assert_eq!(d.late, vec![2]);
    assert_eq!(d.emitted[&Window::new(0, 100)], ((2, 12), true));
}

#[test]
fn a_first_event_in_an_already_passed_window_fires_at_once() {
    let windows = Windows::new(Assigner::tumbling(100).unwrap(), (Count::new(), Sum))
        .with_allowed_lateness(500);
    let mut d = Driver::new(windows);
    d.advance(EventTime(300));
    d.event(Ev { id: 0, t: 10, v: 4 });
    assert_eq!(d.emitted[&Window::new(0, 100)], ((1, 4), true));
}

fn sessions_oracle(evs: &[Ev], gap: i64) -> BTreeMap<Window, Out> {
    let mut sorted = evs.to_vec();
    sorted.sort_by_key(|e| e.t);
    let mut out: BTreeMap<Window, Out> = BTreeMap::new();
    let mut current: Option<(Window, Out)> = None;
    for e in sorted {
        current = match current {
            Some((w, acc)) if e.t < w.end => Some((
                Window::new(w.start, w.end.max(e.t + gap)),
                (acc.0 + 1, acc.1 + e.v),
            )),
            other => {
                if let Some((w, acc)) = other {
                    out.insert(w, acc);
                }
                Some((Window::new(e.t, e.t + gap), (1, e.v)))
            }
        };
    }
    out.extend(current);
    out
}

#[test]
fn session_results_equal_the_oracle_including_merges() {
    for seed in 0..30 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let gap = 40;
        let evs = random_events(&mut rng, 300, 20_000);
        // The watermark never passes an event still to come: nothing is late, and
        // bridging events arrive out of order, so sessions merge.
        let min_after: Vec<i64> = (0..=evs.len())
            .map(|i| evs[i..].iter().map(|e| e.t).min().unwrap_or(i64::MAX) - 1)
            .collect();
        let windows = Windows::new(Assigner::session(gap).unwrap(), (Count::new(), Sum));
        let (d, _) = run(&mut rng, windows, &evs, |i| min_after[i]);
        assert!(d.late.is_empty());
        let got: BTreeMap<Window, Out> = d.emitted.iter().map(|(w, (r, _))| (*w, *r)).collect();
        assert_eq!(got, sessions_oracle(&evs, gap), "seed {seed}");
    }
}

#[test]
fn a_bridging_event_merges_two_sessions_and_their_accumulators() {
    let windows = Windows::new(Assigner::session(10).unwrap(), (Count::new(), Sum));
    let mut d = Driver::new(windows);
    d.event(Ev {
        id: 0,
        t: 100,
        v: 1,
    });
    d.event(Ev {
        id: 1,
        t: 118,
        v: 2,
    });
    assert_eq!(d.state.len(), 2);
    d.event(Ev {
        id: 2,
        t: 109,
        v: 4,
    });
    assert_eq!(
        d.state.windows().collect::<Vec<_>>(),
        vec![Window::new(100, 128)]
    );
    d.advance(EventTime::MAX);
    assert_eq!(d.emitted.len(), 1);
    assert_eq!(d.emitted[&Window::new(100, 128)], ((3, 7), true));
}

#[test]
fn an_allowed_late_event_merges_into_a_fired_session_and_fires_the_merge_at_once() {
    let windows = Windows::new(Assigner::session(10).unwrap(), (Count::new(), Sum))
        .with_allowed_lateness(100);
    let mut d = Driver::new(windows);
    d.event(Ev {
        id: 0,
        t: 100,
        v: 1,
    });
    d.advance(EventTime(150));
    assert_eq!(d.emitted[&Window::new(100, 110)], ((1, 1), true));
    d.event(Ev {
        id: 1,
        t: 105,
        v: 2,
    });
    assert_eq!(d.emitted[&Window::new(100, 115)], ((2, 3), true));
    d.advance(EventTime(400));
    d.event(Ev {
        id: 2,
        t: 106,
        v: 2,
    });
    assert_eq!(d.late, vec![2]);
}

#[test]
fn early_results_are_not_final_until_the_watermark_passes_the_end() {
    let windows = Windows::new(Assigner::tumbling(100).unwrap(), (Count::new(), Sum))
        .with_early_results(true);
    let mut d = Driver::new(windows);
    d.event(Ev { id: 0, t: 10, v: 5 });
    assert_eq!(d.emitted[&Window::new(0, 100)], ((1, 5), false));
    d.event(Ev { id: 1, t: 20, v: 1 });
    assert_eq!(d.emitted[&Window::new(0, 100)], ((2, 6), false));
    d.advance(EventTime(100));
    assert_eq!(d.emitted[&Window::new(0, 100)], ((2, 6), true));
}
