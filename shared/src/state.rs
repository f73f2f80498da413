//! Keyed state primitives: [`ValueState`], [`MapState`] and [`ListState`], each with
//! optional TTL, composed by the operator into one serde struct (its [`KeyedState`]).
//!
//! ## Storage and the 400 KB limit
//! A key's whole state is serialized (JSON) into ONE DynamoDB item per operator and key,
//! so a key's update is one conditional write. DynamoDB items are limited to 400 KB.
//! The committer checks the serialized size against `max_state_bytes` (default 350 KB,
//! leaving room for the key, version and high-water marks) after applying each record
//! that would overflow: the record whose effect makes the state too large is rolled
//! back and dead-lettered with [`Error::StateTooLarge`](crate::Error::StateTooLarge), and
//! the state keeps its previous, valid value. There is no spilling into child items:
//! an oversized state is a clear, per-record error, never a truncated or corrupt item.
//! Bound your maps and lists (TTL, `ListState::truncate_front`) to stay below it.
//!
//! ## TTL
//! Entries carry an optional expiry (epoch ms). The framework calls
//! [`KeyedState::expire`] with the injected clock's "now" before handing the state to
//! the operator, so expired entries are never observed even though DynamoDB deletes
//! expired items late. [`KeyedState::lifetime`] tells the framework when the whole item
//! may go: when every entry of every primitive has an expiry, the state item carries a
//! DynamoDB `ttl` attribute (epoch seconds) = the latest of them, so DynamoDB's free TTL
//! deletion removes it (late, which the read-side filtering makes harmless). A state with
//! pending timers never gets a TTL (the timer must still find it), and neither does an
//! empty state (it still holds the key's high-water marks).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::ids::EventTime;

/// An operator's per-key state: a serde struct, usually made of the primitives below.
pub trait KeyedState:
    Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static
{
    /// Drops entries expired at `now`. Call `expire` on each primitive field.
    fn expire(&mut self, now: EventTime) {
        let _ = now;
    }

    /// When the whole state may be deleted: combine the primitives' lifetimes with
    /// [`Lifetime::and`]. The default, [`Lifetime::Forever`], never expires the item.
    fn lifetime(&self) -> Lifetime {
        Lifetime::Forever
    }
}

/// How long a primitive (or a whole state) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Holds nothing.
    Empty,
    /// Everything in it expires by this time.
    Until(EventTime),
    /// Something in it never expires.
    Forever,
}

impl Lifetime {
    /// The lifetime of two parts together: the longer one.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Forever, _) | (_, Self::Forever) => Self::Forever,
            (Self::Empty, x) | (x, Self::Empty) => x,
            (Self::Until(a), Self::Until(b)) => Self::Until(a.max(b)),
        }
    }

    fn of_entries(mut expiries: impl Iterator<Item = Option<i64>>) -> Self {
        expiries
            .try_fold(Self::Empty, |acc, exp| {
                exp.map(|t| acc.and(Self::Until(EventTime(t))))
            })
            .unwrap_or(Self::Forever)
    }

    /// The DynamoDB `ttl` attribute (epoch seconds, rounded up) for an item with this
    /// lifetime, if it may expire at all.
    pub fn ttl_seconds(self) -> Option<i64> {
        match self {
            Self::Until(t) => Some(t.0.div_euclid(1000) + i64::from(t.0.rem_euclid(1000) != 0)),
            Self::Empty | Self::Forever => None,
        }
    }
}

fn live(expires_at: Option<i64>, now: EventTime) -> bool {
    expires_at.is_none_or(|t| t > now.0)
}

/// One value with optional expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub struct ValueState<T> {
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    value: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

impl<T> Default for ValueState<T> {
    fn default() -> Self {
        Self {
            value: None,
            expires_at: None,
        }
    }
}

impl<T> ValueState<T> {
    /// The current value.
    pub fn get(&self) -> Option<&T> {
        self.value.as_ref()
    }

    /// Mutable access, inserting `T::default()` when empty.
    pub fn get_mut_or_default(&mut self) -> &mut T
    where
        T: Default,
    {
        self.value.get_or_insert_with(T::default)
    }

    /// Sets the value without expiry.
    pub fn set(&mut self, value: T) {
        self.value = Some(value);
        self.expires_at = None;
    }

    /// Sets the value, expiring at `expires_at`.
    pub fn set_with_expiry(&mut self, value: T, expires_at: EventTime) {
        self.value = Some(value);
        self.expires_at = Some(expires_at.0);
    }

    /// Clears the value.
    pub fn clear(&mut self) {
        self.value = None;
        self.expires_at = None;
    }

    /// Drops the value if it expired at `now`.
    pub fn expire(&mut self, now: EventTime) {
        if !live(self.expires_at, now) {
            self.clear();
        }
    }

    /// When the value goes away by itself.
    pub fn lifetime(&self) -> Lifetime {
        match (&self.value, self.expires_at) {
            (None, _) => Lifetime::Empty,
            (Some(_), exp) => Lifetime::of_entries(std::iter::once(exp)),
        }
    }
}

/// An entry of a map or list with optional expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry<V> {
    v: V,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
}

/// A sorted map with optional per-entry expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize + Ord, V: Serialize",
    deserialize = "K: DeserializeOwned + Ord, V: DeserializeOwned"
))]
pub struct MapState<K, V> {
    #[serde(default = "BTreeMap::new")]
    entries: BTreeMap<K, Entry<V>>,
}

impl<K: Ord, V> Default for MapState<K, V> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }
}

impl<K: Ord, V> MapState<K, V> {
    /// The value under `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|e| &e.v)
    }

    /// Inserts without expiry, returning the previous value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.entries
            .insert(
                key,
                Entry {
                    v: value,
                    exp: None,
                },
            )
            .map(|e| e.v)
    }

    /// Inserts, expiring at `expires_at`.
    pub fn insert_with_expiry(&mut self, key: K, value: V, expires_at: EventTime) {
        self.entries.insert(
            key,
            Entry {
                v: value,
                exp: Some(expires_at.0),
            },
        );
    }

    /// Mutable access to the value under `key`, inserting `V::default()` when absent.
    pub fn entry_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        &mut self
            .entries
            .entry(key)
            .or_insert_with(|| Entry {
                v: V::default(),
                exp: None,
            })
            .v
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.entries.remove(key).map(|e| e.v)
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, e)| (k, &e.v))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops entries expired at `now`.
    pub fn expire(&mut self, now: EventTime) {
        self.entries.retain(|_, e| live(e.exp, now));
    }

    /// When every entry has gone away by itself.
    pub fn lifetime(&self) -> Lifetime {
        Lifetime::of_entries(self.entries.values().map(|e| e.exp))
    }
}

/// An append-ordered list with optional per-item expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub struct ListState<T> {
    #[serde(default = "Vec::new")]
    items: Vec<Entry<T>>,
}

impl<T> Default for ListState<T> {
    fn default() -> Self {
        Self { items: Vec::new() }
    }
}

impl<T> ListState<T> {
    /// Appends without expiry.
    pub fn push(&mut self, item: T) {
        self.items.push(Entry { v: item, exp: None });
    }

    /// Appends, expiring at `expires_at`.
    pub fn push_with_expiry(&mut self, item: T, expires_at: EventTime) {
        self.items.push(Entry {
            v: item,
            exp: Some(expires_at.0),
        });
    }

    /// Items in append order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter().map(|e| &e.v)
    }

    /// Keeps only the newest `max` items (bounding the item size).
    pub fn truncate_front(&mut self, max: usize) {
        let excess = self.items.len().saturating_sub(max);
        self.items.drain(..excess);
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Removes every item.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// Drops items expired at `now`.
    pub fn expire(&mut self, now: EventTime) {
        self.items.retain(|e| live(e.exp, now));
    }

    /// When every item has gone away by itself.
    pub fn lifetime(&self) -> Lifetime {
        Lifetime::of_entries(self.items.iter().map(|e| e.exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    struct Example {
        count: ValueState<u64>,
        by_merchant: MapState<String, i64>,
        recent: ListState<u32>,
    }

    impl KeyedState for Example {
        fn expire(&mut self, now: EventTime) {
            self.count.expire(now);
            self.by_merchant.expire(now);
            self.recent.expire(now);
        }

        fn lifetime(&self) -> Lifetime {
            self.count
                .lifetime()
                .and(self.by_merchant.lifetime())
                .and(self.recent.lifetime())
        }
    }

    #[test]
    fn the_item_lifetime_is_the_latest_expiry_unless_something_lives_forever() {
        let mut s = Example::default();
        assert_eq!(s.lifetime(), Lifetime::Empty);
        s.count.set_with_expiry(1, EventTime(5_000));
        s.recent.push_with_expiry(1, EventTime(9_001));
        assert_eq!(s.lifetime(), Lifetime::Until(EventTime(9_001)));
        assert_eq!(
            s.lifetime().ttl_seconds(),
            Some(10),
            "rounded up to whole seconds"
        );
        s.by_merchant.insert("forever".into(), 2);
        assert_eq!(s.lifetime(), Lifetime::Forever);
        assert_eq!(s.lifetime().ttl_seconds(), None);
    }

    #[test]
    fn composed_state_round_trips_through_json() {
        let mut s = Example::default();
        *s.count.get_mut_or_default() += 3;
        *s.by_merchant.entry_or_default("m1".into()) += 10;
        s.recent.push(7);
        let json = serde_json::to_string(&s).unwrap();
        let back: Example = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.count.get(), Some(&3));
    }

    #[test]
    fn expired_entries_disappear_and_live_ones_stay() {
        let mut s = Example::default();
        s.count.set_with_expiry(1, EventTime(100));
        s.by_merchant
            .insert_with_expiry("old".into(), 1, EventTime(100));
        s.by_merchant.insert("forever".into(), 2);
        s.recent.push_with_expiry(1, EventTime(100));
        s.recent.push_with_expiry(2, EventTime(300));
        s.expire(EventTime(200));
        assert_eq!(s.count.get(), None);
        assert_eq!(s.by_merchant.len(), 1);
        assert_eq!(s.recent.iter().copied().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn list_truncation_keeps_the_newest_items() {
        let mut l = ListState::default();
        (0..10).for_each(|i| l.push(i));
        l.truncate_front(3);
        assert_eq!(l.iter().copied().collect::<Vec<_>>(), vec![7, 8, 9]);
    }
}
