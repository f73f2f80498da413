//! Session-tracker against a from-scratch computation: a generated day (out-of-order
//! within a bound, hours-late events, duplicates, malformed records) is applied in
//! arrival order in random chunks, with the watermark trailing the largest event time
//! by a bound and processing time advancing; the closed sessions must equal sessions
//! computed directly from the on-time events, late events must all be in the side output.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use monitoring::codec::TransactionCodec;
use monitoring::generator::{GeneratorConfig, generate};
use monitoring::model::Transaction;
use monitoring::validate::Validator;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use session_tracker::{HEARTBEAT_MS, SessionOutput, SessionTracker};
use shardwise::{Codec, EventTime, Harness, ManualClock, Placement};

const GAP_MS: i64 = 120_000;
const OUT_OF_ORDERNESS_MS: i64 = 5_000;

/// (key, start, end, transactions, amount per currency)
type SessionRow = (String, i64, i64, u64, BTreeMap<String, i64>);

fn day(seed: u64) -> Vec<Transaction> {
    let config = GeneratorConfig {
        seed,
        transactions: 4_000,
        accounts: Some(100),
        late_rate: 0.02,
        ..GeneratorConfig::default()
    };
    let generated = generate(&config).unwrap();
    let codec = TransactionCodec::new(
        Validator::default(),
        Arc::new(ManualClock::new(EventTime(i64::MAX / 2))),
    );
    generated
        .records()
        .filter_map(|r| codec.decode(&r.data).ok())
        .collect()
}

fn oracle(on_time: &[Transaction]) -> BTreeSet<SessionRow> {
    let mut by_key: BTreeMap<String, Vec<&Transaction>> = BTreeMap::new();
    for tx in on_time {
        let key = format!("{}#{}", tx.account_id.as_str(), tx.device_id.as_str());
        by_key.entry(key).or_default().push(tx);
    }
    let mut sessions = BTreeSet::new();
    for (key, mut txs) in by_key {
        txs.sort_by_key(|t| t.event_time.0);
        let mut current: Option<SessionRow> = None;
        for tx in txs {
            let t = tx.event_time.0;
            let currency = tx.amount.currency.code().to_owned();
            match &mut current {
                Some(s) if t - s.2 < GAP_MS => {
                    s.2 = t;
                    s.3 += 1;
                    *s.4.entry(currency).or_default() += tx.amount.minor;
                }
                _ => {
                    if let Some(done) = current.take() {
                        sessions.insert(done);
                    }
                    current = Some((
                        key.clone(),
                        t,
                        t,
                        1,
                        BTreeMap::from([(currency, tx.amount.minor)]),
                    ));
                }
            }
        }
        sessions.extend(current);
    }
    sessions
}

fn millis(rfc3339: &str) -> i64 {
    monitoring::parse_event_time(rfc3339).unwrap()
}

#[test]
fn closed_sessions_equal_sessions_computed_from_the_on_time_events_for_several_seeds() {
    for seed in 1..=4 {
        let txs = day(seed);
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut harness = Harness::new(SessionTracker::new(GAP_MS));
        let (mut on_time, mut late, mut seen) = (Vec::new(), 0usize, BTreeSet::new());
        let mut max_time = i64::MIN;
        let mut i = 0;
        let mut now = 0;
        while i < txs.len() {
            let chunk = rng.random_range(1..200).min(txs.len() - i);
            for tx in &txs[i..i + chunk] {
                let duplicate = !seen.insert(tx.transaction_id.as_str().to_owned());
                if !duplicate {
                    if tx.event_time.0 <= harness.watermark().0 {
                        late += 1;
                    } else {
                        on_time.push(tx.clone());
                        max_time = max_time.max(tx.event_time.0);
                    }
                }
                harness.process(tx.clone()).unwrap();
            }
            i += chunk;
            harness
                .advance_watermark(EventTime(max_time - OUT_OF_ORDERNESS_MS))
                .unwrap();
            now += rng.random_range(0..HEARTBEAT_MS);
            harness.advance_processing_time(EventTime(now)).unwrap();
        }
        harness.advance_watermark(EventTime::MAX).unwrap();

        let mut closed = BTreeSet::new();
        for (key, placement, out) in &harness.outputs {
            if let SessionOutput::Summary(s) = out {
                let Placement::Keyed { pk, .. } = placement else {
                    panic!("summaries are keyed")
                };
                assert_eq!(pk, &format!("session-tracker#{}", s.day));
                assert!(
                    closed.insert((
                        key.clone(),
                        millis(&s.start),
                        millis(&s.end),
                        s.transactions,
                        s.amount_minor.clone()
                    )),
                    "a session closes once"
                );
            }
        }
        assert!(
            late > 0,
            "seed {seed}: the generated day has hours-late events"
        );
        assert_eq!(
            harness.late.len(),
            late,
            "seed {seed}: every late event is in the side output"
        );
        let expected = oracle(&on_time);
        assert!(
            expected.len() > 50,
            "seed {seed}: a meaningful number of sessions"
        );
        assert_eq!(closed, expected, "seed {seed}");
        assert_eq!(
            harness.timers().count(),
            0,
            "seed {seed}: no timer outlives its session"
        );
    }
}

#[test]
fn open_sessions_send_a_heartbeat_every_thirty_seconds_until_they_close() {
    let txs = day(9);
    let mut harness = Harness::new(SessionTracker::new(GAP_MS));
    let first = txs.iter().min_by_key(|t| t.event_time.0).unwrap().clone();
    let key = format!("{}#{}", first.account_id.as_str(), first.device_id.as_str());
    harness.process(first.clone()).unwrap();
    for step in 1..=3 {
        harness
            .advance_processing_time(EventTime(step * HEARTBEAT_MS))
            .unwrap();
    }
    let beats: Vec<u64> = harness
        .outputs
        .iter()
        .filter_map(|(k, _, out)| match out {
            SessionOutput::Heartbeat(s) if *k == key => Some(s.heartbeats),
            _ => None,
        })
        .collect();
    assert_eq!(beats, [1, 2, 3], "one heartbeat per period, counting up");
    harness
        .advance_watermark(EventTime(first.event_time.0 + GAP_MS))
        .unwrap();
    let statuses: Vec<&str> = harness
        .outputs
        .iter()
        .map(|(_, _, out)| match out {
            SessionOutput::Heartbeat(s) | SessionOutput::Summary(s) => s.status.as_str(),
        })
        .collect();
    assert_eq!(statuses.last(), Some(&"closed"));
    harness
        .advance_processing_time(EventTime(10 * HEARTBEAT_MS))
        .unwrap();
    let after_close = harness.outputs.len();
    harness
        .advance_processing_time(EventTime(20 * HEARTBEAT_MS))
        .unwrap();
    assert_eq!(
        harness.outputs.len(),
        after_close,
        "no heartbeat after the session closed"
    );
}
