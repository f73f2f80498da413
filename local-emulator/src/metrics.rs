//! Request counters per service and operation, served at `GET /_shardwise/metrics`.
//!
//! Benchmarks and tests read these to report AWS requests per event and to prove that
//! injected faults really happened, so every request is counted — including the ones
//! that fail.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Value, json};

/// Counters for one (service, operation) pair.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct OperationCounters {
    /// Requests received.
    pub requests: u64,
    /// Requests answered with an error status (4xx or 5xx).
    pub errors: u64,
    /// Request body bytes received.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
}

/// All request counters of one emulator.
#[derive(Debug, Default)]
pub struct Metrics {
    ops: Mutex<BTreeMap<(String, String), OperationCounters>>,
}

impl Metrics {
    /// Counts one answered request.
    pub fn record(
        &self,
        service: &str,
        operation: &str,
        bytes_in: u64,
        bytes_out: u64,
        error: bool,
    ) {
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let c = ops
            .entry((service.to_owned(), operation.to_owned()))
            .or_default();
        c.requests += 1;
        c.errors += u64::from(error);
        c.bytes_in += bytes_in;
        c.bytes_out += bytes_out;
    }

    /// Counters of one operation (zero if never called).
    pub fn get(&self, service: &str, operation: &str) -> OperationCounters {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        ops.get(&(service.to_owned(), operation.to_owned()))
            .copied()
            .unwrap_or_default()
    }

    /// Forgets every counter.
    pub fn reset(&self) {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// `{"<service>": {"operations": {"<op>": {...}}, "requests": n, "errors": n, ...}}`.
    pub fn to_json(&self) -> Value {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let mut services: BTreeMap<&str, (OperationCounters, BTreeMap<&str, OperationCounters>)> =
            BTreeMap::new();
        for ((service, op), c) in ops.iter() {
            let entry = services.entry(service).or_default();
            entry.0.requests += c.requests;
            entry.0.errors += c.errors;
            entry.0.bytes_in += c.bytes_in;
            entry.0.bytes_out += c.bytes_out;
            entry.1.insert(op, *c);
        }
        let mut out = serde_json::Map::new();
        for (service, (total, per_op)) in services {
            out.insert(
                service.to_owned(),
                json!({
                    "requests": total.requests,
                    "errors": total.errors,
                    "bytes_in": total.bytes_in,
                    "bytes_out": total.bytes_out,
                    "operations": per_op,
                }),
            );
        }
        Value::Object(out)
    }
}
