//! Window assigners: which event-time windows an event belongs to.
//!
//! Windows are half-open `[start, end)` in epoch milliseconds, aligned to the epoch (so
//! a daily tumbling window is a UTC day). Tumbling windows partition time; sliding
//! (hopping) windows of `size` every `slide` overlap, and an event belongs to
//! `size / slide` of them (rounded up when `slide` does not divide `size`); session
//! windows start as `[t, t + gap)` per event and merge when they overlap (see
//! [`WindowState`](super::WindowState)).

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::EventTime;

/// A half-open event-time interval `[start, end)` (epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    /// First millisecond inside the window.
    pub start: i64,
    /// First millisecond after the window.
    pub end: i64,
}

impl Window {
    /// `[start, end)`.
    pub fn new(start: i64, end: i64) -> Self {
        Self { start, end }
    }

    /// The window's end as a time: its results fire when the watermark reaches it.
    pub fn end_time(self) -> EventTime {
        EventTime(self.end)
    }

    /// Whether `t` lies inside.
    pub fn contains(self, t: i64) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether two windows share at least one millisecond (session merging).
    pub fn intersects(self, other: Self) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The smallest window covering both.
    pub fn cover(self, other: Self) -> Self {
        Self::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// How events are assigned to windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Assigner {
    /// Fixed, non-overlapping windows of `size_ms`, aligned to the epoch.
    Tumbling {
        /// Window length.
        size_ms: i64,
    },
    /// Windows of `size_ms` starting every `slide_ms` (aligned to the epoch).
    Sliding {
        /// Window length.
        size_ms: i64,
        /// Distance between window starts.
        slide_ms: i64,
    },
    /// Activity sessions: events closer than `gap_ms` share a window.
    Session {
        /// Inactivity gap that closes a session.
        gap_ms: i64,
    },
}

impl Assigner {
    /// One UTC day (tumbling).
    pub const DAILY: Self = Self::Tumbling {
        size_ms: 86_400_000,
    };

    /// A tumbling assigner; sizes must be positive.
    pub fn tumbling(size_ms: i64) -> Result<Self, Error> {
        positive("size", size_ms)?;
        Ok(Self::Tumbling { size_ms })
    }

    /// A sliding assigner; `0 < slide ≤ size`.
    pub fn sliding(size_ms: i64, slide_ms: i64) -> Result<Self, Error> {
        positive("size", size_ms)?;
        positive("slide", slide_ms)?;
        if slide_ms > size_ms {
            return Err(Error::Config(format!(
                "window slide {slide_ms} ms exceeds its size {size_ms} ms"
            )));
        }
        Ok(Self::Sliding { size_ms, slide_ms })
    }

    /// A session assigner with a positive gap.
    pub fn session(gap_ms: i64) -> Result<Self, Error> {
        positive("gap", gap_ms)?;
        Ok(Self::Session { gap_ms })
    }

    /// Whether windows of this assigner merge (sessions).
    pub fn is_merging(self) -> bool {
        matches!(self, Self::Session { .. })
    }

    /// The windows an event at `t` belongs to, earliest start first. Session windows are
    /// the event's own `[t, t + gap)`, merged later by the window state.
    pub fn assign(self, t: EventTime) -> Vec<Window> {
        let t = t.0;
        match self {
            Self::Tumbling { size_ms } => {
                let start = t - t.rem_euclid(size_ms);
                vec![Window::new(start, start.saturating_add(size_ms))]
            }
            Self::Sliding { size_ms, slide_ms } => {
                let last_start = t - t.rem_euclid(slide_ms);
                let mut windows = Vec::new();
                let mut start = last_start;
                while start > t.saturating_sub(size_ms) {
                    windows.push(Window::new(start, start.saturating_add(size_ms)));
                    start -= slide_ms;
                }
                windows.reverse();
                windows
            }
            Self::Session { gap_ms } => vec![Window::new(t, t.saturating_add(gap_ms))],
        }
    }
}

fn positive(what: &str, ms: i64) -> Result<(), Error> {
    if ms <= 0 {
        return Err(Error::Config(format!(
            "window {what} must be positive, got {ms} ms"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_windows_are_aligned_to_the_epoch_even_before_it() {
        let a = Assigner::tumbling(10).unwrap();
        assert_eq!(a.assign(EventTime(25)), vec![Window::new(20, 30)]);
        assert_eq!(a.assign(EventTime(-1)), vec![Window::new(-10, 0)]);
        assert_eq!(a.assign(EventTime(30)), vec![Window::new(30, 40)]);
    }

    #[test]
    fn daily_windows_are_utc_days() {
        // 2026-11-21T08:15:02.113Z
        let t = 1_795_335_302_113;
        let w = Assigner::DAILY.assign(EventTime(t))[0];
        assert_eq!(w.start % 86_400_000, 0);
        assert!(w.contains(t));
        assert_eq!(w.end - w.start, 86_400_000);
    }

    #[test]
    fn sliding_windows_hold_an_event_size_over_slide_times() {
        let a = Assigner::sliding(30, 10).unwrap();
        let ws = a.assign(EventTime(25));
        assert_eq!(
            ws,
            vec![Window::new(0, 30), Window::new(10, 40), Window::new(20, 50)]
        );
        assert!(ws.iter().all(|w| w.contains(25)));
        // A slide that does not divide the size: 2 or 3 windows, always containing t.
        let odd = Assigner::sliding(25, 10).unwrap();
        for t in -50..50 {
            let ws = odd.assign(EventTime(t));
            assert!(ws.iter().all(|w| w.contains(t)), "{t}: {ws:?}");
            assert!((2..=3).contains(&ws.len()));
        }
    }

    #[test]
    fn invalid_sizes_are_configuration_errors() {
        assert!(Assigner::tumbling(0).is_err());
        assert!(Assigner::sliding(10, 20).is_err());
        assert!(Assigner::session(-1).is_err());
    }
}
