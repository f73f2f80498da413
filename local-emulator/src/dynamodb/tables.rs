//! The control plane: CreateTable, DescribeTable, ListTables, DeleteTable, UpdateTable,
//! UpdateTimeToLive and DescribeTimeToLive.
//!
//! Tables become ACTIVE immediately (as in DynamoDB Local): there is nothing to
//! provision, and SDK waiters accept an already-active table.

use serde_json::{Value, json};

use super::Inner;
use super::errors::{resource_in_use, validation};
use super::faults::{limit_exceeded, table_not_found};
use super::request::{
    Body, as_obj, opt_arr, opt_bool, opt_i64, opt_obj, opt_str, req_arr, req_obj, req_str,
};
use super::schema::{
    Billing, IndexDef, ScalarType, Throughput, attribute_definitions_json,
    parse_attribute_definitions, parse_key_schema, valid_name,
};
use super::storage::{Table, TableDef};
use crate::error::AwsJsonError;

/// Most GSIs per table.
const MAX_GSIS: usize = 20;
/// Most LSIs per table.
const MAX_LSIS: usize = 5;

fn check_table_name(name: &str) -> Result<(), AwsJsonError> {
    if name.len() < 3 {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3"
        )));
    }
    if name.len() > 255 {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must have length less than or equal to 255"
        )));
    }
    if !valid_name(name) {
        return Err(validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(())
}

/// Billing mode and throughput from `BillingMode` + `ProvisionedThroughput`.
fn billing_of(body: &Body, default: Billing) -> Result<(Billing, Throughput), AwsJsonError> {
    let billing = opt_str(body, "BillingMode")?
        .map(Billing::parse)
        .transpose()?
        .unwrap_or(default);
    let tp = opt_obj(body, "ProvisionedThroughput")?;
    match (billing, tp) {
        (Billing::Provisioned, None) => Err(validation(
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        )),
        (Billing::Provisioned, Some(tp)) => Ok((billing, Throughput::parse(tp)?)),
        (Billing::PayPerRequest, Some(_)) => Err(validation(
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
        )),
        (Billing::PayPerRequest, None) => Ok((billing, Throughput::default())),
    }
}

fn parse_indexes(
    body: &Body,
    member: &str,
    global: bool,
    attrs: &[(String, ScalarType)],
) -> Result<Vec<IndexDef>, AwsJsonError> {
    let Some(list) = opt_arr(body, member)? else {
        return Ok(Vec::new());
    };
    if list.is_empty() {
        return Err(validation(format!(
            "One or more parameter values were invalid: List of {member} is empty"
        )));
    }
    list.iter()
        .map(|v| IndexDef::parse(as_obj(v, member)?, global, attrs))
        .collect()
}

/// `CreateTable`.
pub fn create_table(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let name = req_str(body, "TableName")?.to_owned();
    check_table_name(&name)?;
    let attrs = parse_attribute_definitions(req_arr(body, "AttributeDefinitions")?)?;
    let keys = parse_key_schema(req_arr(body, "KeySchema")?, &attrs)?;
    let (billing, throughput) = billing_of(body, Billing::Provisioned)?;
    let gsis = parse_indexes(body, "GlobalSecondaryIndexes", true, &attrs)?;
    let lsis = parse_indexes(body, "LocalSecondaryIndexes", false, &attrs)?;
    if gsis.len() > MAX_GSIS || lsis.len() > MAX_LSIS {
        return Err(validation(
            "One or more parameter values were invalid: Too many secondary indexes",
        ));
    }
    for gsi in &gsis {
        match (billing, gsi.throughput) {
            (Billing::Provisioned, None) => {
                return Err(validation(format!(
                    "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: {}",
                    gsi.name
                )));
            }
            (Billing::PayPerRequest, Some(_)) => {
                return Err(validation(
                    "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: ".to_owned() + &gsi.name + " when BillingMode is PAY_PER_REQUEST",
                ));
            }
            _ => {}
        }
    }
    for lsi in &lsis {
        if keys.range.is_none() {
            return Err(validation(
                "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        if lsi.keys.hash != keys.hash || lsi.keys.range.is_none() {
            return Err(validation(format!(
                "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                lsi.name, lsi.keys.hash.name, keys.hash.name
            )));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for index in gsis.iter().chain(&lsis) {
        if !seen.insert(index.name.clone()) {
            return Err(validation(format!(
                "One or more parameter values were invalid: Duplicate index name: {}",
                index.name
            )));
        }
    }
    let used: usize = attrs
        .iter()
        .filter(|(n, _)| keys.contains(n) || gsis.iter().chain(&lsis).any(|i| i.keys.contains(n)))
        .count();
    if used != attrs.len() {
        return Err(validation(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let now = inner.now_secs();
    let def = TableDef {
        arn: format!(
            "arn:aws:dynamodb:{}:{}:table/{name}",
            inner.config.region, inner.config.account_id
        ),
        name: name.clone(),
        id: uuid::Uuid::new_v4().to_string(),
        created: now,
        keys,
        attrs,
        billing,
        throughput,
        pay_per_request_since: (billing == Billing::PayPerRequest).then_some(now),
        ttl_attr: None,
    };
    let mut tables = inner.write();
    if tables.contains_key(&name) {
        return Err(resource_in_use(format!("Table already exists: {name}")));
    }
    let table = Table::new(def, gsis.into_iter().chain(lsis).collect());
    let description = describe(&table, "ACTIVE");
    tables.insert(name, table);
    Ok(json!({ "TableDescription": description }))
}

/// The `TableDescription` of a table.
pub fn describe(table: &Table, status: &str) -> Value {
    let def = &table.def;
    let mut v = json!({
        "TableName": def.name,
        "TableStatus": status,
        "TableArn": def.arn,
        "TableId": def.id,
        "CreationDateTime": def.created,
        "KeySchema": def.keys.to_json(),
        "AttributeDefinitions": attribute_definitions_json(&def.attrs),
        "ItemCount": table.item_count,
        "TableSizeBytes": table.size_bytes,
        "ProvisionedThroughput": def.throughput.to_json(),
        "DeletionProtectionEnabled": false,
    });
    if let Some(since) = def.pay_per_request_since {
        v["BillingModeSummary"] = json!({
            "BillingMode": def.billing.name(),
            "LastUpdateToPayPerRequestDateTime": since,
        });
    } else {
        v["BillingModeSummary"] = json!({ "BillingMode": def.billing.name() });
    }
    let (gsis, lsis): (Vec<_>, Vec<_>) = table.indexes.iter().partition(|i| i.def.global);
    if !gsis.is_empty() {
        v["GlobalSecondaryIndexes"] = gsis
            .iter()
            .map(|i| i.def.to_json(&def.arn, i.count, i.size, def.billing))
            .collect();
    }
    if !lsis.is_empty() {
        v["LocalSecondaryIndexes"] = lsis
            .iter()
            .map(|i| i.def.to_json(&def.arn, i.count, i.size, def.billing))
            .collect();
    }
    v
}

/// `DescribeTable`.
pub fn describe_table(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let name = req_str(body, "TableName")?;
    let tables = inner.read();
    let table = tables.get(name).ok_or_else(|| table_not_found(name))?;
    Ok(json!({ "Table": describe(table, "ACTIVE") }))
}

/// `ListTables`: names in order, paged by `ExclusiveStartTableName` and `Limit` (≤ 100).
pub fn list_tables(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let limit = opt_i64(body, "Limit")?.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        let bound = if limit < 1 {
            "greater than or equal to 1"
        } else {
            "less than or equal to 100"
        };
        return Err(validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value {bound}"
        )));
    }
    let start = opt_str(body, "ExclusiveStartTableName")?;
    let tables = inner.read();
    let names: Vec<&String> = tables
        .keys()
        .filter(|n| start.is_none_or(|s| n.as_str() > s))
        .take(limit as usize + 1)
        .collect();
    let more = names.len() > limit as usize;
    let page: Vec<&String> = names.into_iter().take(limit as usize).collect();
    let mut v = json!({ "TableNames": page });
    if more && let Some(last) = page.last() {
        v["LastEvaluatedTableName"] = json!(last);
    }
    Ok(v)
}

/// `DeleteTable`.
pub fn delete_table(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let name = req_str(body, "TableName")?;
    let mut tables = inner.write();
    let table = tables.remove(name).ok_or_else(|| table_not_found(name))?;
    Ok(json!({ "TableDescription": describe(&table, "DELETING") }))
}

/// `UpdateTable`: billing mode, provisioned throughput, one GSI create or delete.
pub fn update_table(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let name = req_str(body, "TableName")?;
    let new_attrs = opt_arr(body, "AttributeDefinitions")?
        .map(|a| parse_attribute_definitions(a))
        .transpose()?
        .unwrap_or_default();
    let updates = opt_arr(body, "GlobalSecondaryIndexUpdates")?
        .cloned()
        .unwrap_or_default();
    let mut tables = inner.write();
    let table = tables.get_mut(name).ok_or_else(|| table_not_found(name))?;
    let mut def = table.def.clone();
    if body.contains_key("BillingMode") || body.contains_key("ProvisionedThroughput") {
        let (billing, tp) = billing_of(body, def.billing)?;
        if billing == Billing::PayPerRequest && def.billing != billing {
            def.pay_per_request_since = Some(inner.now_secs());
        }
        def.billing = billing;
        def.throughput = tp;
    }
    let creates_or_deletes = updates
        .iter()
        .filter(|u| u.get("Create").is_some() || u.get("Delete").is_some())
        .count();
    if creates_or_deletes > 1 {
        return Err(limit_exceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        ));
    }
    let mut attrs = def.attrs.clone();
    for (n, t) in new_attrs {
        match attrs.iter().find(|(a, _)| *a == n) {
            Some((_, existing)) if *existing != t => {
                return Err(validation(format!(
                    "One or more parameter values were invalid: Attribute {n} is already defined with a different type"
                )));
            }
            Some(_) => {}
            None => attrs.push((n, t)),
        }
    }
    let mut new_index = None;
    let mut drop_index = None;
    for u in &updates {
        let u = as_obj(u, "GlobalSecondaryIndexUpdates")?;
        if let Some(create) = opt_obj(u, "Create")? {
            let index = IndexDef::parse(create, true, &attrs)?;
            if table.index(&index.name).is_some() {
                return Err(validation(format!(
                    "One or more parameter values were invalid: Index with name: {} already exists",
                    index.name
                )));
            }
            new_index = Some(index);
        } else if let Some(delete) = opt_obj(u, "Delete")? {
            let index = req_str(delete, "IndexName")?;
            if !table
                .indexes
                .iter()
                .any(|i| i.def.global && i.def.name == index)
            {
                return Err(super::errors::resource_not_found(format!(
                    "Requested resource not found: Index: {index} not found"
                )));
            }
            drop_index = Some(index.to_owned());
        } else if let Some(update) = opt_obj(u, "Update")? {
            let index = req_str(update, "IndexName")?;
            let tp = Throughput::parse(req_obj(update, "ProvisionedThroughput")?)?;
            match table
                .indexes
                .iter_mut()
                .find(|i| i.def.global && i.def.name == index)
            {
                Some(i) => i.def.throughput = Some(tp),
                None => {
                    return Err(super::errors::resource_not_found(format!(
                        "Requested resource not found: Index: {index} not found"
                    )));
                }
            }
        }
    }
    if let Some(index) = &new_index {
        match (def.billing, index.throughput) {
            (Billing::Provisioned, None) => {
                return Err(validation(format!(
                    "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: {}",
                    index.name
                )));
            }
            (Billing::PayPerRequest, Some(_)) => {
                return Err(validation(format!(
                    "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                    index.name
                )));
            }
            _ => {}
        }
    }
    def.attrs = attrs;
    if let Some(index) = drop_index {
        table.indexes.retain(|i| i.def.name != index);
    }
    if let Some(index) = new_index {
        table.add_index(index);
    }
    // Keep only attribute definitions some key still uses.
    let keep: Vec<(String, ScalarType)> = def
        .attrs
        .iter()
        .filter(|(n, _)| {
            def.keys.contains(n) || table.indexes.iter().any(|i| i.def.keys.contains(n))
        })
        .cloned()
        .collect();
    def.attrs = keep;
    table.def = def;
    Ok(json!({ "TableDescription": describe(table, "ACTIVE") }))
}

/// `UpdateTimeToLive`.
pub fn update_time_to_live(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let name = req_str(body, "TableName")?;
    let spec = req_obj(body, "TimeToLiveSpecification")?;
    let enabled = opt_bool(spec, "Enabled")?.ok_or_else(|| super::request::missing("Enabled"))?;
    let attr = req_str(spec, "AttributeName")?;
    if attr.is_empty() {
        return Err(validation(
            "1 validation error detected: Value '' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let mut tables = inner.write();
    let table = tables.get_mut(name).ok_or_else(|| table_not_found(name))?;
    match (&table.def.ttl_attr, enabled) {
        (Some(_), true) => return Err(validation("TimeToLive is already enabled")),
        (None, false) => return Err(validation("TimeToLive is already disabled")),
        (Some(current), false) if current != attr => {
            return Err(validation(
                "TimeToLive is active on a different AttributeName: current AttributeName is "
                    .to_owned()
                    + current,
            ));
        }
        _ => {}
    }
    table.def.ttl_attr = enabled.then(|| attr.to_owned());
    Ok(json!({ "TimeToLiveSpecification": { "Enabled": enabled, "AttributeName": attr } }))
}

/// `DescribeTimeToLive`.
pub fn describe_time_to_live(inner: &Inner, body: &Body) -> Result<Value, AwsJsonError> {
    let name = req_str(body, "TableName")?;
    let tables = inner.read();
    let table = tables.get(name).ok_or_else(|| table_not_found(name))?;
    Ok(match &table.def.ttl_attr {
        Some(attr) => json!({ "TimeToLiveDescription": {
            "TimeToLiveStatus": "ENABLED", "AttributeName": attr } }),
        None => json!({ "TimeToLiveDescription": { "TimeToLiveStatus": "DISABLED" } }),
    })
}
