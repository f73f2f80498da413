//! The detector against the generator's ground truth, through the real batch commit:
//! precision and recall per pattern, exactly-once alerts under re-delivery and
//! duplicate transactions, dead letters with their reasons, and a throughput figure.

mod harness;

use std::collections::{BTreeMap, HashMap, HashSet};

use fraud_detector::{FraudConfig, alert_id};
use harness::{Delivery, by_id, run, shard_records, shuffled_in_blocks, with_extra_duplicates};
use monitoring::generator::{GeneratorConfig, GroundTruth, RecordKind, generate, score_alerts};
use monitoring::model::{AccountId, TransactionId};

fn config(seed: u64, transactions: u64) -> GeneratorConfig {
    GeneratorConfig {
        seed,
        transactions,
        ..GeneratorConfig::default()
    }
}

/// Scores one generated day delivered chaotically; returns (precision, recall).
async fn detect_day(seed: u64, transactions: u64, shuffle_block: Option<usize>) -> (f64, f64) {
    let g = generate(&config(seed, transactions)).unwrap();
    let truth = g.ground_truth();
    let mut shards = shard_records(&g, |_| true);
    if let Some(block) = shuffle_block {
        shards = shuffled_in_blocks(&shards, block, seed);
        println!(
            "out of order: {} of {} fraud cases arrive out of event-time order",
            cases_out_of_order(&shards, truth),
            truth.fraud.len()
        );
    }
    let out = run(&shards, FraudConfig::default(), Delivery::Chaotic(seed)).await;
    let alerts = by_id(&out.alerts);
    let score = score_alerts(
        truth,
        alerts.values().map(|a| {
            (
                AccountId::new(a.account.clone()),
                TransactionId::new(a.transaction_id.clone()),
            )
        }),
    );
    println!(
        "seed {seed}, {transactions} transactions ({} records delivered with replays): \
         {} alerts, precision {:.4}, recall {:.4}, duplicates {}",
        out.records_delivered, score.alerts, score.precision, score.recall, score.duplicate_alerts
    );
    for (pattern, p) in &score.per_pattern {
        println!("  {pattern:?}: detected {}/{}", p.detected, p.cases);
        assert!(
            p.detected as f64 >= 0.9 * p.cases as f64,
            "seed {seed}: {pattern:?} recall {}/{}",
            p.detected,
            p.cases
        );
    }
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for a in alerts.values() {
        for r in &a.rules {
            *by_rule.entry(r.as_str()).or_default() += 1;
        }
    }
    println!("  alerts by rule: {by_rule:?}");
    assert_eq!(score.duplicate_alerts, 0);
    assert!(
        score.precision >= 0.9,
        "seed {seed}: precision {}",
        score.precision
    );
    assert!(score.recall >= 0.9, "seed {seed}: recall {}", score.recall);
    (score.precision, score.recall)
}

#[tokio::test]
async fn a_generated_day_of_100k_transactions_is_detected_with_precision_and_recall_of_at_least_0_9()
 {
    detect_day(1, 100_000, None).await;
}

#[tokio::test]
async fn three_other_seeds_are_detected_with_precision_and_recall_of_at_least_0_9() {
    for seed in [7, 23, 99] {
        detect_day(seed, 20_000, None).await;
    }
}

#[tokio::test]
async fn transactions_arriving_out_of_event_time_order_are_still_detected() {
    detect_day(8, 30_000, Some(48)).await;
}

/// Fraud cases whose transactions do not arrive in event-time order.
fn cases_out_of_order(shards: &[Vec<harness::ShardRecord>], truth: &GroundTruth) -> usize {
    let mut arrival: HashMap<String, usize> = HashMap::new();
    for (n, r) in shards.iter().flatten().enumerate() {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.data)
            && let Some(id) = v["transaction_id"].as_str()
        {
            arrival.entry(id.to_owned()).or_insert(n);
        }
    }
    truth
        .fraud
        .iter()
        .filter(|c| {
            let order: Vec<usize> = c
                .transaction_ids
                .iter()
                .map(|t| arrival[t.as_str()])
                .collect();
            order.windows(2).any(|w| w[0] > w[1])
        })
        .count()
}

#[tokio::test]
async fn replays_and_duplicate_transactions_yield_exactly_the_alerts_of_a_clean_run() {
    let g = generate(&config(5, 30_000)).unwrap();
    // Reference: every transaction once (no duplicates), delivered once, in order.
    let clean_shards = shard_records(&g, |k| k != RecordKind::Duplicate);
    let clean_run = run(&clean_shards, FraudConfig::default(), Delivery::Clean).await;
    let clean = by_id(&clean_run.alerts);
    assert!(!clean.is_empty());
    // Everything, the generator's duplicates included, plus a re-send of every fraud
    // transaction (so duplicates of alerted and of counted transactions occur), with
    // random splits and re-deliveries, twice.
    let fraud_ids: HashSet<String> = g
        .ground_truth()
        .fraud
        .iter()
        .flat_map(|c| c.transaction_ids.iter().map(|t| t.to_string()))
        .collect();
    let all = with_extra_duplicates(&shard_records(&g, |_| true), &fraud_ids);
    let clean_states = states(&clean_run.tables);
    for seed in [1, 2] {
        let chaotic = run(&all, FraudConfig::default(), Delivery::Chaotic(seed)).await;
        assert!(
            chaotic.records_delivered > g.len() as u64,
            "no replays happened"
        );
        assert_eq!(by_id(&chaotic.alerts), clean, "delivery seed {seed}");
        // Not just the alerts: every account's state is the same as after the clean run.
        assert_eq!(
            states(&chaotic.tables),
            clean_states,
            "delivery seed {seed}"
        );
    }
    // Ids are the transaction's, nothing else, and they key the output items.
    let keys: HashSet<&String> = clean_run.tables.outputs.keys().collect();
    for a in clean.values() {
        assert!(keys.contains(&format!(
            "{}|{}",
            a.alert_id,
            fraud_detector::ALERT_SORT_KEY
        )));
        assert_eq!(a.alert_id, alert_id(&a.transaction_id));
        assert_eq!(&a.event_time[..10], a.day);
    }
}

/// State bodies by item key (the high-water marks differ by construction).
fn states(tables: &shardwise::memory_store::MemoryTables) -> BTreeMap<String, String> {
    tables
        .states
        .iter()
        .map(|(k, s)| (k.clone(), s.body.clone()))
        .collect()
}

#[tokio::test]
async fn every_malformed_record_is_dead_lettered_with_its_bytes_and_reason() {
    let g = generate(&GeneratorConfig {
        malformed_rate: 0.02,
        ..config(3, 10_000)
    })
    .unwrap();
    let truth = g.ground_truth();
    assert!(truth.malformed.len() >= 100);
    let out = run(
        &shard_records(&g, |_| true),
        FraudConfig::default(),
        Delivery::Chaotic(3),
    )
    .await;
    let letters = &out.tables.dead_letters;
    assert_eq!(letters.len(), truth.malformed.len());
    let by_data: BTreeMap<&[u8], &shardwise::deadletter::DeadLetter> =
        letters.values().map(|l| (l.data.as_slice(), l)).collect();
    for m in &truth.malformed {
        let letter = by_data
            .get(m.data.as_bytes())
            .unwrap_or_else(|| panic!("not dead-lettered: {m:?}"));
        assert_eq!(
            letter.error,
            format!("invalid record: {}: {}", m.reason.code(), m.reason)
        );
        assert_eq!(letter.partition_key, m.partition_key);
        assert_eq!(letter.operator, fraud_detector::OPERATOR_NAME);
    }
}

#[tokio::test]
async fn throughput_of_the_operator_over_the_in_memory_store_is_printed() {
    let g = generate(&config(11, 50_000)).unwrap();
    let shards = shard_records(&g, |_| true);
    let out = run(&shards, FraudConfig::default(), Delivery::Clean).await;
    let secs = out.elapsed.as_secs_f64();
    println!(
        "throughput: {} records in {secs:.2} s = {:.0} events/s (Processor + TransactionCodec + \
         MemoryStateStore, batches of 500, {} build)",
        out.records_delivered,
        out.records_delivered as f64 / secs,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    // The operator's fold alone (validated transactions, states in a HashMap).
    let validator = monitoring::validate::Validator::default();
    let txs: Vec<_> = g
        .records()
        .filter_map(|r| validator.validate(&r.data, harness::NOW_MS).ok())
        .collect();
    let detector = fraud_detector::FraudDetector::default();
    let mut states: HashMap<String, fraud_detector::AccountState> = HashMap::new();
    let started = std::time::Instant::now();
    let mut alerts = 0;
    for tx in &txs {
        let state = states.entry(tx.account_id.to_string()).or_default();
        alerts += usize::from(detector.apply(state, tx).is_some());
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fold only: {} transactions in {secs:.3} s = {:.0} events/s ({alerts} alerts)",
        txs.len(),
        txs.len() as f64 / secs
    );
    assert_eq!(alerts, out.alerts.len());
    // The largest state item stays far below the 350 KB budget.
    let largest = out
        .tables
        .states
        .values()
        .map(|s| s.body.len())
        .max()
        .unwrap();
    println!("largest account state: {largest} bytes");
    assert!(largest < 64 * 1024);
}
