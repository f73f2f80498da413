//! The benchmark input: transactions as JSON Lines, in arrival order, reduced to the
//! fields R1 and R2 read. Arrival order matters: it drives the watermark, hence lateness.
//!
//! A line that is not a transaction is an error, not a skip: the benchmark input is
//! generated with `--malformed-rate 0`, and Flink's source is configured to fail on
//! parse errors too, so both sides see exactly the same events.

use std::io::BufRead;

use anyhow::Context as _;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One transaction as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Transaction id (reported for late events).
    pub transaction_id: String,
    /// Account (R1 key).
    pub account_id: String,
    /// Merchant (R2 key).
    pub merchant_id: String,
    /// Amount in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217 code; amounts only add up within one currency.
    pub currency: String,
    /// Event time, epoch milliseconds.
    pub event_time_ms: i64,
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    transaction_id: &'a str,
    account_id: &'a str,
    merchant_id: &'a str,
    amount_minor: i64,
    currency: &'a str,
    event_time: &'a str,
}

/// Parses one JSON line.
pub fn parse_line(line: &str) -> anyhow::Result<Event> {
    let w: Wire<'_> = serde_json::from_str(line).context("not a transaction")?;
    let t = OffsetDateTime::parse(w.event_time, &Rfc3339)
        .with_context(|| format!("event_time {:?}", w.event_time))?;
    let event_time_ms = i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000))
        .context("event_time out of range")?;
    Ok(Event {
        transaction_id: w.transaction_id.to_owned(),
        account_id: w.account_id.to_owned(),
        merchant_id: w.merchant_id.to_owned(),
        amount_minor: w.amount_minor,
        currency: w.currency.to_owned(),
        event_time_ms,
    })
}

/// Reads every line (arrival order); blank lines are skipped, like Flink's JSON source.
pub fn read_events(reader: impl BufRead) -> anyhow::Result<Vec<Event>> {
    let mut events = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        events.push(parse_line(&line).with_context(|| format!("input line {}", i + 1))?);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generator_line_parses_to_epoch_milliseconds() {
        let line = r#"{"transaction_id":"tx-1","account_id":"acc-1","card_id":"c","merchant_id":"m-1","mcc":"5411","product_id":"p","amount_minor":1071,"currency":"EUR","event_time":"2026-11-21T08:15:02.113Z","country":"ES","lat":40.2,"lon":-3.7,"device_id":"d","channel":"pos"}"#;
        let e = parse_line(line).unwrap();
        assert_eq!(e.event_time_ms, 1_795_248_902_113);
        assert_eq!(e.amount_minor, 1071);
        assert_eq!(e.merchant_id, "m-1");
    }

    #[test]
    fn a_line_that_is_not_a_transaction_is_an_error_with_its_line_number() {
        let err = read_events("\n{\"x\":1}\n".as_bytes()).unwrap_err();
        assert!(format!("{err:#}").contains("input line 2"), "{err:#}");
    }
}
