//! One table's items and secondary indexes.
//!
//! Items live in a two-level `BTreeMap`: partition key → (sort key → item). Key values
//! are [`KeyValue`]s whose derived order is DynamoDB's (strings and binaries by bytes,
//! numbers numerically through [`Number`]'s `Ord`), so a Query is a range walk inside one
//! partition and never touches the rest of the table. A scan walks partitions in key
//! order (AWS uses hash order; no client may rely on either).
//!
//! Each secondary index keeps, per index partition key, an ordered set of
//! (index sort key, table primary key) pointing back into the table; the projected index
//! item is computed when read. Only items carrying every index key attribute appear in
//! an index (a sparse index), as on AWS.

use std::collections::{BTreeMap, BTreeSet};

use super::errors::validation;
use super::number::Number;
use super::schema::{Billing, IndexDef, KeySchema, ScalarType, Throughput};
use super::types::{AttrValue, Item, item_size};
use crate::error::AwsJsonError;

/// A key attribute value with DynamoDB's ordering.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyValue {
    /// String (byte order).
    S(String),
    /// Number (numeric order).
    N(Number),
    /// Binary (unsigned byte order).
    B(Vec<u8>),
}

impl KeyValue {
    /// The key form of a scalar attribute value.
    pub fn from_attr(v: &AttrValue) -> Option<Self> {
        match v {
            AttrValue::S(s) => Some(Self::S(s.clone())),
            AttrValue::N(n) => Some(Self::N(n.clone())),
            AttrValue::B(b) => Some(Self::B(b.clone())),
            _ => None,
        }
    }

    /// Back to an attribute value.
    pub fn to_attr(&self) -> AttrValue {
        match self {
            Self::S(s) => AttrValue::S(s.clone()),
            Self::N(n) => AttrValue::N(n.clone()),
            Self::B(b) => AttrValue::B(b.clone()),
        }
    }
}

/// A table primary key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrimaryKey {
    /// Partition key value.
    pub hash: KeyValue,
    /// Sort key value (tables with a sort key).
    pub range: Option<KeyValue>,
}

impl PrimaryKey {
    /// The key of an item under `schema` (`None` when a key attribute is missing or not scalar).
    pub fn of(schema: &KeySchema, item: &Item) -> Option<Self> {
        let hash = KeyValue::from_attr(item.get(&schema.hash.name)?)?;
        let range = match &schema.range {
            None => None,
            Some(r) => Some(KeyValue::from_attr(item.get(&r.name)?)?),
        };
        Some(Self { hash, range })
    }
}

/// An index entry: (index sort key, table key).
pub type IndexEntry = (Option<KeyValue>, PrimaryKey);

/// A secondary index and its entries.
#[derive(Debug, Clone)]
pub struct Index {
    /// Definition.
    pub def: IndexDef,
    /// Index partition key → ordered entries.
    pub entries: BTreeMap<KeyValue, BTreeSet<IndexEntry>>,
    /// Items in the index.
    pub count: usize,
    /// Sum of projected item sizes.
    pub size: usize,
}

/// Table metadata.
#[derive(Debug, Clone)]
pub struct TableDef {
    /// Table name.
    pub name: String,
    /// Table ARN.
    pub arn: String,
    /// Table id (a UUID).
    pub id: String,
    /// Creation time, epoch seconds.
    pub created: f64,
    /// Primary key.
    pub keys: KeySchema,
    /// Attribute definitions (key attributes of the table and its indexes).
    pub attrs: Vec<(String, ScalarType)>,
    /// Billing mode.
    pub billing: Billing,
    /// Provisioned throughput (zero when on-demand).
    pub throughput: Throughput,
    /// When the billing mode last became PAY_PER_REQUEST, epoch seconds.
    pub pay_per_request_since: Option<f64>,
    /// The TTL attribute, when TTL is enabled.
    pub ttl_attr: Option<String>,
}

/// A table: metadata, items and indexes.
#[derive(Debug, Clone)]
pub struct Table {
    /// Metadata.
    pub def: TableDef,
    /// Partition key → sort key → (item, size).
    pub partitions: BTreeMap<KeyValue, BTreeMap<Option<KeyValue>, (Item, usize)>>,
    /// Secondary indexes, GSIs and LSIs.
    pub indexes: Vec<Index>,
    /// Item count.
    pub item_count: usize,
    /// Sum of item sizes.
    pub size_bytes: usize,
}

impl Table {
    /// An empty table.
    pub fn new(def: TableDef, indexes: Vec<IndexDef>) -> Self {
        let indexes = indexes
            .into_iter()
            .map(|def| Index {
                def,
                entries: BTreeMap::new(),
                count: 0,
                size: 0,
            })
            .collect();
        Self {
            def,
            partitions: BTreeMap::new(),
            indexes,
            item_count: 0,
            size_bytes: 0,
        }
    }

    /// The index named `name`.
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.def.name == name)
    }

    /// The item with key `key`.
    pub fn get(&self, key: &PrimaryKey) -> Option<&Item> {
        self.partitions
            .get(&key.hash)
            .and_then(|p| p.get(&key.range))
            .map(|(item, _)| item)
    }

    /// Checks the index key attributes an item carries: a present index key attribute
    /// must have the index's type and must not be empty.
    pub fn check_index_keys(&self, item: &Item) -> Result<(), AwsJsonError> {
        for index in &self.indexes {
            for attr in [Some(&index.def.keys.hash), index.def.keys.range.as_ref()]
                .into_iter()
                .flatten()
            {
                let Some(v) = item.get(&attr.name) else {
                    continue;
                };
                if !attr.ty.matches(v) {
                    return Err(validation(format!(
                        "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                        attr.name,
                        attr.ty.name(),
                        v.type_name(),
                        index.def.name
                    )));
                }
                let empty = matches!(v, AttrValue::S(s) if s.is_empty())
                    || matches!(v, AttrValue::B(b) if b.is_empty());
                if empty {
                    return Err(validation(format!(
                        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {}",
                        index.def.name, attr.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// The projected form of `item` in `index`, or `None` when the item lacks an index
    /// key attribute (sparse index).
    pub fn project(&self, index: &IndexDef, item: &Item) -> Option<Item> {
        PrimaryKey::of(&index.keys, item)?;
        let mut out = Item::new();
        for (name, v) in item {
            if self.def.keys.contains(name) || index.keys.contains(name) || index.projects(name) {
                out.insert(name.clone(), v.clone());
            }
        }
        Some(out)
    }

    /// Write units each index consumes when `old` becomes `new` (AWS: a put into or a
    /// delete from an index costs one write of that index item; a changed index key costs
    /// a delete plus a put; an unchanged projection costs nothing).
    pub fn index_write_units(&self, old: Option<&Item>, new: Option<&Item>) -> Vec<(usize, f64)> {
        let mut out = Vec::new();
        for (i, index) in self.indexes.iter().enumerate() {
            let before = old.and_then(|o| self.project(&index.def, o));
            let after = new.and_then(|n| self.project(&index.def, n));
            let units = match (&before, &after) {
                (None, None) => 0.0,
                (Some(b), None) => write_units(item_size(b)),
                (None, Some(a)) => write_units(item_size(a)),
                (Some(b), Some(a)) if b == a => 0.0,
                (Some(b), Some(a)) => {
                    if PrimaryKey::of(&index.def.keys, b) == PrimaryKey::of(&index.def.keys, a) {
                        write_units(item_size(a).max(item_size(b)))
                    } else {
                        write_units(item_size(a)) + write_units(item_size(b))
                    }
                }
            };
            if units > 0.0 {
                out.push((i, units));
            }
        }
        out
    }

    /// Stores `item` under `key`, returning the item it replaced.
    pub fn put(&mut self, key: PrimaryKey, item: Item) -> Option<Item> {
        let old = self.remove(&key);
        self.add_to_indexes(&key, &item);
        let size = item_size(&item);
        self.item_count += 1;
        self.size_bytes += size;
        self.partitions
            .entry(key.hash)
            .or_default()
            .insert(key.range, (item, size));
        old
    }

    /// Removes the item under `key`, returning it.
    pub fn remove(&mut self, key: &PrimaryKey) -> Option<Item> {
        let partition = self.partitions.get_mut(&key.hash)?;
        let (item, size) = partition.remove(&key.range)?;
        if partition.is_empty() {
            self.partitions.remove(&key.hash);
        }
        self.item_count -= 1;
        self.size_bytes -= size;
        self.remove_from_indexes(key, &item);
        Some(item)
    }

    fn add_to_indexes(&mut self, key: &PrimaryKey, item: &Item) {
        for i in 0..self.indexes.len() {
            let def = self.indexes[i].def.clone();
            let (Some(ik), Some(projected)) =
                (PrimaryKey::of(&def.keys, item), self.project(&def, item))
            else {
                continue;
            };
            let index = &mut self.indexes[i];
            index.count += 1;
            index.size += item_size(&projected);
            index
                .entries
                .entry(ik.hash)
                .or_default()
                .insert((ik.range, key.clone()));
        }
    }

    fn remove_from_indexes(&mut self, key: &PrimaryKey, item: &Item) {
        for i in 0..self.indexes.len() {
            let def = self.indexes[i].def.clone();
            let (Some(ik), Some(projected)) =
                (PrimaryKey::of(&def.keys, item), self.project(&def, item))
            else {
                continue;
            };
            let index = &mut self.indexes[i];
            if let Some(set) = index.entries.get_mut(&ik.hash) {
                if set.remove(&(ik.range, key.clone())) {
                    index.count -= 1;
                    index.size = index.size.saturating_sub(item_size(&projected));
                }
                if set.is_empty() {
                    index.entries.remove(&ik.hash);
                }
            }
        }
    }

    /// Adds a new index and backfills it from the table's items.
    pub fn add_index(&mut self, def: IndexDef) {
        self.indexes.push(Index {
            def,
            entries: BTreeMap::new(),
            count: 0,
            size: 0,
        });
        let last = self.indexes.len() - 1;
        let items: Vec<(PrimaryKey, Item)> = self
            .partitions
            .iter()
            .flat_map(|(h, p)| {
                p.iter().map(|(r, (item, _))| {
                    (
                        PrimaryKey {
                            hash: h.clone(),
                            range: r.clone(),
                        },
                        item.clone(),
                    )
                })
            })
            .collect();
        let def = self.indexes[last].def.clone();
        for (key, item) in items {
            let (Some(ik), Some(projected)) =
                (PrimaryKey::of(&def.keys, &item), self.project(&def, &item))
            else {
                continue;
            };
            let index = &mut self.indexes[last];
            index.count += 1;
            index.size += item_size(&projected);
            index
                .entries
                .entry(ik.hash)
                .or_default()
                .insert((ik.range, key));
        }
    }

    /// True when the table bills per request.
    pub fn on_demand(&self) -> bool {
        self.def.billing == Billing::PayPerRequest
    }
}

/// Write units for an item of `size` bytes: 1 per started KB, at least 1.
pub fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

/// Read units for `size` bytes: 1 per started 4 KB, at least 1, halved when eventually consistent.
pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}
