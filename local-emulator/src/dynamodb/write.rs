//! The one write path every mutating operation shares (PutItem, UpdateItem, DeleteItem,
//! BatchWriteItem, TransactWriteItems): *plan* a write against the current item —
//! check the key, evaluate the condition, compute the new item, validate it, price it —
//! then *apply* it. Transactions plan every action before applying any, which is what
//! makes them all-or-nothing; all of it runs under the tables' write lock.

use super::capacity::{Consumed, Units};
use super::errors::validation;
use super::expr::{Condition, UpdateExpr};
use super::faults::item_table_not_found;
use super::storage::{PrimaryKey, Table, write_units};
use super::types::{Item, item_size};
use crate::error::AwsJsonError;

/// Largest item, bytes (names + values).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// What a write does to its item.
#[derive(Debug, Clone)]
pub enum Action {
    /// Replace the item.
    Put(Item),
    /// Update (or create) the item; `None` creates a key-only item if absent.
    Update(Option<UpdateExpr>),
    /// Delete the item.
    Delete,
    /// Only check the condition (TransactWriteItems ConditionCheck).
    Check,
}

/// One single-item write request, parsed and validated as far as possible without the table.
#[derive(Debug, Clone)]
pub struct WriteOp {
    /// Table name.
    pub table: String,
    /// The `Key` (or, for Put, the whole item).
    pub key: Item,
    /// What to do.
    pub action: Action,
    /// `ConditionExpression`.
    pub condition: Option<Condition>,
}

/// A write ready to apply.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Table name.
    pub table: String,
    /// Item key.
    pub key: PrimaryKey,
    /// Item before.
    pub old: Option<Item>,
    /// Item after (`None`: deleted or absent).
    pub new: Option<Item>,
    /// Whether anything changes (false for ConditionCheck).
    pub writes: bool,
    /// Write units used (before any transaction doubling).
    pub consumed: Consumed,
}

/// Why a planned write cannot happen.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The condition evaluated false; carries the current item and what the attempt cost.
    Condition(Option<Item>, Consumed),
    /// A request-level error (bad key, item too large, update type errors, …).
    Invalid(AwsJsonError),
}

impl From<AwsJsonError> for Failure {
    fn from(e: AwsJsonError) -> Self {
        Self::Invalid(e)
    }
}

/// The key of a write: the item's key for Put, the `Key` member otherwise.
pub fn key_of(table: &Table, op: &WriteOp) -> Result<PrimaryKey, AwsJsonError> {
    let schema = &table.def.keys;
    match op.action {
        Action::Put(_) => schema.check_item_key(&op.key)?,
        _ => schema.check_key(&op.key)?,
    }
    PrimaryKey::of(schema, &op.key)
        .ok_or_else(|| validation("The provided key element does not match the schema"))
}

/// Plans `op` against the current state of its table.
pub fn plan(table: &Table, op: &WriteOp) -> Result<Planned, Failure> {
    let key = key_of(table, op)?;
    let old = table.get(&key);
    if let Action::Update(Some(update)) = &op.action {
        for name in update.touched_top_level_names() {
            if table.def.keys.contains(&name) {
                return Err(Failure::Invalid(validation(format!(
                    "One or more parameter values were invalid: Cannot update attribute {name}. This attribute is part of the key"
                ))));
            }
        }
    }
    if let Action::Put(item) = &op.action {
        check_new_item(table, item)?;
    }
    let old_size = old.map_or(0, item_size);
    let mut consumed = Consumed::new(&table.def.name);
    if let Some(cond) = &op.condition
        && !cond.evaluate(old)
    {
        consumed.table_units = Units {
            read: 0.0,
            write: write_units(old_size),
        };
        return Err(Failure::Condition(old.cloned(), consumed));
    }
    let (new, writes) = match &op.action {
        Action::Put(item) => (Some(item.clone()), true),
        Action::Delete => (None, true),
        Action::Check => (old.cloned(), false),
        Action::Update(update) => {
            let mut item = old.cloned().unwrap_or_else(|| op.key.clone());
            if let Some(update) = update {
                update.apply(&mut item)?;
            }
            (Some(item), true)
        }
    };
    if let (Some(item), Action::Update(_)) = (&new, &op.action) {
        check_new_item(table, item)?;
    }
    if writes {
        let new_size = new.as_ref().map_or(0, item_size);
        consumed.table_units.write = write_units(old_size.max(new_size));
        for (i, units) in table.index_write_units(old, new.as_ref()) {
            let index = &table.indexes[i].def;
            consumed.add_index(
                &index.name,
                index.global,
                Units {
                    read: 0.0,
                    write: units,
                },
            );
        }
    } else {
        // A ConditionCheck costs like a write of the item it reads.
        consumed.table_units.write = write_units(old_size);
    }
    Ok(Planned {
        table: table.def.name.clone(),
        key,
        old: old.cloned(),
        new,
        writes,
        consumed,
    })
}

/// The checks on an item about to be stored: size and index key types.
fn check_new_item(table: &Table, item: &Item) -> Result<(), AwsJsonError> {
    if item_size(item) > MAX_ITEM_BYTES {
        return Err(validation(
            "Item size has exceeded the maximum allowed size",
        ));
    }
    table.check_index_keys(item)
}

/// Applies a planned write.
pub fn apply(table: &mut Table, planned: &Planned) {
    if !planned.writes {
        return;
    }
    match &planned.new {
        Some(item) => {
            table.put(planned.key.clone(), item.clone());
        }
        None => {
            table.remove(&planned.key);
        }
    }
}

/// The table named by a data-plane request.
pub fn table_mut<'a>(
    tables: &'a mut std::collections::BTreeMap<String, Table>,
    name: &str,
) -> Result<&'a mut Table, AwsJsonError> {
    tables.get_mut(name).ok_or_else(item_table_not_found)
}

/// The table named by a data-plane read.
pub fn table_ref<'a>(
    tables: &'a std::collections::BTreeMap<String, Table>,
    name: &str,
) -> Result<&'a Table, AwsJsonError> {
    tables.get(name).ok_or_else(item_table_not_found)
}
