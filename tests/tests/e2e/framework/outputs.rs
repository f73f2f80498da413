//! Outputs beyond one transaction's 100 actions: the overflow is put first under
//! deterministic ids, then the state and the first 99 outputs commit together; a
//! re-delivery neither duplicates nor re-emits them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shardwise::{
    Context, DynamoStateStore, Error, EventTime, JsonCodec, KeyedState, ManualClock, Operator,
    ProcessingConfig, Processor, RecordMeta, ValueState,
};

use super::fixture::{Produced, lambda_event};
use super::{create_tables, oracle_env, scan_ids};

#[derive(Debug, Deserialize)]
struct Fanout {
    key: String,
    outputs: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Seen {
    records: ValueState<u32>,
}

impl KeyedState for Seen {}

#[derive(Debug)]
struct FanoutOp;

impl Operator for FanoutOp {
    type Event = Fanout;
    type State = Seen;
    type Output = u32;

    fn name(&self) -> &str {
        "fanout"
    }

    fn key(&self, e: &Fanout, _: &RecordMeta) -> Result<String, Error> {
        Ok(e.key.clone())
    }

    fn on_event(&self, _: &str, e: Fanout, ctx: &mut Context<'_, Seen, u32>) -> Result<(), Error> {
        *ctx.state().records.get_mut_or_default() += 1;
        (0..e.outputs).for_each(|i| ctx.emit(i));
        Ok(())
    }
}

#[tokio::test]
async fn a_record_emitting_more_outputs_than_a_transaction_holds_commits_each_once() {
    let env = oracle_env().await;
    let Some(tables) = create_tables(&env).await else {
        return;
    };
    let store = DynamoStateStore::new(
        env.dynamodb(),
        &tables.state,
        Some(&tables.output),
        &tables.dead_letter,
    );
    let mut config = ProcessingConfig::new(&tables.state, &tables.dead_letter);
    config.output_table = Some(tables.output.clone());
    let clock = Arc::new(ManualClock::new(EventTime(0)));
    let processor = Processor::new(
        Arc::new(FanoutOp),
        Arc::new(store),
        JsonCodec::default(),
        config,
        clock,
    );
    let record = Produced {
        shard: "shardId-000000000000".into(),
        sequence: "49590338271490256608559692538361571095921575989136588898".into(),
        partition_key: "k".into(),
        data: br#"{"key":"k","outputs":150}"#.to_vec(),
        txn: None,
    };
    let event = lambda_event(&[record]);
    for delivery in 0..2 {
        let report = loop {
            // The emulator's throttling knob may fail a call; Lambda would retry the batch.
            let report = processor.process(&event).await.unwrap();
            if report.first_failure.is_none() {
                break report;
            }
        };
        assert_eq!(report.metrics.applied, if delivery == 0 { 1 } else { 0 });
    }
    let ids = scan_ids(&env, &tables.output).await;
    assert_eq!(ids.len(), 150, "every output once, none twice");
}
