//! Table and index definitions: parsing `CreateTable`/`UpdateTable` members with AWS's
//! validation messages, and the `TableDescription` JSON they describe.
//!
//! A definition is pure metadata; the items live in [`super::storage`]. Keys are
//! extracted from items here because the rules (missing key, type mismatch, size limits,
//! empty values) depend only on the key schema.

use serde_json::{Value, json};

use super::errors::validation;
use super::request::{
    Body, as_obj, bad_enum, missing, opt_arr, opt_i64, opt_obj, req_arr, req_str,
};
use super::types::{AttrValue, Item};
use crate::error::AwsJsonError;

/// Largest partition key value, bytes.
pub const MAX_HASH_KEY_BYTES: usize = 2048;
/// Largest sort key value, bytes.
pub const MAX_RANGE_KEY_BYTES: usize = 1024;

/// A key attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    /// String.
    S,
    /// Number.
    N,
    /// Binary.
    B,
}

impl ScalarType {
    fn parse(text: &str, position: usize) -> Result<Self, AwsJsonError> {
        match text {
            "S" => Ok(Self::S),
            "N" => Ok(Self::N),
            "B" => Ok(Self::B),
            other => Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'attributeDefinitions.{position}.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
            ))),
        }
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::S => "S",
            Self::N => "N",
            Self::B => "B",
        }
    }

    /// True when `v` is of this type.
    pub fn matches(self, v: &AttrValue) -> bool {
        matches!(
            (self, v),
            (Self::S, AttrValue::S(_)) | (Self::N, AttrValue::N(_)) | (Self::B, AttrValue::B(_))
        )
    }
}

/// One key attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttr {
    /// Attribute name.
    pub name: String,
    /// Attribute type.
    pub ty: ScalarType,
}

/// A primary or index key schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    /// Partition (HASH) key.
    pub hash: KeyAttr,
    /// Sort (RANGE) key.
    pub range: Option<KeyAttr>,
}

impl KeySchema {
    /// Key attribute names, hash first.
    pub fn names(&self) -> Vec<&str> {
        let mut v = vec![self.hash.name.as_str()];
        if let Some(r) = &self.range {
            v.push(&r.name);
        }
        v
    }

    /// True when `name` is one of the key attributes.
    pub fn contains(&self, name: &str) -> bool {
        self.hash.name == name || self.range.as_ref().is_some_and(|r| r.name == name)
    }

    /// The `KeySchema` wire form.
    pub fn to_json(&self) -> Value {
        let mut v = vec![json!({"AttributeName": self.hash.name, "KeyType": "HASH"})];
        if let Some(r) = &self.range {
            v.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
        }
        Value::Array(v)
    }

    /// Extracts the key of an item being written (PutItem): every key attribute must be
    /// present with the schema's type, within the size limits, and not empty.
    pub fn check_item_key(&self, item: &Item) -> Result<(), AwsJsonError> {
        for (attr, limit) in self.attrs_with_limits() {
            let v = item.get(&attr.name).ok_or_else(|| {
                validation(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    attr.name
                ))
            })?;
            check_key_value(attr, v, limit)?;
        }
        Ok(())
    }

    /// Checks a `Key` member (GetItem, DeleteItem, …): exactly the key attributes.
    pub fn check_key(&self, key: &Item) -> Result<(), AwsJsonError> {
        let mismatch = || validation("The provided key element does not match the schema");
        if key.len() != self.names().len() {
            return Err(mismatch());
        }
        for (attr, limit) in self.attrs_with_limits() {
            let v = key.get(&attr.name).ok_or_else(mismatch)?;
            if !attr.ty.matches(v) {
                return Err(mismatch());
            }
            check_key_value(attr, v, limit)?;
        }
        Ok(())
    }

    fn attrs_with_limits(&self) -> Vec<(&KeyAttr, usize)> {
        let mut v = vec![(&self.hash, MAX_HASH_KEY_BYTES)];
        if let Some(r) = &self.range {
            v.push((r, MAX_RANGE_KEY_BYTES));
        }
        v
    }
}

fn check_key_value(attr: &KeyAttr, v: &AttrValue, limit: usize) -> Result<(), AwsJsonError> {
    if !attr.ty.matches(v) {
        return Err(validation(format!(
            "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
            attr.name,
            attr.ty.name(),
            v.type_name()
        )));
    }
    let empty = match v {
        AttrValue::S(s) => s.is_empty(),
        AttrValue::B(b) => b.is_empty(),
        _ => false,
    };
    if empty {
        let what = if attr.ty == ScalarType::S {
            "string"
        } else {
            "binary"
        };
        return Err(validation(format!(
            "One or more parameter values were invalid: The AttributeValue for a key attribute cannot contain an empty {what} value. Key: {}",
            attr.name
        )));
    }
    if v.size() > limit {
        return Err(validation(if limit == MAX_HASH_KEY_BYTES {
            // AWS's own text, including the missing space.
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes".to_owned()
        } else {
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes".to_owned()
        }));
    }
    Ok(())
}

/// Which attributes an index copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// Every attribute.
    All,
    /// Table and index keys only.
    KeysOnly,
    /// Keys plus these attributes.
    Include(Vec<String>),
}

impl Projection {
    fn parse(body: &Body) -> Result<Self, AwsJsonError> {
        let ty = body
            .get("ProjectionType")
            .and_then(Value::as_str)
            .unwrap_or("");
        let non_key: Option<Vec<String>> = opt_arr(body, "NonKeyAttributes")?.map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        });
        match (ty, non_key) {
            ("ALL", None) => Ok(Self::All),
            ("KEYS_ONLY", None) => Ok(Self::KeysOnly),
            ("INCLUDE", Some(attrs)) if !attrs.is_empty() => Ok(Self::Include(attrs)),
            ("INCLUDE", _) => Err(validation(
                "One or more parameter values were invalid: NonKeyAttributes must be specified when ProjectionType is INCLUDE",
            )),
            ("ALL" | "KEYS_ONLY", Some(_)) => Err(validation(format!(
                "One or more parameter values were invalid: ProjectionType is {ty}, but NonKeyAttributes is specified"
            ))),
            (other, _) => Err(bad_enum(
                "ProjectionType",
                other,
                &["ALL", "KEYS_ONLY", "INCLUDE"],
            )),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Self::All => json!({"ProjectionType": "ALL"}),
            Self::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
            Self::Include(a) => json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": a}),
        }
    }
}

/// Provisioned read/write capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Throughput {
    /// Read capacity units.
    pub read: i64,
    /// Write capacity units.
    pub write: i64,
}

impl Throughput {
    /// Parses a `ProvisionedThroughput` member.
    pub fn parse(body: &Body) -> Result<Self, AwsJsonError> {
        let read =
            opt_i64(body, "ReadCapacityUnits")?.ok_or_else(|| missing("ReadCapacityUnits"))?;
        let write =
            opt_i64(body, "WriteCapacityUnits")?.ok_or_else(|| missing("WriteCapacityUnits"))?;
        if read < 1 || write < 1 {
            return Err(validation(
                "One or more parameter values were invalid: Provisioned throughput values must be greater than or equal to 1",
            ));
        }
        Ok(Self { read, write })
    }

    /// The `ProvisionedThroughput` description.
    pub fn to_json(self) -> Value {
        json!({"ReadCapacityUnits": self.read, "WriteCapacityUnits": self.write, "NumberOfDecreasesToday": 0})
    }
}

/// A secondary index definition.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    /// Index name.
    pub name: String,
    /// Index key.
    pub keys: KeySchema,
    /// Projected attributes.
    pub projection: Projection,
    /// Global (own partition key) or local (table's partition key).
    pub global: bool,
    /// Provisioned throughput of a GSI on a provisioned table.
    pub throughput: Option<Throughput>,
}

impl IndexDef {
    /// Parses one `GlobalSecondaryIndexes`/`LocalSecondaryIndexes` element.
    pub fn parse(
        body: &Body,
        global: bool,
        attrs: &[(String, ScalarType)],
    ) -> Result<Self, AwsJsonError> {
        let name = req_str(body, "IndexName")?.to_owned();
        if name.len() < 3 || name.len() > 255 || !valid_name(&name) {
            return Err(validation(format!(
                "1 validation error detected: Value '{name}' at 'indexName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
            )));
        }
        let keys = parse_key_schema(req_arr(body, "KeySchema")?, attrs)?;
        let projection = Projection::parse(super::request::req_obj(body, "Projection")?)?;
        let throughput = opt_obj(body, "ProvisionedThroughput")?
            .map(Throughput::parse)
            .transpose()?;
        Ok(Self {
            name,
            keys,
            projection,
            global,
            throughput,
        })
    }

    /// True when the index copies `attr` of an item (besides keys, checked separately).
    pub fn projects(&self, attr: &str) -> bool {
        match &self.projection {
            Projection::All => true,
            Projection::KeysOnly => false,
            Projection::Include(a) => a.iter().any(|n| n == attr),
        }
    }

    /// The index's description.
    pub fn to_json(&self, arn: &str, item_count: usize, size: usize, billing: Billing) -> Value {
        let mut v = json!({
            "IndexName": self.name,
            "KeySchema": self.keys.to_json(),
            "Projection": self.projection.to_json(),
            "IndexSizeBytes": size,
            "ItemCount": item_count,
            "IndexArn": format!("{arn}/index/{}", self.name),
        });
        if self.global {
            v["IndexStatus"] = json!("ACTIVE");
            let tp = match billing {
                Billing::Provisioned => self.throughput.unwrap_or_default(),
                Billing::PayPerRequest => Throughput::default(),
            };
            v["ProvisionedThroughput"] = tp.to_json();
        }
        v
    }
}

/// Table billing mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    /// PROVISIONED.
    Provisioned,
    /// PAY_PER_REQUEST (on-demand).
    PayPerRequest,
}

impl Billing {
    /// Parses `BillingMode`.
    pub fn parse(text: &str) -> Result<Self, AwsJsonError> {
        match text {
            "PROVISIONED" => Ok(Self::Provisioned),
            "PAY_PER_REQUEST" => Ok(Self::PayPerRequest),
            other => Err(bad_enum(
                "BillingMode",
                other,
                &["PROVISIONED", "PAY_PER_REQUEST"],
            )),
        }
    }

    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Provisioned => "PROVISIONED",
            Self::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

/// True when a table or index name uses only `[a-zA-Z0-9_.-]`.
pub fn valid_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Parses `AttributeDefinitions`.
pub fn parse_attribute_definitions(
    list: &[Value],
) -> Result<Vec<(String, ScalarType)>, AwsJsonError> {
    let mut out: Vec<(String, ScalarType)> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let def = as_obj(v, "AttributeDefinitions")?;
        let name = req_str(def, "AttributeName")?.to_owned();
        let ty = ScalarType::parse(req_str(def, "AttributeType")?, i + 1)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(validation(format!(
                "Cannot have two attributes with the same name. Attribute name: {name}"
            )));
        }
        out.push((name, ty));
    }
    Ok(out)
}

/// Parses a `KeySchema` list against the attribute definitions.
pub fn parse_key_schema(
    list: &[Value],
    attrs: &[(String, ScalarType)],
) -> Result<KeySchema, AwsJsonError> {
    if list.is_empty() || list.len() > 2 {
        let bound = if list.is_empty() {
            "greater than or equal to 1"
        } else {
            "less than or equal to 2"
        };
        return Err(validation(format!(
            "1 validation error detected: Value '{}' at 'keySchema' failed to satisfy constraint: Member must have length {bound}",
            Value::Array(list.to_vec())
        )));
    }
    let mut elems = Vec::new();
    for v in list {
        let e = as_obj(v, "KeySchema")?;
        let name = req_str(e, "AttributeName")?.to_owned();
        let kind = req_str(e, "KeyType")?.to_owned();
        if kind != "HASH" && kind != "RANGE" {
            return Err(bad_enum("KeyType", &kind, &["HASH", "RANGE"]));
        }
        elems.push((name, kind));
    }
    let lookup = |name: &str| -> Result<KeyAttr, AwsJsonError> {
        attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(n, ty)| KeyAttr { name: n.clone(), ty: *ty })
            .ok_or_else(|| {
                let defined: Vec<&str> = attrs.iter().map(|(n, _)| n.as_str()).collect();
                validation(format!(
                    "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{name}], AttributeDefinitions: [{}]",
                    defined.join(", ")
                ))
            })
    };
    let (first_name, first_kind) = &elems[0];
    if first_kind != "HASH" {
        return Err(validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    let hash = lookup(first_name)?;
    let range = match elems.get(1) {
        None => None,
        Some((name, kind)) => {
            if kind != "RANGE" {
                return Err(validation(
                    "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
                ));
            }
            if name == first_name {
                return Err(validation(
                    "Invalid KeySchema: Both the Hash Key and the Range Key element in the KeySchema have the same name",
                ));
            }
            Some(lookup(name)?)
        }
    };
    Ok(KeySchema { hash, range })
}

/// Attribute definitions as described back: only the attributes used by some key.
pub fn attribute_definitions_json(attrs: &[(String, ScalarType)]) -> Value {
    Value::Array(
        attrs
            .iter()
            .map(|(n, t)| json!({"AttributeName": n, "AttributeType": t.name()}))
            .collect(),
    )
}
