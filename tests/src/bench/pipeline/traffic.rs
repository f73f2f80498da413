//! The latency run's traffic: crafted transactions whose alerts are known in advance.
//!
//! - Background transactions each use a fresh account (no history, so no rule can
//!   fire: every window and profile rule needs earlier transactions of the account,
//!   and one 25.00 EUR purchase is neither small nor high).
//! - A trigger is a pair on a fresh account: a purchase in Berlin two minutes (event
//!   time) before one in New York. The second fires `impossible_travel` (≈ 6,400 km in
//!   two minutes; weight 0.9 ≥ the template's 0.7 threshold) and nothing else, so the
//!   detector raises exactly one alert, on the New York transaction, the moment it
//!   processes it — no window has to close. Both go in one PutRecords call under the
//!   same partition key, so they reach the detector in order.
//!
//! Event times are the system clock's "now": the validator refuses events more than
//! five minutes ahead of it, and the daily-totals watermark keeps up with live events.

use monitoring::model::{
    AccountId, CardId, Channel, CountryCode, Currency, DeviceId, EventTime, GeoPoint, Mcc,
    MerchantId, Money, ProductId, Transaction, TransactionId,
};

const BERLIN: (f64, f64) = (52.52, 13.405);
const NEW_YORK: (f64, f64) = (40.7128, -74.006);
/// Event-time gap between the two purchases of a trigger pair.
const PAIR_GAP_MS: i64 = 120_000;
/// 25.00 EUR: above the card-testing "small amount", far below the high amount.
const AMOUNT_MINOR: i64 = 2_500;

/// One record to put.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Partition key (the account).
    pub partition_key: String,
    /// Wire JSON.
    pub data: Vec<u8>,
    /// The transaction id when this record must raise an alert.
    pub trigger: Option<String>,
}

/// Makes uniquely named transactions for one run.
#[derive(Debug)]
pub struct Traffic {
    run: String,
    next: u64,
}

impl Traffic {
    /// Ids are prefixed with `run` so runs never share accounts.
    pub fn new(run: &str) -> Self {
        Self {
            run: run.to_owned(),
            next: 0,
        }
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// One background transaction at `now_ms` that raises no alert.
    pub fn background(&mut self, now_ms: i64) -> Entry {
        let n = self.id();
        let tx = transaction(&self.run, n, now_ms, BERLIN);
        Entry {
            partition_key: tx.account_id.to_string(),
            data: tx.to_json(),
            trigger: None,
        }
    }

    /// A trigger pair ending at `now_ms`: the second entry raises one alert.
    pub fn trigger_pair(&mut self, now_ms: i64) -> [Entry; 2] {
        let n = self.id();
        let home = transaction(&self.run, n, now_ms - PAIR_GAP_MS, BERLIN);
        let mut away = transaction(&self.run, n, now_ms, NEW_YORK);
        away.transaction_id = TransactionId::new(format!("{}-tx-{n}-away", self.run));
        away.country = country("US");
        let trigger = away.transaction_id.to_string();
        [
            Entry {
                partition_key: home.account_id.to_string(),
                data: home.to_json(),
                trigger: None,
            },
            Entry {
                partition_key: away.account_id.to_string(),
                data: away.to_json(),
                trigger: Some(trigger),
            },
        ]
    }
}

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap_or_else(|| unreachable!("{code} is a valid country code"))
}

fn transaction(run: &str, n: u64, at_ms: i64, (lat, lon): (f64, f64)) -> Transaction {
    Transaction {
        transaction_id: TransactionId::new(format!("{run}-tx-{n}")),
        account_id: AccountId::new(format!("{run}-acc-{n}")),
        card_id: CardId::new(format!("{run}-card-{n}")),
        merchant_id: MerchantId::new(format!("{run}-m-{}", n % 50)),
        mcc: Mcc::parse("5411").unwrap_or_else(|| unreachable!("5411 is a valid MCC")),
        product_id: ProductId::new(format!("{run}-p-{}", n % 50)),
        amount: Money::new(AMOUNT_MINOR, Currency::EUR),
        event_time: EventTime(at_ms),
        country: country("DE"),
        location: GeoPoint::from_degrees(lat, lon)
            .unwrap_or_else(|| unreachable!("constant coordinates are valid")),
        device_id: DeviceId::new(format!("{run}-dev-{n}")),
        channel: Channel::Pos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraud_detector::FraudDetector;
    use monitoring::validate::Validator;

    const NOW: i64 = 1_795_262_400_000;

    #[test]
    fn the_detector_alerts_on_the_second_transaction_of_a_trigger_pair_only() {
        let mut traffic = Traffic::new("t");
        let mut harness = shardwise::Harness::new(FraudDetector::default());
        let pair = traffic.trigger_pair(NOW);
        let background = traffic.background(NOW);
        for e in pair.iter().chain(std::iter::once(&background)) {
            let tx = Validator::default().validate(&e.data, NOW).unwrap();
            harness.process(tx).unwrap();
        }
        let alerted: Vec<String> = harness
            .outputs
            .iter()
            .map(|(_, _, alert)| alert.transaction_id.clone())
            .collect();
        assert_eq!(alerted, vec![pair[1].trigger.clone().unwrap()]);
    }
}
