//! Fault injection for the demo's stack (off by default) and the proof that it happened.
//!
//! The emulator's knobs are turned on for the whole run: seeded process kills during
//! invocations and duplicate deliveries of batches (the Lambda layer's
//! [`FaultSettings`], applied to every function), DynamoDB throttling and latency (the
//! emulator [`Config`]). A test that runs the pipeline under chaos must also prove the
//! chaos took place, so [`FaultCounts`] reads the emulator's own counters.
//!
//! Faults also reach the demo's own calls: with throttling on, its SDK clients retry
//! more ([`Faults::sdk_max_attempts`]) and the one-shot invocations it makes (the
//! nightly reconciler, the timer dispatcher) are repeated until one is not killed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use shardwise_emulator::Config;
use shardwise_emulator::lambda::FaultSettings;

use crate::stack::Running;

/// Faults injected while the demo runs. The default injects none.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Faults {
    /// Probability that a function process is killed during an invocation.
    pub kill_probability: f64,
    /// Probability that an event source mapping delivers a batch twice.
    pub duplicate_probability: f64,
    /// Share of DynamoDB data-plane requests answered with a throttling error.
    pub ddb_throttle_rate: f64,
    /// Latency added to every DynamoDB request (so kills land while batches run).
    pub ddb_latency: Duration,
    /// Seed of the emulator's random decisions.
    pub seed: u64,
}

impl Faults {
    /// True when no fault is injected.
    pub fn is_off(&self) -> bool {
        self.kill_probability <= 0.0
            && self.duplicate_probability <= 0.0
            && self.ddb_throttle_rate <= 0.0
            && self.ddb_latency.is_zero()
    }

    /// Applies the knobs to an emulator configuration.
    pub fn apply(&self, config: &mut Config) {
        config.lambda.faults = FaultSettings {
            kill_probability: self.kill_probability.clamp(0.0, 1.0),
            duplicate_probability: self.duplicate_probability.clamp(0.0, 1.0),
            ..config.lambda.faults.clone()
        };
        config.ddb_throttle_rate = self.ddb_throttle_rate.clamp(0.0, 1.0);
        config.ddb_latency = self.ddb_latency;
        config.seed = self.seed;
    }

    /// Attempts of the demo's own SDK calls: the SDK's default (3) without faults; with
    /// throttling, enough that a read of the results is never the thing that fails.
    pub fn sdk_max_attempts(&self) -> u32 {
        if self.ddb_throttle_rate > 0.0 { 12 } else { 3 }
    }

    /// Attempts of a one-shot invocation the demo makes itself.
    pub fn invoke_attempts(&self) -> u32 {
        if self.kill_probability > 0.0 { 8 } else { 1 }
    }
}

/// The faults the emulator actually injected (its counters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Processes killed mid-invocation, by function.
    pub kills: BTreeMap<String, u64>,
    /// Batches delivered twice, by function (summed over its mappings).
    pub duplicate_deliveries: BTreeMap<String, u64>,
    /// DynamoDB requests throttled.
    pub ddb_throttles: u64,
}

impl FaultCounts {
    /// Reads the counters of `running`'s emulator.
    pub fn read(running: &Running) -> Self {
        let emulator = &running.emulator;
        let lambda = emulator.lambda.metrics();
        let kills = lambda
            .as_object()
            .into_iter()
            .flatten()
            .map(|(f, m)| (f.clone(), m["faults"]["kills"].as_u64().unwrap_or(0)))
            .collect();
        let mut duplicate_deliveries = BTreeMap::new();
        for m in running.stack.mappings.mappings() {
            let j = m.metrics_json();
            *duplicate_deliveries.entry(m.function.clone()).or_insert(0) +=
                j["duplicates_injected"].as_u64().unwrap_or(0);
        }
        Self {
            kills,
            duplicate_deliveries,
            ddb_throttles: emulator.dynamodb.metrics()["throttled_requests"]
                .as_u64()
                .unwrap_or(0),
        }
    }

    /// Kills over every function.
    pub fn total_kills(&self) -> u64 {
        self.kills.values().sum()
    }

    /// Duplicate deliveries over every mapping.
    pub fn total_duplicate_deliveries(&self) -> u64 {
        self.duplicate_deliveries.values().sum()
    }
}
