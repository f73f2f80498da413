//! The oracle test's fixture: the counter + sum + map + list operator with alerts (from
//! the `fixture-operator` crate), the from-scratch fold it must agree with, and
//! Lambda-shaped Kinesis event JSON.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine as _;
// The operator lives in the fixture function's crate, so the function deployed through
// the Lambda layer (`framework_lambda`) runs exactly the logic this oracle checks.
pub use fixture_operator::{ALERT_ABOVE, AccountState, OPERATOR, Totals, Txn, apply};

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

impl Expected {
    /// Asserts that accounts `acct-0` .. `acct-<accounts - 1>` hold the oracle's state, as
    /// `stored` finds each one's item (by item key `<operator>#<account>`; none: empty).
    pub fn assert_states<'a>(
        &self,
        accounts: u64,
        stored: impl Fn(&str) -> Option<&'a shardwise::StoredState>,
    ) {
        for k in 0..accounts {
            let account = format!("acct-{k}");
            let actual: AccountState = stored(&format!("{OPERATOR}#{account}"))
                .map(|s| serde_json::from_str(&s.body).unwrap())
                .unwrap_or_default();
            assert_eq!(
                actual,
                self.states.get(&account).cloned().unwrap_or_default(),
                "{account}"
            );
        }
    }
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
