//! The transaction as it travels on the `transactions` stream, and its value types.
//!
//! The wire form is one flat JSON object per Kinesis record (flat so that SQL engines —
//! the Flink comparison reads the same JSON Lines — can map it without nested types):
//!
//! ```json
//! {"transaction_id":"tx-20261121-00000001","account_id":"acc-0000042","card_id":"card-0000042-1",
//!  "merchant_id":"m-00007","mcc":"5411","product_id":"p-00007-03","amount_minor":1250,
//!  "currency":"EUR","event_time":"2026-11-21T08:15:02.113Z","country":"DE",
//!  "lat":52.51234,"lon":13.40012,"device_id":"dev-0000042-1","channel":"pos"}
//! ```
//!
//! Amounts are integers in the currency's minor unit ([`Money`]); floats never carry money.
//! Coordinates are kept as integer micro-degrees so that the generator's output is
//! bit-identical everywhere; they are written as JSON numbers with up to six decimals.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::reference::{KNOWN_CURRENCIES, country_known, currency_exponent};
use crate::time_fmt::format_event_time;

/// JSON field names of the wire form, defined once (validation reports them by name).
pub mod field {
    /// Unique id of the transaction (duplicates re-send the same id byte-identically).
    pub const TRANSACTION_ID: &str = "transaction_id";
    /// Account (the Kinesis partition key).
    pub const ACCOUNT_ID: &str = "account_id";
    /// Card used.
    pub const CARD_ID: &str = "card_id";
    /// Merchant paid.
    pub const MERCHANT_ID: &str = "merchant_id";
    /// ISO 18245 merchant category code, four digits.
    pub const MCC: &str = "mcc";
    /// Product bought (belongs to one merchant).
    pub const PRODUCT_ID: &str = "product_id";
    /// Amount in minor units of `currency`, a positive integer.
    pub const AMOUNT_MINOR: &str = "amount_minor";
    /// ISO 4217 alphabetic code.
    pub const CURRENCY: &str = "currency";
    /// RFC 3339 timestamp of the transaction (event time).
    pub const EVENT_TIME: &str = "event_time";
    /// ISO 3166-1 alpha-2 code of where the transaction happened.
    pub const COUNTRY: &str = "country";
    /// Latitude in degrees.
    pub const LAT: &str = "lat";
    /// Longitude in degrees.
    pub const LON: &str = "lon";
    /// Device the cardholder used.
    pub const DEVICE_ID: &str = "device_id";
    /// `pos`, `ecommerce`, `atm` or `mobile`.
    pub const CHANNEL: &str = "channel";
    /// Every field, in wire order.
    pub const ALL: [&str; 14] = [
        TRANSACTION_ID,
        ACCOUNT_ID,
        CARD_ID,
        MERCHANT_ID,
        MCC,
        PRODUCT_ID,
        AMOUNT_MINOR,
        CURRENCY,
        EVENT_TIME,
        COUNTRY,
        LAT,
        LON,
        DEVICE_ID,
        CHANNEL,
    ];
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id (validation guarantees it is non-empty on decoded records).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// Unique transaction id; the deduplication key.
    TransactionId
);
string_id!(
    /// Account id; the partition key of the stream, so one account's records stay in order.
    AccountId
);
string_id!(
    /// Card id (an account has one or two cards).
    CardId
);
string_id!(
    /// Merchant id.
    MerchantId
);
string_id!(
    /// Product id (each product belongs to exactly one merchant).
    ProductId
);
string_id!(
    /// Device id of the cardholder's device.
    DeviceId
);

/// ISO 18245 merchant category code (four digits, kept as text because leading zeros count).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Mcc(String);

impl Mcc {
    /// A code if `code` is exactly four ASCII digits.
    pub fn parse(code: &str) -> Option<Self> {
        (code.len() == 4 && code.bytes().all(|b| b.is_ascii_digit())).then(|| Self(code.to_owned()))
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 currency from the accepted list ([`KNOWN_CURRENCIES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(&'static str);

impl Currency {
    /// Euro, the home currency of every generated account.
    pub const EUR: Self = Self("EUR");

    /// The currency for an alphabetic code, if it is on the accepted list.
    pub fn parse(code: &str) -> Option<Self> {
        KNOWN_CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, _)| Self(c))
    }
    /// The alphabetic code.
    pub fn code(self) -> &'static str {
        self.0
    }
    /// Digits after the decimal point of the minor unit (2 for EUR, 0 for JPY).
    pub fn exponent(self) -> u32 {
        currency_exponent(self.0).unwrap_or(2)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown currency `{code}`")))
    }
}

/// An amount of money: integer minor units plus currency. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units (cents for EUR, yen for JPY).
    pub minor: i64,
    /// Currency of the amount.
    pub currency: Currency,
}

impl Money {
    /// `minor` units of `currency`.
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }
}

impl fmt::Display for Money {
    /// `12.34 EUR`, `1500 JPY`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = self.currency.exponent();
        if exp == 0 {
            return write!(f, "{} {}", self.minor, self.currency);
        }
        let unit = 10_i64.pow(exp);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let unit = unit.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            abs / unit,
            abs % unit,
            self.currency,
            width = exp as usize
        )
    }
}

/// An ISO 3166-1 alpha-2 country code (officially assigned codes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Used only where a static table entry would somehow not parse (never in practice).
    pub const FALLBACK: Self = Self(*b"DE");

    /// The country for a code, if it is an assigned alpha-2 code (upper case).
    pub fn parse(code: &str) -> Option<Self> {
        let bytes: [u8; 2] = code.as_bytes().try_into().ok()?;
        country_known(code).then_some(Self(bytes))
    }
    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from validated ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A location in integer micro-degrees (exact, platform-independent arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeoPoint {
    /// Latitude × 10⁶, in −90,000,000 ..= 90,000,000.
    pub lat_micro: i32,
    /// Longitude × 10⁶, in −180,000,000 ..= 180,000,000.
    pub lon_micro: i32,
}

impl GeoPoint {
    /// Latitude in degrees.
    pub fn lat(self) -> f64 {
        f64::from(self.lat_micro) / 1e6
    }
    /// Longitude in degrees.
    pub fn lon(self) -> f64 {
        f64::from(self.lon_micro) / 1e6
    }
    /// A point from degrees (rounded to micro-degrees), if in range.
    pub fn from_degrees(lat: f64, lon: f64) -> Option<Self> {
        let in_range = (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon);
        // The casts cannot overflow once the ranges are checked.
        #[allow(clippy::cast_possible_truncation)]
        in_range.then(|| Self {
            lat_micro: (lat * 1e6).round() as i32,
            lon_micro: (lon * 1e6).round() as i32,
        })
    }
    /// Great-circle distance in kilometres (haversine, mean Earth radius 6,371 km).
    pub fn distance_km(self, other: Self) -> f64 {
        let (la1, lo1) = (self.lat().to_radians(), self.lon().to_radians());
        let (la2, lo2) = (other.lat().to_radians(), other.lon().to_radians());
        let h = ((la2 - la1) / 2.0).sin().powi(2)
            + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * 6371.0 * h.sqrt().asin()
    }
}

/// Event time: milliseconds since the Unix epoch, UTC; written as RFC 3339 with ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventTime(pub i64);

impl EventTime {
    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for EventTime {
    /// `2026-11-21T08:15:02.113Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_event_time(self.0))
    }
}

/// How the card was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Card present at a point-of-sale terminal.
    Pos,
    /// Card not present, online.
    Ecommerce,
    /// Cash withdrawal.
    Atm,
    /// Mobile wallet / in-app.
    Mobile,
}

impl Channel {
    /// Every channel, in wire-name order of the docs.
    pub const ALL: [Self; 4] = [Self::Pos, Self::Ecommerce, Self::Atm, Self::Mobile];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pos => "pos",
            Self::Ecommerce => "ecommerce",
            Self::Atm => "atm",
            Self::Mobile => "mobile",
        }
    }
    /// The channel for a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// One card transaction, as validated from the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// Unique id (the deduplication key).
    pub transaction_id: TransactionId,
    /// Account, the partition key.
    pub account_id: AccountId,
    /// Card used.
    pub card_id: CardId,
    /// Merchant paid.
    pub merchant_id: MerchantId,
    /// Merchant category code.
    pub mcc: Mcc,
    /// Product bought.
    pub product_id: ProductId,
    /// Amount, positive.
    pub amount: Money,
    /// When it happened.
    pub event_time: EventTime,
    /// Where it happened (country).
    pub country: CountryCode,
    /// Where it happened (coordinates).
    pub location: GeoPoint,
    /// Cardholder device.
    pub device_id: DeviceId,
    /// How.
    pub channel: Channel,
}

/// The flat wire form, borrowed for serialization (field order = [`field::ALL`]).
#[derive(Serialize)]
struct Wire<'a> {
    transaction_id: &'a str,
    account_id: &'a str,
    card_id: &'a str,
    merchant_id: &'a str,
    mcc: &'a str,
    product_id: &'a str,
    amount_minor: i64,
    currency: &'a str,
    event_time: String,
    country: &'a str,
    lat: f64,
    lon: f64,
    device_id: &'a str,
    channel: Channel,
}

impl Transaction {
    /// The wire JSON (one line, no trailing newline). Deterministic: same value, same bytes.
    pub fn to_json(&self) -> Vec<u8> {
        let wire = Wire {
            transaction_id: self.transaction_id.as_str(),
            account_id: self.account_id.as_str(),
            card_id: self.card_id.as_str(),
            merchant_id: self.merchant_id.as_str(),
            mcc: self.mcc.as_str(),
            product_id: self.product_id.as_str(),
            amount_minor: self.amount.minor,
            currency: self.amount.currency.code(),
            event_time: format_event_time(self.event_time.0),
            country: self.country.as_str(),
            lat: self.location.lat(),
            lon: self.location.lon(),
            device_id: self.device_id.as_str(),
            channel: self.channel,
        };
        // A struct of strings and numbers always serializes.
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// The wire JSON as a generic value (the generator derives malformed records from it).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_slice(&self.to_json()).unwrap_or(serde_json::Value::Null)
    }

    /// Serializes as [`Self::to_value`], computed only if it is serialized: a late event's
    /// payload, which an operator hands over for every event but which is rarely needed
    /// (building the value eagerly was 5% of R1's CPU on the Flink benchmark).
    pub fn lazy_value(&self) -> LazyValue<'_> {
        LazyValue(self)
    }
}

/// [`Transaction::lazy_value`].
#[derive(Debug, Clone, Copy)]
pub struct LazyValue<'a>(&'a Transaction);

impl Serialize for LazyValue<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.to_value().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_displays_in_major_units_with_the_currency_exponent() {
        assert_eq!(Money::new(1234, Currency::EUR).to_string(), "12.34 EUR");
        assert_eq!(Money::new(5, Currency::EUR).to_string(), "0.05 EUR");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(1500, jpy).to_string(), "1500 JPY");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::new(-1001, kwd).to_string(), "-1.001 KWD");
    }

    #[test]
    fn codes_outside_the_standards_are_refused() {
        assert!(CountryCode::parse("DE").is_some());
        assert!(CountryCode::parse("ZZ").is_none());
        assert!(CountryCode::parse("de").is_none());
        assert!(Currency::parse("XYZ").is_none());
        assert!(Mcc::parse("541").is_none());
        assert!(Mcc::parse("0742").is_some());
    }

    #[test]
    fn distance_between_paris_and_new_york_is_about_5840_km() {
        let paris = GeoPoint::from_degrees(48.856613, 2.352222).unwrap();
        let nyc = GeoPoint::from_degrees(40.712776, -74.005974).unwrap();
        let d = paris.distance_km(nyc);
        assert!((5800.0..5880.0).contains(&d), "{d}");
    }
}
