//! Schedules fire at the right instants of the controlled clock.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use shardwise_emulator::lambda::FaultSettings;
use shardwise_emulator::schedule::ScheduleRunner;
use shardwise_emulator::template::{ScheduleSpec, ScheduleTarget};
use shardwise_tests::raw_http;

use super::support::{emulator, eventually, recorded, recorder, scratch};

/// 2030-01-01T01:00:00Z.
const START_SECS: u64 = 1_893_459_600;

#[tokio::test]
async fn cron_and_rate_schedules_fire_at_the_controlled_clocks_instants() {
    let dir = scratch("schedules");
    let (env, em) = emulator(&dir, FaultSettings::default()).await;
    em.clock.set_rate(0.0); // frozen: only explicit advances move time
    em.clock
        .advance_to(UNIX_EPOCH + Duration::from_secs(START_SECS));
    let rec = dir.join("rec");
    recorder(&em, "timers", &rec, &[], Duration::from_secs(5), None);
    let specs = vec![
        ScheduleSpec {
            name: "nightly".into(),
            function: "timers".into(),
            expression: "cron(0 2 * * ? *)".into(),
            target: ScheduleTarget::Rule { input: None },
            enabled: true,
        },
        ScheduleSpec {
            name: "quarter".into(),
            function: "timers".into(),
            expression: "rate(15 minutes)".into(),
            target: ScheduleTarget::Scheduler {
                input: Some(r#"{"kind":"tick","at":"<aws.scheduler.scheduled-time>"}"#.into()),
            },
            enabled: true,
        },
        ScheduleSpec {
            name: "off".into(),
            function: "timers".into(),
            expression: "rate(1 minute)".into(),
            target: ScheduleTarget::Rule { input: None },
            enabled: false,
        },
    ];
    let _runner = ScheduleRunner::start(&em, specs).unwrap();

    // 59 minutes: three quarter-hour ticks, no nightly run yet.
    let r = raw_http::request(
        &env.authority(),
        "POST",
        "/_shardwise/clock",
        &[],
        json!({"advance_seconds": 59 * 60}).to_string().as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["now"], "2030-01-01T01:59:00Z");
    assert!(eventually(Duration::from_secs(20), || recorded(&rec).len() == 3).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events: Vec<_> = recorded(&rec)
        .into_iter()
        .map(|l| l["event"].clone())
        .collect();
    let mut ticks: Vec<_> = events
        .iter()
        .map(|e| e["at"].as_str().unwrap().to_owned())
        .collect();
    ticks.sort();
    assert_eq!(
        ticks,
        [
            "2030-01-01T01:15:00Z",
            "2030-01-01T01:30:00Z",
            "2030-01-01T01:45:00Z"
        ]
    );

    // Past 02:00: the nightly rule fires once with the envelope, plus the 02:00 tick.
    em.clock.advance(Duration::from_secs(90));
    assert!(eventually(Duration::from_secs(20), || recorded(&rec).len() == 5).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events: Vec<_> = recorded(&rec)
        .into_iter()
        .map(|l| l["event"].clone())
        .collect();
    assert_eq!(events.len(), 5, "the disabled schedule never fires");
    let nightly: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "Scheduled Event")
        .collect();
    assert_eq!(nightly.len(), 1);
    assert_eq!(nightly[0]["time"], "2030-01-01T02:00:00Z");
    assert_eq!(nightly[0]["source"], "aws.events");
    assert_eq!(
        nightly[0]["resources"][0],
        "arn:aws:events:us-east-1:000000000000:rule/nightly"
    );
    let metrics = em.layer_metrics();
    assert!(
        metrics["schedules"].is_null(),
        "runner not registered as a source here"
    );
}

#[tokio::test]
async fn an_invalid_expression_is_a_start_up_error() {
    let dir = scratch("badcron");
    let (_env, em) = emulator(&dir, FaultSettings::default()).await;
    let err = ScheduleRunner::start(
        &em,
        vec![ScheduleSpec {
            name: "bad".into(),
            function: "f".into(),
            expression: "cron(0 2 * * * *)".into(),
            target: ScheduleTarget::Rule { input: None },
            enabled: true,
        }],
    )
    .unwrap_err();
    assert!(err.to_string().contains("day-of-week"), "{err}");
}
