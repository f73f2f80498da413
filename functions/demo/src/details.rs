//! The raw results behind the summary, for tests that check them item by item against
//! an oracle ([`crate::run_detailed`]): every alert item, the day's totals rows, every
//! dead letter with its bytes, the closed sessions, the late side output, the final lag
//! of every consumer and the faults the emulator injected.
//!
//! The summary condenses these for people; a test needs the items themselves (which
//! alert ids, which bytes, which reason) to tell "same count" from "same content".

use std::collections::BTreeMap;

use serde_json::Value;

use crate::DemoError;
use crate::chaos::FaultCounts;
use crate::results::{self, SESSIONS_PK_PREFIX, TotalRow, item_json};
use crate::stack::Running;
use crate::stream;

/// One dead-letter item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The operator that refused the record.
    pub operator: String,
    /// Shard of the record.
    pub shard_id: String,
    /// Sequence number of the record.
    pub sequence_number: String,
    /// The record's original bytes.
    pub data: Vec<u8>,
    /// Why (the codec's rejection text).
    pub error: String,
}

/// Everything a test compares with its oracle.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// Every item of the alerts table (body merged over its attributes).
    pub alerts: Vec<Value>,
    /// The day's daily-totals rows.
    pub total_rows: Vec<TotalRow>,
    /// Every dead-letter item.
    pub dead_letters: Vec<DeadLetter>,
    /// Closed session summaries that start on the day.
    pub closed_sessions: Vec<Value>,
    /// Items of the late-events side output.
    pub late_events: u64,
    /// Function → records put but not consumed, per mapping on the transactions stream.
    pub lag: BTreeMap<String, u64>,
    /// Faults the emulator injected.
    pub faults: FaultCounts,
}

impl Details {
    /// Reads them (after the run, before the stack stops).
    pub async fn read(
        running: &Running,
        ddb: &aws_sdk_dynamodb::Client,
        day: &str,
        put: u64,
    ) -> Result<Self, DemoError> {
        let names = &running.names;
        let alerts = results::scan_all(ddb, &names.alerts_table)
            .await?
            .iter()
            .map(item_json)
            .collect();
        let total_rows = results::total_rows(ddb, &names.outputs_table, day).await?;
        let dead_letters = results::scan_all(ddb, &names.dead_letter_table)
            .await?
            .iter()
            .map(|item| {
                let text = |k: &str| {
                    item.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                DeadLetter {
                    operator: text(shardwise::deadletter::ATTR_DL_OPERATOR),
                    shard_id: text(shardwise::deadletter::ATTR_DL_SHARD),
                    sequence_number: text(shardwise::deadletter::ATTR_DL_SEQUENCE),
                    data: item
                        .get(shardwise::deadletter::ATTR_DL_DATA)
                        .and_then(|d| d.as_b().ok())
                        .map(|b| b.as_ref().to_vec())
                        .unwrap_or_default(),
                    error: text(shardwise::deadletter::ATTR_DL_ERROR),
                }
            })
            .collect();
        let closed_sessions = results::query_all(
            ddb,
            &names.outputs_table,
            None,
            "pk",
            &format!("{SESSIONS_PK_PREFIX}{day}"),
        )
        .await?
        .iter()
        .map(item_json)
        .collect();
        let late_events = results::scan_all(ddb, &names.late_events_table)
            .await?
            .len() as u64;
        let lag = stream::consumption(running, &names.transactions_stream)
            .into_iter()
            .map(|c| (c.function, put.saturating_sub(c.consumed)))
            .collect();
        Ok(Self {
            alerts,
            total_rows,
            dead_letters,
            closed_sessions,
            late_events,
            lag,
            faults: FaultCounts::read(running),
        })
    }
}
