//! s3 workloads for the emulator-vs-moto benchmark (added by its issue).

use super::Workload;

/// This service's workloads.
pub fn workloads() -> Vec<Workload> {
    Vec::new()
}
