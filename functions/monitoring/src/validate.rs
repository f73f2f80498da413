//! Bytes from the stream → a [`Transaction`], or the typed reason it was refused.
//!
//! Every refused record becomes a dead letter whose reason is the [`RejectReason`]'s
//! `Display` text, grouped by [`RejectReason::code`]. Checks run in wire-field order and
//! the first failure wins, so a record with a single defect always gets the same reason
//! (the generator relies on that to state the expected reason of each malformed record).
//! Unknown extra fields are tolerated (producers may add fields before consumers learn them).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{
    AccountId, CardId, Channel, CountryCode, Currency, DeviceId, EventTime, GeoPoint, Mcc,
    MerchantId, Money, ProductId, Transaction, TransactionId, field,
};
use crate::time_fmt::parse_event_time;

/// Why bytes that are not JSON were refused (coarse on purpose: stable across serde_json
/// versions, unlike its positional messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonProblem {
    /// The input ends before the JSON value is complete.
    Truncated,
    /// Anything else that is not JSON (stray characters, bad escapes, invalid UTF-8).
    Syntax,
}

impl std::fmt::Display for JsonProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "input ends before the value is complete",
            Self::Syntax => "not valid JSON",
        })
    }
}

/// Why a record was refused. `Display` is the dead-letter reason text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RejectReason {
    /// The bytes are not JSON.
    #[error("malformed JSON: {problem}")]
    MalformedJson {
        /// What kind of not-JSON.
        problem: JsonProblem,
    },
    /// JSON, but not an object.
    #[error("record is not a JSON object")]
    NotAnObject,
    /// A required field is absent (or null).
    #[error("missing field `{field}`")]
    MissingField {
        /// Wire name of the field.
        field: String,
    },
    /// A field has the wrong JSON type.
    #[error("wrong type for `{field}`: expected {expected}")]
    WrongType {
        /// Wire name of the field.
        field: String,
        /// What was expected, in words.
        expected: String,
    },
    /// An id or code field is the empty string.
    #[error("empty value for `{field}`")]
    EmptyField {
        /// Wire name of the field.
        field: String,
    },
    /// Zero or negative amount.
    #[error("non-positive amount {amount_minor} (amounts are positive minor units)")]
    NonPositiveAmount {
        /// The amount sent.
        amount_minor: i64,
    },
    /// Currency not on the accepted ISO 4217 list.
    #[error("unknown currency `{currency}`")]
    UnknownCurrency {
        /// The code sent.
        currency: String,
    },
    /// Not an ISO 3166-1 alpha-2 code.
    #[error("invalid country `{country}` (expected an ISO 3166-1 alpha-2 code)")]
    InvalidCountry {
        /// The code sent.
        country: String,
    },
    /// Merchant category code is not four digits.
    #[error("invalid merchant category code `{mcc}` (expected four digits)")]
    InvalidMcc {
        /// The code sent.
        mcc: String,
    },
    /// Latitude or longitude out of range.
    #[error("location out of range: lat {lat}, lon {lon}")]
    InvalidLocation {
        /// Latitude sent.
        lat: f64,
        /// Longitude sent.
        lon: f64,
    },
    /// Channel not one of pos, ecommerce, atm, mobile.
    #[error("unknown channel `{channel}` (expected pos, ecommerce, atm or mobile)")]
    UnknownChannel {
        /// The channel sent.
        channel: String,
    },
    /// Event time is not RFC 3339.
    #[error("event time `{value}` is not an RFC 3339 timestamp")]
    UnparseableEventTime {
        /// The text sent.
        value: String,
    },
    /// Event time lies further ahead of processing time than clocks can drift.
    #[error("event time {event_time} is too far ahead of processing time")]
    EventTimeInFuture {
        /// The event time sent.
        event_time: String,
    },
}

impl RejectReason {
    /// Stable snake_case code for grouping dead letters (`missing_field`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson { .. } => "malformed_json",
            Self::NotAnObject => "not_an_object",
            Self::MissingField { .. } => "missing_field",
            Self::WrongType { .. } => "wrong_type",
            Self::EmptyField { .. } => "empty_field",
            Self::NonPositiveAmount { .. } => "non_positive_amount",
            Self::UnknownCurrency { .. } => "unknown_currency",
            Self::InvalidCountry { .. } => "invalid_country",
            Self::InvalidMcc { .. } => "invalid_mcc",
            Self::InvalidLocation { .. } => "invalid_location",
            Self::UnknownChannel { .. } => "unknown_channel",
            Self::UnparseableEventTime { .. } => "unparseable_event_time",
            Self::EventTimeInFuture { .. } => "event_time_in_future",
        }
    }
}

/// Validation settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validator {
    /// How far an event time may lie ahead of processing time (clock skew allowance).
    pub max_future_skew_ms: i64,
}

impl Default for Validator {
    /// Five minutes of allowed clock skew.
    fn default() -> Self {
        Self {
            max_future_skew_ms: 5 * 60 * 1000,
        }
    }
}

impl Validator {
    /// Decodes and checks one record against processing time `now_ms` (epoch ms).
    ///
    /// A well-formed record is read straight into borrowed typed fields ([`Wire`]); only
    /// when that fails (a syntax error, a missing, null or mistyped field, a duplicate key)
    /// is the record parsed as a generic JSON value to name the defect. Both run the same
    /// checks in the same order, so the reason is the same either way; the typed read
    /// allocates nothing, where the generic value allocated every key and string (the
    /// validation was the largest item of daily-totals' decoding, perf).
    pub fn validate(&self, data: &[u8], now_ms: i64) -> Result<Transaction, RejectReason> {
        match serde_json::from_slice::<Wire<'_>>(data) {
            Ok(wire) => self.check(&&wire, now_ms),
            Err(_) => self.validate_value(data, now_ms),
        }
    }

    /// [`Validator::validate`] through a generic JSON value: names any defect.
    fn validate_value(&self, data: &[u8], now_ms: i64) -> Result<Transaction, RejectReason> {
        let value: Value =
            serde_json::from_slice(data).map_err(|e| RejectReason::MalformedJson {
                problem: if e.is_eof() {
                    JsonProblem::Truncated
                } else {
                    JsonProblem::Syntax
                },
            })?;
        let Value::Object(obj) = value else {
            return Err(RejectReason::NotAnObject);
        };
        self.check(&Fields(&obj), now_ms)
    }

    /// The checks, in wire-field order, the first failure wins.
    fn check<'a>(&self, f: &impl Source<'a>, now_ms: i64) -> Result<Transaction, RejectReason> {
        let transaction_id = TransactionId::new(f.id(field::TRANSACTION_ID)?);
        let account_id = AccountId::new(f.id(field::ACCOUNT_ID)?);
        let card_id = CardId::new(f.id(field::CARD_ID)?);
        let merchant_id = MerchantId::new(f.id(field::MERCHANT_ID)?);
        let mcc_text = f.str(field::MCC)?;
        let mcc = Mcc::parse(mcc_text).ok_or_else(|| RejectReason::InvalidMcc {
            mcc: mcc_text.to_owned(),
        })?;
        let product_id = ProductId::new(f.id(field::PRODUCT_ID)?);
        let amount_minor = f.integer(field::AMOUNT_MINOR)?;
        if amount_minor <= 0 {
            return Err(RejectReason::NonPositiveAmount { amount_minor });
        }
        let currency_text = f.str(field::CURRENCY)?;
        let currency =
            Currency::parse(currency_text).ok_or_else(|| RejectReason::UnknownCurrency {
                currency: currency_text.to_owned(),
            })?;
        let time_text = f.str(field::EVENT_TIME)?;
        let event_ms =
            parse_event_time(time_text).ok_or_else(|| RejectReason::UnparseableEventTime {
                value: time_text.to_owned(),
            })?;
        if event_ms.saturating_sub(now_ms) > self.max_future_skew_ms {
            return Err(RejectReason::EventTimeInFuture {
                event_time: time_text.to_owned(),
            });
        }
        let country_text = f.str(field::COUNTRY)?;
        let country =
            CountryCode::parse(country_text).ok_or_else(|| RejectReason::InvalidCountry {
                country: country_text.to_owned(),
            })?;
        let (lat, lon) = (f.number(field::LAT)?, f.number(field::LON)?);
        let location =
            GeoPoint::from_degrees(lat, lon).ok_or(RejectReason::InvalidLocation { lat, lon })?;
        let device_id = DeviceId::new(f.id(field::DEVICE_ID)?);
        let channel_text = f.str(field::CHANNEL)?;
        let channel = Channel::parse(channel_text).ok_or_else(|| RejectReason::UnknownChannel {
            channel: channel_text.to_owned(),
        })?;
        Ok(Transaction {
            transaction_id,
            account_id,
            card_id,
            merchant_id,
            mcc,
            product_id,
            amount: Money::new(amount_minor, currency),
            event_time: EventTime(event_ms),
            country,
            location,
            device_id,
            channel,
        })
    }
}

/// Where the checks read a record's fields from.
trait Source<'a> {
    /// A string field.
    fn str(&self, name: &str) -> Result<&'a str, RejectReason>;
    /// An integer field.
    fn integer(&self, name: &str) -> Result<i64, RejectReason>;
    /// A number field.
    fn number(&self, name: &str) -> Result<f64, RejectReason>;

    /// A non-empty string field.
    fn id(&self, name: &str) -> Result<&'a str, RejectReason> {
        let s = self.str(name)?;
        if s.is_empty() {
            return Err(RejectReason::EmptyField {
                field: name.to_owned(),
            });
        }
        Ok(s)
    }
}

/// A well-formed record's fields, borrowed from its bytes (owned where a string has
/// escapes to decode). Any missing, null or mistyped field, or a key given twice, fails
/// the read, and the generic path names the defect.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    transaction_id: Cow<'a, str>,
    #[serde(borrow)]
    account_id: Cow<'a, str>,
    #[serde(borrow)]
    card_id: Cow<'a, str>,
    #[serde(borrow)]
    merchant_id: Cow<'a, str>,
    #[serde(borrow)]
    mcc: Cow<'a, str>,
    #[serde(borrow)]
    product_id: Cow<'a, str>,
    amount_minor: i64,
    #[serde(borrow)]
    currency: Cow<'a, str>,
    #[serde(borrow)]
    event_time: Cow<'a, str>,
    #[serde(borrow)]
    country: Cow<'a, str>,
    lat: f64,
    lon: f64,
    #[serde(borrow)]
    device_id: Cow<'a, str>,
    #[serde(borrow)]
    channel: Cow<'a, str>,
}

/// The fields of a read [`Wire`], lent for as long as it is borrowed.
impl<'b> Source<'b> for &'b Wire<'_> {
    fn str(&self, name: &str) -> Result<&'b str, RejectReason> {
        let wire: &'b Wire<'_> = self;
        let value = match name {
            field::TRANSACTION_ID => &wire.transaction_id,
            field::ACCOUNT_ID => &wire.account_id,
            field::CARD_ID => &wire.card_id,
            field::MERCHANT_ID => &wire.merchant_id,
            field::MCC => &wire.mcc,
            field::PRODUCT_ID => &wire.product_id,
            field::CURRENCY => &wire.currency,
            field::EVENT_TIME => &wire.event_time,
            field::COUNTRY => &wire.country,
            field::DEVICE_ID => &wire.device_id,
            field::CHANNEL => &wire.channel,
            _ => return Err(wrong_type(name, "a string")),
        };
        Ok(value.as_ref())
    }

    fn integer(&self, name: &str) -> Result<i64, RejectReason> {
        match name {
            field::AMOUNT_MINOR => Ok(self.amount_minor),
            _ => Err(wrong_type(name, "an integer number of minor units")),
        }
    }

    fn number(&self, name: &str) -> Result<f64, RejectReason> {
        match name {
            field::LAT => Ok(self.lat),
            field::LON => Ok(self.lon),
            _ => Err(wrong_type(name, "a number")),
        }
    }
}

/// Typed access to the object's fields, producing the matching reasons.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Result<&'a Value, RejectReason> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(RejectReason::MissingField {
                field: name.to_owned(),
            }),
            Some(v) => Ok(v),
        }
    }
}

impl<'a> Source<'a> for Fields<'a> {
    fn str(&self, name: &str) -> Result<&'a str, RejectReason> {
        self.get(name)?
            .as_str()
            .ok_or_else(|| wrong_type(name, "a string"))
    }

    fn integer(&self, name: &str) -> Result<i64, RejectReason> {
        self.get(name)?
            .as_i64()
            .ok_or_else(|| wrong_type(name, "an integer number of minor units"))
    }

    fn number(&self, name: &str) -> Result<f64, RejectReason> {
        self.get(name)?
            .as_f64()
            .ok_or_else(|| wrong_type(name, "a number"))
    }
}

fn wrong_type(name: &str, expected: &str) -> RejectReason {
    RejectReason::WrongType {
        field: name.to_owned(),
        expected: expected.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_248_902_113; // 2026-11-21T08:15:02.113Z

    fn good() -> Value {
        serde_json::json!({
            "transaction_id": "tx-1", "account_id": "acc-1", "card_id": "card-1",
            "merchant_id": "m-1", "mcc": "5411", "product_id": "p-1", "amount_minor": 1250,
            "currency": "EUR", "event_time": "2026-11-21T08:15:02.113Z", "country": "DE",
            "lat": 52.5, "lon": 13.4, "device_id": "dev-1", "channel": "pos"
        })
    }

    fn check(v: &Value) -> Result<Transaction, RejectReason> {
        Validator::default().validate(&serde_json::to_vec(v).unwrap(), NOW)
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = good();
        v[key] = value;
        v
    }

    #[test]
    fn a_complete_record_validates_and_re_serializes_to_equal_bytes() {
        let tx = check(&good()).unwrap();
        assert_eq!(tx.amount, Money::new(1250, Currency::EUR));
        assert_eq!(tx.event_time.millis(), NOW);
        let again = Validator::default().validate(&tx.to_json(), NOW).unwrap();
        assert_eq!(again, tx);
    }

    #[test]
    fn the_lazy_value_serializes_exactly_as_the_value() {
        let tx = check(&good()).unwrap();
        assert_eq!(
            serde_json::to_string(&tx.lazy_value()).unwrap(),
            serde_json::to_string(&tx.to_value()).unwrap()
        );
        assert_eq!(tx.to_value(), good());
    }

    #[test]
    fn each_defect_gets_its_own_typed_reason() {
        let mut missing = good();
        missing.as_object_mut().unwrap().remove("device_id");
        assert_eq!(
            check(&missing).unwrap_err(),
            RejectReason::MissingField {
                field: "device_id".into()
            }
        );
        assert_eq!(
            check(&with("amount_minor", "12.50".into()))
                .unwrap_err()
                .code(),
            "wrong_type"
        );
        assert_eq!(
            check(&with("amount_minor", 12.5.into()))
                .unwrap_err()
                .code(),
            "wrong_type"
        );
        assert_eq!(
            check(&with("amount_minor", 0.into())).unwrap_err(),
            RejectReason::NonPositiveAmount { amount_minor: 0 }
        );
        assert_eq!(
            check(&with("currency", "XYZ".into())).unwrap_err().code(),
            "unknown_currency"
        );
        assert_eq!(
            check(&with("country", "ZZ".into())).unwrap_err().code(),
            "invalid_country"
        );
        assert_eq!(
            check(&with("mcc", "54".into())).unwrap_err().code(),
            "invalid_mcc"
        );
        assert_eq!(
            check(&with("lat", 91.0.into())).unwrap_err().code(),
            "invalid_location"
        );
        assert_eq!(
            check(&with("channel", "fax".into())).unwrap_err().code(),
            "unknown_channel"
        );
        assert_eq!(
            check(&with("card_id", "".into())).unwrap_err().code(),
            "empty_field"
        );
        assert_eq!(
            check(&with("event_time", "yesterday".into()))
                .unwrap_err()
                .code(),
            "unparseable_event_time"
        );
        assert_eq!(
            check(&with("event_time", "2026-11-21T09:15:02.113Z".into()))
                .unwrap_err()
                .code(),
            "event_time_in_future"
        );
        assert_eq!(
            check(&serde_json::json!([1, 2])).unwrap_err(),
            RejectReason::NotAnObject
        );
    }

    #[test]
    fn bytes_that_are_not_json_are_malformed_with_the_kind_of_problem() {
        let v = Validator::default();
        let truncated = &serde_json::to_vec(&good()).unwrap()[..40];
        assert_eq!(
            v.validate(truncated, NOW).unwrap_err(),
            RejectReason::MalformedJson {
                problem: JsonProblem::Truncated
            }
        );
        assert_eq!(
            v.validate(b"<xml/>", NOW).unwrap_err().to_string(),
            "malformed JSON: not valid JSON"
        );
    }

    #[test]
    fn small_clock_skew_is_tolerated() {
        let v = with("event_time", "2026-11-21T08:19:02.113Z".into());
        assert!(check(&v).is_ok());
    }

    #[test]
    fn the_typed_read_and_the_generic_value_give_the_same_verdict_on_every_generated_record() {
        let generated = crate::generator::generate(&crate::generator::GeneratorConfig {
            transactions: 3_000,
            malformed_rate: 0.2,
            ..crate::generator::GeneratorConfig::default()
        })
        .unwrap();
        let v = Validator::default();
        let now = NOW + 48 * 3_600_000;
        let (mut valid, mut refused) = (0, 0);
        for record in generated.records() {
            let fast = v.validate(&record.data, now);
            assert_eq!(fast, v.validate_value(&record.data, now), "{record:?}");
            match fast {
                Ok(_) => valid += 1,
                Err(_) => refused += 1,
            }
        }
        assert!(valid > 1_000 && refused > 100, "{valid} {refused}");
        // An escaped string is decoded the same either way.
        let escaped = br#"{"transaction_id":"tx-\u0031","account_id":"acc-1","card_id":"card-1","merchant_id":"m-1","mcc":"5411","product_id":"p-1","amount_minor":1250,"currency":"EUR","event_time":"2026-11-21T08:15:02.113Z","country":"DE","lat":52.5,"lon":13.4,"device_id":"dev-1","channel":"pos"}"#;
        let tx = v.validate(escaped, NOW).unwrap();
        assert_eq!(tx.transaction_id.as_str(), "tx-1");
        assert_eq!(Ok(tx), v.validate_value(escaped, NOW));
        // A key given twice: the generic value keeps the last one, as before.
        let twice = br#"{"amount_minor":5,"transaction_id":"tx-1","account_id":"acc-1","card_id":"card-1","merchant_id":"m-1","mcc":"5411","product_id":"p-1","amount_minor":-1,"currency":"EUR","event_time":"2026-11-21T08:15:02.113Z","country":"DE","lat":52.5,"lon":13.4,"device_id":"dev-1","channel":"pos"}"#;
        assert_eq!(
            v.validate(twice, NOW).unwrap_err(),
            RejectReason::NonPositiveAmount { amount_minor: -1 }
        );
    }
}
