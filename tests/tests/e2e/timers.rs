//! Timers and watermarks through real DynamoDB calls (the in-process emulator, or
//! `SHARDWISE_TEST_ENDPOINT`): timer items written in the key's transaction, queried by
//! due bucket, and fired exactly once by two dispatchers racing over the same buckets;
//! event-time timers fired when the watermark is forced to the end of the input.

use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use serde::{Deserialize, Serialize};
use shardwise::{
    Context, Dispatcher, DispatcherConfig, DynamoStateStore, Error, EventTime, JsonCodec,
    KeyedState, ManualClock, MapState, Operator, ProcessingConfig, Processor, RecordMeta,
    StateStore, TimeDomain, Timer,
};
use shardwise_tests::TestEnv;

const OPERATOR: &str = "e2e-timers";
const T0: i64 = 1_700_000_040_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Ev {
    k: String,
    #[serde(default)]
    due: Option<i64>,
    #[serde(default)]
    window_end: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct St {
    fired: MapState<String, u64>,
}

impl KeyedState for St {}

#[derive(Debug)]
struct Alarm;

impl Operator for Alarm {
    type Event = Ev;
    type State = St;
    type Output = String;

    fn name(&self) -> &str {
        OPERATOR
    }

    fn key(&self, e: &Ev, _: &RecordMeta) -> Result<String, Error> {
        Ok(e.k.clone())
    }

    fn on_event(&self, _: &str, e: Ev, ctx: &mut Context<'_, St, String>) -> Result<(), Error> {
        if let Some(due) = e.due {
            ctx.register_processing_timer(EventTime(due));
        }
        if let Some(end) = e.window_end {
            ctx.register_event_timer(EventTime(end));
        }
        Ok(())
    }

    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, St, String>,
    ) -> Result<(), Error> {
        let tag = format!("{:?}:{}", timer.domain, timer.time.0);
        *ctx.state().fired.entry_or_default(tag.clone()) += 1;
        ctx.emit(format!("{key} {tag}"));
        Ok(())
    }
}

fn batch(first_seq: u64, events: &[Ev]) -> KinesisEvent {
    use base64::Engine as _;
    let records: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let seq = first_seq + i as u64;
            serde_json::json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": e.k, "sequenceNumber": seq.to_string(),
                    "data": base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(e).unwrap()),
                    "approximateArrivalTimestamp": 1.5e9},
                "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record", "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s"
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

struct Stack {
    store: Arc<DynamoStateStore>,
    config: ProcessingConfig,
    timers_table: String,
    output_table: String,
}

async fn stack(env: &TestEnv) -> Stack {
    let names: Vec<String> = ["tm-state", "tm-out", "tm-dlq", "tm-timers"]
        .iter()
        .map(|p| env.unique_name(p))
        .collect();
    for name in &names {
        env.create_keyed_table(name).await.unwrap();
    }
    let mut config = ProcessingConfig::new(&names[0], &names[2]);
    config.output_table = Some(names[1].clone());
    config.timers_table = Some(names[3].clone());
    config.timer_layout.spread = 4;
    let store = DynamoStateStore::new(env.dynamodb(), &names[0], Some(&names[1]), &names[2])
        .with_timers_table(Some(&names[3]));
    Stack {
        store: Arc::new(store),
        config,
        timers_table: names[3].clone(),
        output_table: names[1].clone(),
    }
}

async fn count_items(env: &TestEnv, table: &str) -> usize {
    // A Scan is fine in a test: it checks what the dispatcher never scans.
    env.dynamodb()
        .scan()
        .table_name(table)
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items()
        .len()
}

async fn fired_counts(store: &DynamoStateStore, keys: usize) -> Vec<Vec<(String, u64)>> {
    let item_keys: Vec<String> = (0..keys).map(|i| format!("{OPERATOR}#k{i}")).collect();
    let states = store.get_many(&item_keys, true).await.unwrap();
    item_keys
        .iter()
        .map(|k| {
            let st: St = serde_json::from_str(&states[k].body).unwrap();
            st.fired.iter().map(|(t, n)| (t.clone(), *n)).collect()
        })
        .collect()
}

#[tokio::test]
async fn two_dispatchers_racing_through_dynamodb_fire_every_timer_exactly_once() {
    let env = TestEnv::start().await;
    let s = stack(&env).await;
    let clock = ManualClock::new(EventTime(T0));
    let processor = Processor::new(
        Arc::new(Alarm),
        Arc::clone(&s.store),
        JsonCodec::default(),
        s.config.clone(),
        Arc::new(clock.clone()),
    );
    let keys = 120;
    let events: Vec<Ev> = (0..keys)
        .map(|i| Ev {
            k: format!("k{i}"),
            due: Some(T0 + 1_000 + (i as i64 % 7) * 500),
            ..Ev::default()
        })
        .collect();
    let report = processor.process(&batch(1, &events)).await.unwrap();
    assert_eq!(report.first_failure, None);
    assert_eq!(
        count_items(&env, &s.timers_table).await,
        keys,
        "one item per timer"
    );

    clock.advance(10_000);
    let dispatcher = || {
        let mut dc = DispatcherConfig::from_processing(&s.config);
        dc.concurrency = 16;
        Dispatcher::new(Arc::clone(&s.store), Arc::new(clock.clone()), dc).register(Alarm)
    };
    let (a, b) = (dispatcher(), dispatcher());
    let mut fired = 0;
    for _ in 0..20 {
        let (ra, rb) = tokio::join!(a.poll_once(), b.poll_once());
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        fired += ra.fired + rb.fired;
        if !ra.backlog && !rb.backlog && fired >= keys as u64 {
            break;
        }
    }
    assert_eq!(fired, keys as u64);
    for (i, counts) in fired_counts(&s.store, keys).await.iter().enumerate() {
        assert_eq!(counts.len(), 1, "k{i}: {counts:?}");
        assert_eq!(counts[0].1, 1, "k{i} fired twice");
    }
    assert_eq!(
        count_items(&env, &s.timers_table).await,
        0,
        "fired items deleted"
    );
    assert_eq!(
        count_items(&env, &s.output_table).await,
        keys,
        "one output each"
    );
}

#[tokio::test]
async fn event_time_timers_fire_through_dynamodb_once_the_watermark_is_forced_to_the_end() {
    let env = TestEnv::start().await;
    let s = stack(&env).await;
    let clock = ManualClock::new(EventTime(T0));
    let processor = Processor::new(
        Arc::new(Alarm),
        Arc::clone(&s.store),
        JsonCodec::default(),
        s.config.clone(),
        Arc::new(clock.clone()),
    );
    let events: Vec<Ev> = (0..10)
        .map(|i| Ev {
            k: format!("k{i}"),
            window_end: Some(T0 + 86_400_000),
            ..Ev::default()
        })
        .collect();
    processor.process(&batch(1, &events)).await.unwrap();
    let d = Dispatcher::new(
        Arc::clone(&s.store),
        Arc::new(clock.clone()),
        DispatcherConfig::from_processing(&s.config),
    )
    .register(Alarm);
    assert_eq!(d.poll_once().await.unwrap().fired, 0);
    shardwise::force_watermark(&*s.store, OPERATOR, EventTime::MAX)
        .await
        .unwrap();
    assert_eq!(d.poll_once().await.unwrap().fired, 10);
    let tag = format!("{:?}:{}", TimeDomain::Event, T0 + 86_400_000);
    for counts in fired_counts(&s.store, 10).await {
        assert_eq!(counts, vec![(tag.clone(), 1)]);
    }
}
