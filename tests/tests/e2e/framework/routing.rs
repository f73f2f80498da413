//! Where outputs land: keyed outputs under the operator's pk/sk with their scalar fields
//! copied to attributes (so indexes such as the alerts table's `by-day` work), late events
//! in the late-events table, and every output also published to the output stream before
//! the commit — a re-delivery re-publishes under the same id, never a new one.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kinesis::types::ShardIteratorType;
use serde::{Deserialize, Serialize};
use shardwise::sinks::{Envelope, KinesisSink};
use shardwise::{
    Context, DynamoStateStore, Error, EventTime, JsonCodec, KeyedState, ManualClock, Operator,
    ProcessingConfig, Processor, RecordMeta, ValueState,
};
use shardwise_tests::TestEnv;

use super::fixture::{Produced, lambda_event};

#[derive(Debug, Deserialize)]
struct Sale {
    merchant: String,
    amount: i64,
    late: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Revenue {
    total: ValueState<i64>,
}

impl KeyedState for Revenue {}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Total {
    day: String,
    merchant: String,
    revenue_minor: i64,
    r#final: bool,
}

#[derive(Debug)]
struct Totals;

impl Operator for Totals {
    type Event = Sale;
    type State = Revenue;
    type Output = Total;

    fn name(&self) -> &str {
        "totals"
    }

    fn key(&self, e: &Sale, _: &RecordMeta) -> Result<String, Error> {
        Ok(e.merchant.clone())
    }

    fn on_event(
        &self,
        key: &str,
        e: Sale,
        ctx: &mut Context<'_, Revenue, Total>,
    ) -> Result<(), Error> {
        if e.late {
            return ctx.emit_late(
                "2026-11-21",
                &serde_json::json!({ "amount": e.amount }),
                "too late",
            );
        }
        let total = ctx.state().total.get_mut_or_default();
        *total += e.amount;
        let revenue_minor = *total;
        let out = Total {
            day: "2026-11-21".into(),
            merchant: key.to_owned(),
            revenue_minor,
            r#final: false,
        };
        ctx.emit_keyed("totals#2026-11-21", format!("merchant#{key}"), out);
        Ok(())
    }
}

async fn published_ids(env: &TestEnv, stream: &str) -> Vec<String> {
    let client = env.kinesis();
    let shards = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .unwrap();
    let iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shards.shards()[0].shard_id())
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let got = client
        .get_records()
        .shard_iterator(iterator.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    got.records()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Envelope<Total>>(r.data().as_ref())
                .unwrap()
                .id
        })
        .collect()
}

#[tokio::test]
async fn keyed_outputs_late_events_and_the_output_stream_each_get_what_the_operator_emitted() {
    let env = TestEnv::start().await;
    let (state, outputs, late, dlq) = (
        env.unique_name("rt-state"),
        env.unique_name("rt-out"),
        env.unique_name("rt-late"),
        env.unique_name("rt-dlq"),
    );
    for table in [&state, &outputs, &late, &dlq] {
        env.create_keyed_table(table).await.unwrap();
    }
    let stream = env.unique_name("rt-alerts");
    env.create_active_stream(&stream, 1).await;
    let store = DynamoStateStore::new(env.dynamodb(), &state, Some(&outputs), &dlq)
        .with_late_events_table(Some(&late));
    let processor = Processor::new(
        Arc::new(Totals),
        Arc::new(store),
        JsonCodec::default(),
        ProcessingConfig::new(&state, &dlq),
        Arc::new(ManualClock::new(EventTime(0))),
    )
    .with_publisher(KinesisSink::new(env.kinesis(), &stream));
    let record = |seq: &str, data: &str| Produced {
        shard: "shardId-000000000000".into(),
        sequence: seq.into(),
        partition_key: "m1".into(),
        data: data.as_bytes().to_vec(),
        txn: None,
    };
    let event = lambda_event(&[
        record("100", r#"{"merchant":"m1","amount":250,"late":false}"#),
        record("101", r#"{"merchant":"m1","amount":100,"late":false}"#),
        record("102", r#"{"merchant":"m1","amount":7,"late":true}"#),
    ]);
    for _ in 0..2 {
        let report = processor.process(&event).await.unwrap();
        assert!(report.first_failure.is_none());
    }

    let item = env
        .dynamodb()
        .get_item()
        .table_name(&outputs)
        .key("pk", AttributeValue::S("totals#2026-11-21".into()))
        .key("sk", AttributeValue::S("merchant#m1".into()))
        .send()
        .await
        .unwrap();
    let item = item
        .item()
        .expect("the keyed output is under the operator's pk/sk");
    assert_eq!(
        item["revenue_minor"],
        AttributeValue::N("350".into()),
        "the later emission replaced the earlier"
    );
    assert_eq!(item["day"], AttributeValue::S("2026-11-21".into()));
    assert_eq!(item["final"], AttributeValue::Bool(false));
    assert_eq!(item["operator"], AttributeValue::S("totals".into()));

    let late_items = env
        .dynamodb()
        .scan()
        .table_name(&late)
        .send()
        .await
        .unwrap();
    assert_eq!(
        late_items.items().len(),
        1,
        "the late event once, despite two deliveries"
    );
    let late_item = &late_items.items()[0];
    assert_eq!(
        late_item["pk"],
        AttributeValue::S("totals#2026-11-21".into())
    );
    assert_eq!(late_item["reason"], AttributeValue::S("too late".into()));

    let ids = published_ids(&env, &stream).await;
    assert_eq!(
        ids,
        ["totals#2026-11-21#merchant#m1"],
        "the batch's last value of the keyed output, once; the replay committed nothing new"
    );
}
