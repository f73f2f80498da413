//! CPU-seconds (user + system) of this process and its live child processes — the
//! function environments the emulator's Lambda layer spawns — from `/proc`; the Flink
//! comparison's Shardwise runs and the pipeline benchmark both measure with it.
//! Children that exited during the measurement are not counted (the stack keeps its
//! environments alive while it runs). Linux only; elsewhere it reads 0.

/// `sysconf(_SC_CLK_TCK)` on Linux.
const CLOCK_TICKS_PER_S: f64 = 100.0;

/// CPU-seconds so far of this process and its live children.
pub fn cpu_seconds() -> f64 {
    let me = std::process::id().to_string();
    let mut ticks = stat_fields("/proc/self/stat").map_or(0, |f| field(&f, 11) + field(&f, 12));
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let path = entry.path().join("stat");
            if let Some(f) = stat_fields(&path.to_string_lossy())
                && f.get(1).is_some_and(|ppid| *ppid == me)
            {
                ticks += field(&f, 11) + field(&f, 12);
            }
        }
    }
    ticks as f64 / CLOCK_TICKS_PER_S
}

/// `/proc/loadavg`'s 1-, 5- and 15-minute load averages, e.g. `6.78 9.03 6.63`: the
/// figures are wall-clock times on a machine shared with other work, so every run
/// prints the load it ran under.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The fields of a `/proc/<pid>/stat` after the command name (index 0 = state).
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn field(fields: &[String], i: usize) -> u64 {
    fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0)
}
