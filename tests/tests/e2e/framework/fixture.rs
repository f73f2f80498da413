//! The oracle test's fixture: a counter + sum + map + list operator with alerts, the
//! from-scratch fold it must agree with, and Lambda-shaped Kinesis event JSON.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use shardwise::{
    Context, Error, EventTime, KeyedState, ListState, MapState, Operator, RecordMeta, ValueState,
};

/// Amounts above this emit an alert.
pub const ALERT_ABOVE: i64 = 90;
/// How many recent transaction ids a key keeps.
pub const RECENT: usize = 5;
/// The fixture operator's name.
pub const OPERATOR: &str = "oracle";

/// One transaction as producers write it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Txn {
    pub id: u64,
    pub account: String,
    pub merchant: String,
    pub amount: i64,
}

/// Per-account state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    pub count: ValueState<u64>,
    pub sum: ValueState<i64>,
    pub by_merchant: MapState<String, i64>,
    pub recent: ListState<u64>,
}

impl KeyedState for AccountState {
    fn expire(&mut self, now: EventTime) {
        self.count.expire(now);
        self.sum.expire(now);
        self.by_merchant.expire(now);
        self.recent.expire(now);
    }
}

/// An alert output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub account: String,
    pub txn: u64,
    pub amount: i64,
}

/// The fixture operator.
#[derive(Debug)]
pub struct Totals;

impl Operator for Totals {
    type Event = Txn;
    type State = AccountState;
    type Output = Alert;

    fn name(&self) -> &str {
        OPERATOR
    }

    fn key(&self, event: &Txn, _record: &RecordMeta) -> Result<String, Error> {
        Ok(event.account.clone())
    }

    fn on_event(
        &self,
        key: &str,
        event: Txn,
        ctx: &mut Context<'_, AccountState, Alert>,
    ) -> Result<(), Error> {
        if event.amount < 0 {
            return Err(Error::InvalidRecord(format!(
                "negative amount {}",
                event.amount
            )));
        }
        apply(ctx.state(), &event);
        if event.amount > ALERT_ABOVE {
            ctx.emit(Alert {
                account: key.to_owned(),
                txn: event.id,
                amount: event.amount,
            });
        }
        Ok(())
    }
}

/// The operator's effect on state, shared with the oracle so they cannot drift apart in
/// anything but delivery.
pub fn apply(state: &mut AccountState, txn: &Txn) {
    *state.count.get_mut_or_default() += 1;
    *state.sum.get_mut_or_default() += txn.amount;
    *state.by_merchant.entry_or_default(txn.merchant.clone()) += txn.amount;
    state.recent.push(txn.id);
    state.recent.truncate_front(RECENT);
}

/// One produced record: what the producer put, where it landed.
#[derive(Debug, Clone)]
pub struct Produced {
    pub shard: String,
    pub sequence: String,
    pub partition_key: String,
    pub data: Vec<u8>,
    /// `None` for poison records (undecodable or invalid).
    pub txn: Option<Txn>,
}

/// What a from-scratch fold of the produced records says the final result must be.
#[derive(Debug, Default)]
pub struct Expected {
    pub states: BTreeMap<String, AccountState>,
    /// Output ids of alerts.
    pub alerts: BTreeSet<String>,
    /// Dead-letter ids.
    pub dead_letters: BTreeSet<String>,
}

/// Folds every record once, in per-key order (the order records appear in `produced`).
pub fn oracle(produced: &[Produced]) -> Expected {
    let mut expected = Expected::default();
    for record in produced {
        let shard = shardwise::ShardId(record.shard.clone());
        let seq = shardwise::SequenceNumber::parse(&record.sequence).unwrap();
        match &record.txn {
            Some(txn) if txn.amount >= 0 => {
                apply(expected.states.entry(txn.account.clone()).or_default(), txn);
                if txn.amount > ALERT_ABOVE {
                    expected
                        .alerts
                        .insert(shardwise::fold::output_id(OPERATOR, &shard, &seq, 0));
                }
            }
            _ => {
                expected
                    .dead_letters
                    .insert(format!("{OPERATOR}#{shard}#{}", seq.padded()));
            }
        }
    }
    expected
}

/// A batch as Lambda delivers it: `KinesisEvent` deserialized from the JSON Lambda sends.
pub fn lambda_event(records: &[Produced]) -> KinesisEvent {
    let records: Vec<serde_json::Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence,
                    "data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                    "approximateArrivalTimestamp": 1_767_225_600.0 + i as f64 * 0.001,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{}:{}", r.shard, r.sequence),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/oracle-role",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/transactions",
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}
