//! DynamoDB (awsJson1_0, `X-Amz-Target: DynamoDB_20120810.<Op>`).
//!
//! ## Layout
//! - [`types`], [`number`], [`errors`], [`expr`] — values, decimals, error constructors
//!   and the expression language (pure functions; the expression engineer's files).
//! - [`request`] — typed access to request members with AWS's serialization/validation
//!   errors; [`faults`] — the service-side error constructors.
//! - [`schema`] — key schemas, index and table definitions; [`storage`] — one table's
//!   items and indexes in ordered maps.
//! - [`tables`] — control plane (Create/Describe/List/Update/DeleteTable, TTL settings).
//! - [`items`] — Put/Get/Update/DeleteItem; [`query`] — Query and Scan ([`keycond`]
//!   validates key conditions); [`batch`] —
//!   BatchGet/BatchWriteItem; [`transact`] — TransactWrite/GetItems.
//! - [`write`] — the plan-then-apply path every write shares.
//! - [`capacity`] — consumed capacity and per-table totals; [`ttl`] — the sweeper.
//!
//! ## Concurrency
//! All tables sit behind one `RwLock`: reads share it, every write (single item, batch or
//! transaction) takes it exclusively for its whole check-and-apply. That makes single-item
//! operations linearizable and transactions serializable with no lock ordering to get
//! wrong; critical sections are short (no I/O, no expression parsing under the lock), so
//! the emulator still does tens of thousands of writes per second. The price: a
//! transaction can never observe another in flight, so `TransactionConflict` is never
//! answered (AWS answers it when two transactions race on an item).

pub mod batch;
pub mod capacity;
pub mod errors;
pub mod expr;
pub mod faults;
pub mod items;
pub mod keycond;
pub mod number;
pub mod query;
pub mod request;
pub mod schema;
pub mod storage;
pub mod tables;
pub mod transact;
pub mod ttl;
pub mod types;
pub mod write;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Once, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use self::capacity::CapacityMetrics;
use self::request::Body;
use self::storage::Table;
use crate::error::AwsJsonError;
use crate::{Clock, Config};

/// How often the TTL sweeper looks for expired items (real time).
const SWEEP_INTERVAL: Duration = Duration::from_millis(500);

/// A handler of one operation.
type Handler = fn(&Inner, &Body) -> Result<Value, AwsJsonError>;

/// The shared state every operation works on.
#[derive(Debug)]
pub struct Inner {
    config: Config,
    clock: Clock,
    tables: RwLock<BTreeMap<String, Table>>,
    capacity: CapacityMetrics,
    rng: Mutex<SmallRng>,
    tokens: Mutex<HashMap<String, transact::TokenEntry>>,
}

impl Inner {
    /// Shared access to every table.
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Table>> {
        // A poisoned lock only means a panic elsewhere; the maps stay consistent because
        // every mutation is applied after all checks.
        self.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Exclusive access to every table.
    pub fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Table>> {
        self.tables.write().unwrap_or_else(|e| e.into_inner())
    }

    fn tokens(&self) -> MutexGuard<'_, HashMap<String, transact::TokenEntry>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Emulated now, epoch seconds.
    pub fn now_secs(&self) -> f64 {
        self.clock.now_millis() as f64 / 1000.0
    }

    /// Draws from the throttle knob: true when this request (or key) is to be throttled.
    pub fn throttle_fires(&self) -> bool {
        let rate = self.config.ddb_throttle_rate;
        if rate <= 0.0 {
            return false;
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rng.random::<f64>() < rate
    }

    /// The throttling error for `table` (provisioned or on-demand), counted in metrics.
    pub fn throttle_error(&self, table: &str) -> AwsJsonError {
        self.capacity.record_throttle(table);
        let on_demand = self.read().get(table).is_none_or(Table::on_demand);
        if on_demand {
            faults::throttling()
        } else {
            faults::provisioned_throughput_exceeded()
        }
    }
}

/// The DynamoDB service.
#[derive(Debug)]
pub struct DynamoDb {
    inner: Arc<Inner>,
    sweeper: Once,
}

impl DynamoDb {
    /// Creates the service with no tables.
    pub fn new(config: &Config, clock: Clock) -> Self {
        Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                clock,
                tables: RwLock::new(BTreeMap::new()),
                capacity: CapacityMetrics::default(),
                rng: Mutex::new(SmallRng::seed_from_u64(config.seed)),
                tokens: Mutex::new(HashMap::new()),
            }),
            sweeper: Once::new(),
        }
    }

    /// Handles one JSON-protocol operation.
    pub async fn handle(&self, operation: &str, body: &[u8]) -> Result<Value, AwsJsonError> {
        let Some((handler, data_plane)) = handler(operation) else {
            return Err(faults::unknown_operation(operation));
        };
        self.start_sweeper();
        if !self.inner.config.ddb_latency.is_zero() {
            tokio::time::sleep(self.inner.config.ddb_latency).await;
        }
        let body = request::parse_body(body)?;
        if data_plane && self.inner.throttle_fires() {
            let table = throttled_table(&body);
            return Err(self.inner.throttle_error(&table));
        }
        handler(&self.inner, &body)
    }

    /// Deletes every item whose TTL passed more than the configured delay ago.
    pub fn sweep_expired(&self) -> usize {
        ttl::sweep(&self.inner)
    }

    /// Drops every table and counter.
    pub fn reset(&self) {
        self.inner.write().clear();
        self.inner.tokens().clear();
        self.inner.capacity.reset();
    }

    /// Per-table consumed capacity and throttle counts.
    pub fn metrics(&self) -> Value {
        let tables = self.inner.read();
        let mut v = self.inner.capacity.to_json();
        v["table_count"] = json!(tables.len());
        v
    }

    /// Spawns the TTL sweeper on the first request (`new` is not async). It holds only a
    /// `Weak`, so it ends when the service is dropped.
    fn start_sweeper(&self) {
        self.sweeper.call_once(|| {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let weak = Arc::downgrade(&self.inner);
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(SWEEP_INTERVAL).await;
                    match weak.upgrade() {
                        Some(inner) => {
                            ttl::sweep(&inner);
                        }
                        None => break,
                    }
                }
            });
        });
    }
}

/// The handler of an operation and whether the throttle knob applies to it (the batch
/// operations apply it per key themselves).
fn handler(operation: &str) -> Option<(Handler, bool)> {
    let h: (Handler, bool) = match operation {
        "CreateTable" => (tables::create_table, false),
        "DescribeTable" => (tables::describe_table, false),
        "ListTables" => (tables::list_tables, false),
        "DeleteTable" => (tables::delete_table, false),
        "UpdateTable" => (tables::update_table, false),
        "UpdateTimeToLive" => (tables::update_time_to_live, false),
        "DescribeTimeToLive" => (tables::describe_time_to_live, false),
        "PutItem" => (items::put_item, true),
        "GetItem" => (items::get_item, true),
        "UpdateItem" => (items::update_item, true),
        "DeleteItem" => (items::delete_item, true),
        "Query" => (query::query, true),
        "Scan" => (query::scan, true),
        "BatchGetItem" => (batch::batch_get_item, false),
        "BatchWriteItem" => (batch::batch_write_item, false),
        "TransactWriteItems" => (transact::transact_write_items, true),
        "TransactGetItems" => (transact::transact_get_items, true),
        _ => return None,
    };
    Some(h)
}

/// The table a throttled request is charged to: `TableName`, or the first table a
/// transaction names.
fn throttled_table(body: &Body) -> String {
    if let Some(name) = body.get("TableName").and_then(Value::as_str) {
        return name.to_owned();
    }
    body.get("TransactItems")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_object)
        .and_then(|action| action.values().next())
        .and_then(|a| a.get("TableName"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
