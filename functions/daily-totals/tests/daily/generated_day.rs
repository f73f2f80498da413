//! A generated day (disorder, late events 1–6 h late, duplicates, malformed records)
//! through the driver: the final totals equal the generator's ground truth to the cent,
//! minus exactly the events the late side output holds.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use daily_totals::output::day_pk;
use daily_totals::{DailyTotals, DailyTotalsConfig, Dimension, Txn, TxnCodec};
use monitoring::generator::{GeneratorConfig, RecordKind, generate};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use shardwise::codec::Codec;
use shardwise::sketch::Reservoir;
use shardwise::sketch::hash::hash64;
use shardwise::{EventTime, ManualClock, PartitionKey, RecordMeta, SequenceNumber, ShardId};

use crate::driver::Driver;

const HOUR_MS: i64 = 3_600_000;
/// The bounded out-of-orderness the timers branch will subtract from event times.
const OUT_OF_ORDERNESS_MS: i64 = 10_000;

#[derive(Default)]
struct Sums(BTreeMap<(String, String), (i64, u64)>);

impl Sums {
    fn add(&mut self, id: &str, currency: &str, amount: i64, sign: i64) {
        let e = self
            .0
            .entry((id.to_owned(), currency.to_owned()))
            .or_default();
        e.0 += sign * amount;
        e.1 = e.1.wrapping_add_signed(sign);
    }
}

fn totals_of(
    outputs: &BTreeMap<(String, String), String>,
    pk: &str,
    dim: &str,
) -> BTreeMap<(String, String), (i64, u64)> {
    outputs
        .iter()
        .filter(|((p, sk), _)| p == pk && sk.starts_with(&format!("{dim}#")))
        .map(|((_, sk), body)| {
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["final"], true, "{sk}");
            assert_eq!(v["dimension"], dim);
            let parts: Vec<&str> = sk.split('#').collect();
            assert_eq!(parts[1], v["id"]);
            assert_eq!(parts[2], v["currency"]);
            let key = (parts[1].to_owned(), parts[2].to_owned());
            (
                key,
                (
                    v["revenue_minor"].as_i64().unwrap(),
                    v["count"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn a_generated_day_matches_ground_truth_to_the_cent_minus_exactly_the_late_side_output() {
    let gen_config = GeneratorConfig {
        seed: 7,
        transactions: 4_000,
        duplicate_rate: 0.03,
        late_rate: 0.05,
        malformed_rate: 0.01,
        ..GeneratorConfig::default()
    };
    let generated = generate(&gen_config).unwrap();
    let truth = generated.ground_truth();
    let day = truth.config.day.clone();
    let records: Vec<_> = generated.records().collect();
    let day_start = monitoring::parse_event_time(&format!("{day}T00:00:00Z")).unwrap();
    let clock = Arc::new(ManualClock::new(EventTime(day_start + 2 * 24 * HOUR_MS)));
    let codec = TxnCodec::new(clock);
    // Processing time. An on-time record arrives within seconds of its event time; a
    // late or malformed record between two on-time ones gets the next one's time (an
    // upper bound of its true arrival); a duplicate arrives 1–120 s after its original,
    // modelled as 1 s. The late records after the day's last on-time one arrive 1–6 h
    // after their event time (spread by a hash), the dispatcher advancing the idle
    // watermark meanwhile.
    let last_on_time = records
        .iter()
        .rposition(|r| r.kind == RecordKind::Valid)
        .unwrap();
    let decoded: Vec<_> = records.iter().map(|r| codec.decode(&r.data)).collect();
    let mut arrival = vec![i64::MIN; records.len()];
    let mut next = i64::MIN;
    for n in (0..=last_on_time).rev() {
        if let (Ok(t), RecordKind::Valid) = (&decoded[n], records[n].kind) {
            next = t.event_time_ms;
        }
        arrival[n] = next;
    }
    let mut first_seen: HashMap<&str, i64> = HashMap::new();
    for n in 0..=last_on_time {
        if let Ok(t) = &decoded[n] {
            let first = *first_seen.entry(&t.transaction_id).or_insert(arrival[n]);
            if records[n].kind == RecordKind::Duplicate {
                arrival[n] = first + 1_000;
            }
        }
    }
    let mut now = arrival[last_on_time];
    for n in last_on_time + 1..records.len() {
        if let (Ok(t), RecordKind::Late) = (&decoded[n], records[n].kind) {
            let spread = hash64(1, t.transaction_id.as_bytes()) % (5 * HOUR_MS as u64);
            now = now.max(t.event_time_ms + HOUR_MS + spread as i64);
        }
        arrival[n] = now;
    }
    // Allowed lateness: half of the stragglers after the day's end are within it, so both
    // allowed-late updates and late events happen.
    let day_end = day_start + 24 * HOUR_MS;
    let after_end: Vec<i64> = arrival[last_on_time + 1..]
        .iter()
        .map(|a| a - OUT_OF_ORDERNESS_MS - day_end)
        .filter(|&o| o > 0)
        .collect();
    assert!(after_end.len() >= 2, "{after_end:?}");
    let config = DailyTotalsConfig {
        allowed_lateness_ms: after_end[after_end.len() / 2],
        ..DailyTotalsConfig::default()
    };
    let ops = Dimension::ALL.map(|d| DailyTotals::new(d, config)).to_vec();
    let mut driver = Driver::new(ops);

    // Batches: random sizes, cut where arrivals are more than a second apart (Lambda's
    // batching window); the watermark is read at the start of each batch.
    let mut rng = SmallRng::seed_from_u64(3);
    let mut i = 0;
    let mut dead = Vec::new();
    let mut valid: HashMap<String, Txn> = HashMap::new();
    while i < records.len() {
        let mut batch = rng.random_range(1..300).min(records.len() - i);
        if let Some(cut) =
            (i..i + batch).position(|n| arrival[n] > arrival[i].saturating_add(1_000))
        {
            batch = cut.max(1);
        }
        if arrival[i] > i64::MIN {
            driver.advance(EventTime(arrival[i] - OUT_OF_ORDERNESS_MS));
        }
        for n in i..i + batch {
            let event = match &decoded[n] {
                Ok(t) => t.clone(),
                Err(e) => {
                    dead.push((n as u64, e.to_string()));
                    continue;
                }
            };
            valid.insert(event.transaction_id.clone(), event.clone());
            let meta = RecordMeta {
                shard: ShardId("shardId-000000000000".into()),
                sequence: SequenceNumber::parse(&(n + 1).to_string()).unwrap(),
                partition_key: PartitionKey(records[n].partition_key.clone()),
                arrival: EventTime(arrival[n]),
            };
            driver.apply(&meta, &event);
        }
        i += batch;
    }
    driver.advance(EventTime::MAX);
    assert_eq!(driver.pending_timers(), 0);

    // Dead letters: exactly the malformed records, with the generator's reasons.
    let expected_dead: Vec<(u64, String)> = truth
        .malformed
        .iter()
        .map(|m| {
            (
                m.record_index,
                format!("invalid record: {}: {}", m.reason.code(), m.reason),
            )
        })
        .collect();
    assert_eq!(dead, expected_dead);
    assert_eq!(valid.len() as u64, truth.counts.transactions);

    // Late side output: each late transaction once, under its event day.
    let pk = day_pk(&day);
    let mut late_ids = BTreeSet::new();
    for ((lpk, _), body) in &driver.written.late {
        assert_eq!(lpk, &pk);
        let v: Value = serde_json::from_str(body).unwrap();
        let t: Txn = serde_json::from_value(v["event"].clone()).unwrap();
        assert!(v["reason"].as_str().unwrap().starts_with("window closed"));
        assert!(
            late_ids.insert(t.transaction_id.clone()),
            "late twice: {}",
            t.transaction_id
        );
    }
    let late: HashSet<&String> = late_ids.iter().collect();
    let updated = driver.written.writes.values().filter(|&&n| n > 1).count();
    println!(
        "records {}, late (side output) {}, items updated by allowed-late events {updated}, keys {}",
        records.len(),
        late.len(),
        driver.keys()
    );
    assert!(!late.is_empty(), "the scenario must exercise the late path");
    assert!(
        updated > 0,
        "the scenario must exercise allowed-late updates"
    );

    // Totals: ground truth minus the late events, per merchant and per product.
    let (mut merchants, mut products) = (Sums::default(), Sums::default());
    for m in &truth.merchant_totals {
        let (id, cur) = (m.merchant_id.as_str(), m.currency.code());
        merchants.add(id, cur, m.revenue_minor, 1);
        merchants
            .0
            .get_mut(&(id.to_owned(), cur.to_owned()))
            .unwrap()
            .1 = m.count;
    }
    for p in &truth.product_totals {
        let (id, cur) = (p.product_id.as_str(), p.currency.code());
        products.add(id, cur, p.revenue_minor, 1);
        products
            .0
            .get_mut(&(id.to_owned(), cur.to_owned()))
            .unwrap()
            .1 = p.count;
    }
    for id in &late {
        let t = &valid[*id];
        merchants.add(&t.merchant_id, &t.currency, t.amount_minor, -1);
        products.add(&t.product_id, &t.currency, t.amount_minor, -1);
    }
    merchants.0.retain(|_, v| v.1 > 0);
    products.0.retain(|_, v| v.1 > 0);
    assert_eq!(
        totals_of(&driver.written.outputs, &pk, "merchant"),
        merchants.0
    );
    assert_eq!(
        totals_of(&driver.written.outputs, &pk, "product"),
        products.0
    );

    // Distinct accounts per merchant (HyperLogLog) and the sample, from on-time data.
    let counted: Vec<&Txn> = valid
        .values()
        .filter(|t| !late.contains(&t.transaction_id))
        .collect();
    let mut accounts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for t in &counted {
        accounts
            .entry(&t.merchant_id)
            .or_default()
            .insert(&t.account_id);
    }
    for (merchant, set) in &accounts {
        let body = &driver.written.outputs[&(pk.clone(), format!("distinct#{merchant}"))];
        let v: Value = serde_json::from_str(body).unwrap();
        let est = v["distinct_accounts"].as_u64().unwrap() as f64;
        let n = set.len() as f64;
        assert!(
            (est - n).abs() <= (3.0 * 0.01625 * n).max(1.0),
            "{merchant}: {est} vs {n}"
        );
    }
    let mut expected_sample = Reservoir::new(config.sample_size);
    counted.iter().for_each(|t| {
        expected_sample.insert(&t.transaction_id);
    });
    let v: Value =
        serde_json::from_str(&driver.written.outputs[&(pk.clone(), "sample".into())]).unwrap();
    let sample: Vec<String> = serde_json::from_value(v["transactions"].clone()).unwrap();
    assert_eq!(sample, expected_sample.ids());
    assert!(sample.iter().all(|id| !late.contains(id)));
}
