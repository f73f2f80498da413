//! Schedules (filled below once the runner exists).
