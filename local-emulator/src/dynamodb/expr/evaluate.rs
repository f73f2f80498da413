//! Evaluating conditions against an item (or against no item, for writes to a key that
//! does not exist yet).
//!
//! DynamoDB never fails at evaluation time: a missing attribute or a comparison of
//! mismatched types simply makes the comparison false — except `<>`, which is true
//! whenever the two sides are not equal, including when either side is missing.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::dynamodb::number::Number;
use crate::dynamodb::types::{AttrValue, Item, compare_scalar};

use super::condition::{CmpOp, Cond, Operand};

/// Evaluates `cond`; `item` is `None` when the item does not exist.
pub fn evaluate(cond: &Cond, item: Option<&Item>) -> bool {
    match cond {
        Cond::And(a, b) => evaluate(a, item) && evaluate(b, item),
        Cond::Or(a, b) => evaluate(a, item) || evaluate(b, item),
        Cond::Not(a) => !evaluate(a, item),
        Cond::Exists(path) => item.and_then(|i| path.get(i)).is_some(),
        Cond::NotExists(path) => item.and_then(|i| path.get(i)).is_none(),
        Cond::Compare(op, a, b) => {
            let (a, b) = (value(a, item), value(b, item));
            match op {
                CmpOp::Eq => matches!((&a, &b), (Some(x), Some(y)) if x == y),
                // A missing side is unequal to anything, even another missing side
                // (verified against DynamoDB by ExtendDB PR #5).
                CmpOp::Ne => !matches!((&a, &b), (Some(x), Some(y)) if x == y),
                _ => {
                    let ordering = match (&a, &b) {
                        (Some(x), Some(y)) => compare_scalar(x, y),
                        _ => None,
                    };
                    match (op, ordering) {
                        (CmpOp::Lt, Some(o)) => o == Ordering::Less,
                        (CmpOp::Le, Some(o)) => o != Ordering::Greater,
                        (CmpOp::Gt, Some(o)) => o == Ordering::Greater,
                        (CmpOp::Ge, Some(o)) => o != Ordering::Less,
                        _ => false,
                    }
                }
            }
        }
        Cond::Between(x, low, high) => {
            let (Some(x), Some(low), Some(high)) =
                (value(x, item), value(low, item), value(high, item))
            else {
                return false;
            };
            compare_scalar(&x, &low).is_some_and(|o| o != Ordering::Less)
                && compare_scalar(&x, &high).is_some_and(|o| o != Ordering::Greater)
        }
        Cond::In(x, list) => {
            let Some(x) = value(x, item) else {
                return false;
            };
            list.iter()
                .any(|candidate| value(candidate, item).is_some_and(|c| c == x))
        }
        Cond::Type(path, type_name) => match (value(path, item), value(type_name, item)) {
            (Some(v), Some(t)) => matches!(&*t, AttrValue::S(name) if name == v.type_name()),
            _ => false,
        },
        Cond::BeginsWith(a, b) => match (value(a, item), value(b, item)) {
            (Some(a), Some(b)) => match (&*a, &*b) {
                (AttrValue::S(s), AttrValue::S(prefix)) => s.starts_with(prefix.as_str()),
                (AttrValue::B(s), AttrValue::B(prefix)) => s.starts_with(prefix),
                _ => false,
            },
            _ => false,
        },
        Cond::Contains(a, b) => match (value(a, item), value(b, item)) {
            (Some(a), Some(b)) => contains(&a, &b),
            _ => false,
        },
    }
}

/// `contains`: substring of a string, byte run of a binary, member of a set, element
/// of a list.
fn contains(haystack: &AttrValue, needle: &AttrValue) -> bool {
    match (haystack, needle) {
        (AttrValue::S(s), AttrValue::S(part)) => s.contains(part.as_str()),
        (AttrValue::B(s), AttrValue::B(part)) => {
            part.is_empty() || s.windows(part.len()).any(|w| w == part.as_slice())
        }
        (AttrValue::Ss(set), AttrValue::S(member)) => set.contains(member),
        (AttrValue::Ns(set), AttrValue::N(member)) => set.contains(member),
        (AttrValue::Bs(set), AttrValue::B(member)) => set.contains(member),
        (AttrValue::L(list), element) => list.contains(element),
        _ => false,
    }
}

/// The operand's value: borrowed from the item or the expression, or computed (`size`).
fn value<'a>(operand: &'a Operand, item: Option<&'a Item>) -> Option<Cow<'a, AttrValue>> {
    match operand {
        Operand::Path(path) => item.and_then(|i| path.get(i)).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(inner) => {
            let len = match &*value(inner, item)? {
                AttrValue::S(s) => s.len(),
                AttrValue::B(b) => b.len(),
                AttrValue::L(l) => l.len(),
                AttrValue::M(m) => m.len(),
                AttrValue::Ss(s) => s.len(),
                AttrValue::Ns(s) => s.len(),
                AttrValue::Bs(s) => s.len(),
                AttrValue::N(_) | AttrValue::Bool(_) | AttrValue::Null => return None,
            };
            Some(Cow::Owned(AttrValue::N(Number::from_u64(len as u64))))
        }
    }
}
