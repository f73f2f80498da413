//! Malformed records: a would-be transaction with exactly one defect, and the reason the
//! validator must give for it. Defects cycle in a fixed order so every kind appears once
//! there are at least [`DEFECTS`] malformed records. The expected reasons are built here
//! from the defect, independently of the validator, so the test comparing the two can fail.

use serde_json::Value;

use crate::model::{Transaction, field};
use crate::time_fmt::format_event_time;
use crate::validate::{JsonProblem, RejectReason};

/// Number of distinct defects.
pub const DEFECTS: usize = 15;

/// Applies defect number `n % DEFECTS` to `tx`: the record bytes and the expected reason.
pub fn corrupt(tx: &Transaction, n: usize) -> (Vec<u8>, RejectReason) {
    let mut v = tx.to_value();
    let round = n / DEFECTS;
    let set = |v: &mut Value, key: &str, value: Value| {
        if let Value::Object(obj) = v {
            obj.insert(key.to_owned(), value);
        }
    };
    let reason = match n % DEFECTS {
        0 => {
            let bytes = tx.to_json();
            let cut = bytes.len() / 2;
            return (
                bytes[..cut].to_vec(),
                RejectReason::MalformedJson {
                    problem: JsonProblem::Truncated,
                },
            );
        }
        1 => {
            let bytes = format!("<transaction id={}/>", tx.transaction_id).into_bytes();
            return (
                bytes,
                RejectReason::MalformedJson {
                    problem: JsonProblem::Syntax,
                },
            );
        }
        2 => {
            let bytes = serde_json::to_vec(&Value::Array(vec![v])).unwrap_or_default();
            return (bytes, RejectReason::NotAnObject);
        }
        3 => {
            let name = field::ALL[round % field::ALL.len()];
            if let Value::Object(obj) = &mut v {
                obj.remove(name);
            }
            RejectReason::MissingField {
                field: name.to_owned(),
            }
        }
        4 => {
            let text = tx.amount.to_string();
            set(&mut v, field::AMOUNT_MINOR, Value::String(text));
            wrong_type(field::AMOUNT_MINOR, "an integer number of minor units")
        }
        5 => {
            let amount = if round.is_multiple_of(2) {
                0
            } else {
                -tx.amount.minor
            };
            set(&mut v, field::AMOUNT_MINOR, amount.into());
            RejectReason::NonPositiveAmount {
                amount_minor: amount,
            }
        }
        6 => {
            let code = ["ZZZ", "EURO", "eur", "BTC"][round % 4];
            set(&mut v, field::CURRENCY, code.into());
            RejectReason::UnknownCurrency {
                currency: code.to_owned(),
            }
        }
        7 => {
            let code = ["ZZ", "UK", "Germany", "de"][round % 4];
            set(&mut v, field::COUNTRY, code.into());
            RejectReason::InvalidCountry {
                country: code.to_owned(),
            }
        }
        8 => {
            let text = ["yesterday", "2026-13-01T00:00:00Z", "21/11/2026 10:00"][round % 3];
            set(&mut v, field::EVENT_TIME, text.into());
            RejectReason::UnparseableEventTime {
                value: text.to_owned(),
            }
        }
        9 => {
            // A century ahead: in the future for any plausible processing time.
            let text = format_event_time(tx.event_time.millis() + 36_525 * 86_400_000);
            set(&mut v, field::EVENT_TIME, text.clone().into());
            RejectReason::EventTimeInFuture { event_time: text }
        }
        10 => {
            let (lat, lon) = (123.456_789, tx.location.lon());
            set(&mut v, field::LAT, lat.into());
            RejectReason::InvalidLocation { lat, lon }
        }
        11 => {
            set(&mut v, field::CHANNEL, "telex".into());
            RejectReason::UnknownChannel {
                channel: "telex".to_owned(),
            }
        }
        12 => {
            set(&mut v, field::MCC, "54A1".into());
            RejectReason::InvalidMcc {
                mcc: "54A1".to_owned(),
            }
        }
        13 => {
            set(&mut v, field::CARD_ID, "".into());
            RejectReason::EmptyField {
                field: field::CARD_ID.to_owned(),
            }
        }
        _ => {
            let text = tx.location.lat().to_string();
            set(&mut v, field::LAT, Value::String(text));
            wrong_type(field::LAT, "a number")
        }
    };
    (serde_json::to_vec(&v).unwrap_or_default(), reason)
}

fn wrong_type(name: &str, expected: &str) -> RejectReason {
    RejectReason::WrongType {
        field: name.to_owned(),
        expected: expected.to_owned(),
    }
}
