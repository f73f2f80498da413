//! Consumed capacity: what one request used, as `ReturnConsumedCapacity` reports it, and
//! the per-table totals served in the emulator's metrics.
//!
//! The unit arithmetic (1 WCU per started KB of the larger of old/new item, 1 RCU per
//! started 4 KB, eventual reads halved, transactions doubled) lives next to the storage in
//! [`super::storage::write_units`]/[`super::storage::read_units`]; this module only sums
//! and reports. AWS reports `CapacityUnits` plus the read/write split.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::request::{Body, opt_enum};
use crate::error::AwsJsonError;

/// `ReturnConsumedCapacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing reported.
    None,
    /// Table totals.
    Total,
    /// Table totals plus per-index figures.
    Indexes,
}

impl Mode {
    /// Reads `ReturnConsumedCapacity` from a request body.
    pub fn parse(body: &Body) -> Result<Self, AwsJsonError> {
        Ok(
            match opt_enum(
                body,
                "ReturnConsumedCapacity",
                &["INDEXES", "TOTAL", "NONE"],
            )? {
                Some("INDEXES") => Self::Indexes,
                Some("TOTAL") => Self::Total,
                _ => Self::None,
            },
        )
    }
}

/// Read and write units.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    /// Read capacity units.
    pub read: f64,
    /// Write capacity units.
    pub write: f64,
}

impl Units {
    fn to_json(self) -> Value {
        let mut m = Map::new();
        m.insert("CapacityUnits".into(), json!(self.read + self.write));
        if self.read > 0.0 {
            m.insert("ReadCapacityUnits".into(), json!(self.read));
        }
        if self.write > 0.0 {
            m.insert("WriteCapacityUnits".into(), json!(self.write));
        }
        Value::Object(m)
    }
}

/// What one request consumed on one table.
#[derive(Debug, Clone, Default)]
pub struct Consumed {
    /// Table name.
    pub table: String,
    /// Units on the table itself.
    pub table_units: Units,
    /// Units per global secondary index.
    pub gsi: BTreeMap<String, Units>,
    /// Units per local secondary index.
    pub lsi: BTreeMap<String, Units>,
}

impl Consumed {
    /// Nothing consumed yet on `table`.
    pub fn new(table: &str) -> Self {
        Self {
            table: table.to_owned(),
            ..Self::default()
        }
    }

    /// Adds units to an index (global or local).
    pub fn add_index(&mut self, name: &str, global: bool, units: Units) {
        let map = if global { &mut self.gsi } else { &mut self.lsi };
        let e = map.entry(name.to_owned()).or_default();
        e.read += units.read;
        e.write += units.write;
    }

    /// Sum over table and indexes.
    pub fn total(&self) -> Units {
        let mut t = self.table_units;
        for u in self.gsi.values().chain(self.lsi.values()) {
            t.read += u.read;
            t.write += u.write;
        }
        t
    }

    /// Multiplies every figure (transactions cost double).
    pub fn scale(&mut self, factor: f64) {
        for u in std::iter::once(&mut self.table_units)
            .chain(self.gsi.values_mut())
            .chain(self.lsi.values_mut())
        {
            u.read *= factor;
            u.write *= factor;
        }
    }

    /// Merges another figure for the same table.
    pub fn merge(&mut self, other: &Consumed) {
        self.table_units.read += other.table_units.read;
        self.table_units.write += other.table_units.write;
        for (n, u) in &other.gsi {
            self.add_index(n, true, *u);
        }
        for (n, u) in &other.lsi {
            self.add_index(n, false, *u);
        }
    }

    /// The `ConsumedCapacity` wire form for `mode`.
    pub fn to_json(&self, mode: Mode) -> Option<Value> {
        if mode == Mode::None {
            return None;
        }
        let mut v = self.total().to_json();
        v["TableName"] = json!(self.table);
        if mode == Mode::Indexes {
            v["Table"] = self.table_units.to_json();
            if !self.gsi.is_empty() {
                let m: Map<String, Value> = self
                    .gsi
                    .iter()
                    .map(|(n, u)| (n.clone(), u.to_json()))
                    .collect();
                v["GlobalSecondaryIndexes"] = Value::Object(m);
            }
            if !self.lsi.is_empty() {
                let m: Map<String, Value> = self
                    .lsi
                    .iter()
                    .map(|(n, u)| (n.clone(), u.to_json()))
                    .collect();
                v["LocalSecondaryIndexes"] = Value::Object(m);
            }
        }
        Some(v)
    }
}

/// Adds `ConsumedCapacity` (one table) to a response when asked for.
pub fn attach(response: &mut Value, consumed: &Consumed, mode: Mode) {
    if let Some(c) = consumed.to_json(mode) {
        response["ConsumedCapacity"] = c;
    }
}

/// Adds a `ConsumedCapacity` list (multi-table operations) when asked for.
pub fn attach_list(response: &mut Value, consumed: &BTreeMap<String, Consumed>, mode: Mode) {
    if mode != Mode::None {
        let list: Vec<Value> = consumed.values().filter_map(|c| c.to_json(mode)).collect();
        response["ConsumedCapacity"] = Value::Array(list);
    }
}

/// Per-table totals since start (or reset).
#[derive(Debug, Clone, Copy, Default)]
struct TableTotals {
    read: f64,
    write: f64,
    requests: u64,
    throttled: u64,
}

/// Capacity totals per table, for `/_shardwise/metrics`.
#[derive(Debug, Default)]
pub struct CapacityMetrics {
    tables: Mutex<BTreeMap<String, TableTotals>>,
}

impl CapacityMetrics {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, TableTotals>) -> R) -> R {
        f(&mut self.tables.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Counts one request's consumption (whatever the client asked to see).
    pub fn record(&self, consumed: &Consumed) {
        let total = consumed.total();
        self.with(|t| {
            let e = t.entry(consumed.table.clone()).or_default();
            e.read += total.read;
            e.write += total.write;
            e.requests += 1;
        });
    }

    /// Counts one throttled request.
    pub fn record_throttle(&self, table: &str) {
        self.with(|t| t.entry(table.to_owned()).or_default().throttled += 1);
    }

    /// Forgets everything.
    pub fn reset(&self) {
        self.with(BTreeMap::clear);
    }

    /// `{"tables": {"<name>": {...}}, "read_capacity_units": x, "write_capacity_units": y, "throttled_requests": n}`.
    pub fn to_json(&self) -> Value {
        self.with(|t| {
            let mut tables = Map::new();
            let (mut read, mut write, mut throttled) = (0.0, 0.0, 0);
            for (name, c) in t.iter() {
                read += c.read;
                write += c.write;
                throttled += c.throttled;
                tables.insert(
                    name.clone(),
                    json!({
                        "read_capacity_units": c.read,
                        "write_capacity_units": c.write,
                        "requests": c.requests,
                        "throttled_requests": c.throttled,
                    }),
                );
            }
            json!({
                "tables": tables,
                "read_capacity_units": read,
                "write_capacity_units": write,
                "throttled_requests": throttled,
            })
        })
    }
}
