//! Applying an update expression to an item.
//!
//! All SET values are computed from the item as it was *before* the update (so
//! `SET a = b, b = a` swaps), then the actions are applied: SETs, REMOVEs (list
//! elements from the highest index down, so `REMOVE l[1], l[3]` refers to the list
//! before removal), ADDs and DELETEs. Errors are DynamoDB's runtime messages; on
//! error the caller discards the item (we work on the caller's copy).

use std::cmp::Reverse;

use crate::dynamodb::errors::validation;
use crate::dynamodb::types::{AttrValue, Item, check_depth};
use crate::error::AwsJsonError;

use super::path::{Path, PathElem};
use super::update::{Action, SetValue, UpdateOperand};

/// A SET or ADD into a path whose parent is missing or of the wrong type.
pub const INVALID_PATH: &str =
    "The document path provided in the update expression is invalid for update";
/// An operand of the wrong type at run time.
pub const WRONG_TYPE: &str = "An operand in the update expression has an incorrect data type";
/// A SET operand path that the item lacks.
pub const MISSING_OPERAND: &str =
    "The provided expression refers to an attribute that does not exist in the item";

/// Applies `actions` to `item`.
pub fn apply(actions: &[Action], item: &mut Item) -> Result<(), AwsJsonError> {
    let before = item.clone();
    let mut sets = Vec::new();
    for action in actions {
        if let Action::Set(path, value) = action {
            sets.push((path, set_value(value, &before)?));
        }
    }
    for (path, value) in sets {
        check_depth(&value)?;
        put(item, path, value)?;
    }
    let mut removes: Vec<&Path> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Remove(path) => Some(path),
            _ => None,
        })
        .collect();
    // Highest list index first, so earlier removals do not shift later ones.
    removes.sort_by_key(|p| Reverse(p.0.clone()));
    for path in removes {
        remove(item, path)?;
    }
    for action in actions {
        match action {
            Action::Add(path, value) => add(item, path, value)?,
            Action::Delete(path, value) => delete(item, path, value)?,
            _ => {}
        }
    }
    for action in actions {
        if let Some(value) = item.get(action.path().top()) {
            check_depth(value)?;
        }
    }
    Ok(())
}

fn set_value(value: &SetValue, item: &Item) -> Result<AttrValue, AwsJsonError> {
    match value {
        SetValue::Operand(op) => operand(op, item),
        SetValue::Plus(a, b) | SetValue::Minus(a, b) => {
            let (AttrValue::N(x), AttrValue::N(y)) = (operand(a, item)?, operand(b, item)?) else {
                return Err(validation(WRONG_TYPE));
            };
            let result = if matches!(value, SetValue::Plus(..)) {
                x.add(&y)?
            } else {
                x.sub(&y)?
            };
            Ok(AttrValue::N(result))
        }
    }
}

fn operand(op: &UpdateOperand, item: &Item) -> Result<AttrValue, AwsJsonError> {
    match op {
        UpdateOperand::Value(v) => Ok(v.clone()),
        UpdateOperand::Path(path) => path
            .get(item)
            .cloned()
            .ok_or_else(|| validation(MISSING_OPERAND)),
        UpdateOperand::IfNotExists(path, fallback) => match path.get(item) {
            Some(v) => Ok(v.clone()),
            None => operand(fallback, item),
        },
        UpdateOperand::ListAppend(a, b) => {
            let (AttrValue::L(mut first), AttrValue::L(second)) =
                (operand(a, item)?, operand(b, item)?)
            else {
                return Err(validation(WRONG_TYPE));
            };
            first.extend(second);
            Ok(AttrValue::L(first))
        }
    }
}

/// The container holding the path's last element, or `None` when a parent is missing
/// or not a container of the kind the next step needs.
fn parent_mut<'a>(item: &'a mut Item, path: &Path) -> Option<&'a mut AttrValue> {
    let (first, rest) = path.0.split_first()?;
    let PathElem::Name(name) = first else {
        return None;
    };
    let mut current = item.get_mut(name)?;
    for elem in rest.iter().take(rest.len().saturating_sub(1)) {
        current = match (current, elem) {
            (AttrValue::M(map), PathElem::Name(k)) => map.get_mut(k)?,
            (AttrValue::L(list), PathElem::Index(i)) => list.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

fn last(path: &Path) -> Option<&PathElem> {
    path.0.last()
}

/// Writes `value` at `path`; a list index past the end appends.
fn put(item: &mut Item, path: &Path, value: AttrValue) -> Result<(), AwsJsonError> {
    if path.is_top_level() {
        item.insert(path.top().to_owned(), value);
        return Ok(());
    }
    let parent = parent_mut(item, path).ok_or_else(|| validation(INVALID_PATH))?;
    match (parent, last(path)) {
        (AttrValue::M(map), Some(PathElem::Name(k))) => {
            map.insert(k.clone(), value);
        }
        (AttrValue::L(list), Some(PathElem::Index(i))) => match list.get_mut(*i) {
            Some(slot) => *slot = value,
            None => list.push(value),
        },
        _ => return Err(validation(INVALID_PATH)),
    }
    Ok(())
}

/// The current value at `path` (None when absent), failing when a parent is missing.
fn current(item: &mut Item, path: &Path) -> Result<Option<AttrValue>, AwsJsonError> {
    if path.is_top_level() {
        return Ok(item.get(path.top()).cloned());
    }
    let parent = parent_mut(item, path).ok_or_else(|| validation(INVALID_PATH))?;
    match (&*parent, last(path)) {
        (AttrValue::M(map), Some(PathElem::Name(k))) => Ok(map.get(k).cloned()),
        (AttrValue::L(list), Some(PathElem::Index(i))) => Ok(list.get(*i).cloned()),
        _ => Err(validation(INVALID_PATH)),
    }
}

fn remove(item: &mut Item, path: &Path) -> Result<(), AwsJsonError> {
    if path.is_top_level() {
        item.remove(path.top());
        return Ok(());
    }
    let parent = parent_mut(item, path).ok_or_else(|| validation(INVALID_PATH))?;
    match (parent, last(path)) {
        (AttrValue::M(map), Some(PathElem::Name(k))) => {
            map.remove(k);
        }
        (AttrValue::L(list), Some(PathElem::Index(i))) => {
            if *i < list.len() {
                list.remove(*i);
            }
        }
        _ => return Err(validation(INVALID_PATH)),
    }
    Ok(())
}

fn add(item: &mut Item, path: &Path, value: &AttrValue) -> Result<(), AwsJsonError> {
    let updated = match (current(item, path)?, value) {
        (None, v) => v.clone(),
        (Some(AttrValue::N(x)), AttrValue::N(y)) => AttrValue::N(x.add(y)?),
        (Some(AttrValue::Ss(mut x)), AttrValue::Ss(y)) => {
            x.extend(y.iter().cloned());
            normalized(AttrValue::Ss(x))
        }
        (Some(AttrValue::Ns(mut x)), AttrValue::Ns(y)) => {
            x.extend(y.iter().cloned());
            normalized(AttrValue::Ns(x))
        }
        (Some(AttrValue::Bs(mut x)), AttrValue::Bs(y)) => {
            x.extend(y.iter().cloned());
            normalized(AttrValue::Bs(x))
        }
        _ => return Err(validation(WRONG_TYPE)),
    };
    put(item, path, updated)
}

fn normalized(mut value: AttrValue) -> AttrValue {
    value.normalize_set();
    value
}

fn delete(item: &mut Item, path: &Path, value: &AttrValue) -> Result<(), AwsJsonError> {
    let remaining = match (current(item, path)?, value) {
        (None, _) => return Ok(()),
        (Some(AttrValue::Ss(x)), AttrValue::Ss(y)) => {
            let kept: Vec<_> = x.into_iter().filter(|e| !y.contains(e)).collect();
            (!kept.is_empty()).then_some(AttrValue::Ss(kept))
        }
        (Some(AttrValue::Ns(x)), AttrValue::Ns(y)) => {
            let kept: Vec<_> = x.into_iter().filter(|e| !y.contains(e)).collect();
            (!kept.is_empty()).then_some(AttrValue::Ns(kept))
        }
        (Some(AttrValue::Bs(x)), AttrValue::Bs(y)) => {
            let kept: Vec<_> = x.into_iter().filter(|e| !y.contains(e)).collect();
            (!kept.is_empty()).then_some(AttrValue::Bs(kept))
        }
        _ => return Err(validation(WRONG_TYPE)),
    };
    match remaining {
        Some(set) => put(item, path, set),
        // Removing the last element removes the attribute: DynamoDB has no empty sets.
        None => remove(item, path),
    }
}
