//! The generator's compact internal transaction (ids are indices; strings are made only
//! when a record is emitted, so two million planned transactions stay small).

use crate::model::{Channel, CountryCode, Currency, GeoPoint};

/// Which device of the account made the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceRef {
    /// One of the account's own devices (0-based).
    Known(u8),
    /// A device the account has never used (the fraudster's).
    Unseen,
}

/// Marker for "not part of a fraud case".
pub const NO_CASE: u32 = u32::MAX;

/// One planned, valid transaction.
#[derive(Debug, Clone, Copy)]
pub struct Tx {
    /// Event time, epoch ms.
    pub time_ms: i64,
    /// Account index.
    pub account: u32,
    /// Card number within the account (0-based).
    pub card: u8,
    /// Device used.
    pub device: DeviceRef,
    /// Merchant index.
    pub merchant: u32,
    /// Global product index.
    pub product: u32,
    /// Amount in minor units of `currency`.
    pub amount: i64,
    /// Currency.
    pub currency: Currency,
    /// Country where it happened.
    pub country: CountryCode,
    /// Where it happened.
    pub location: GeoPoint,
    /// Channel.
    pub channel: Channel,
    /// Fraud case index, or [`NO_CASE`].
    pub case: u32,
}
