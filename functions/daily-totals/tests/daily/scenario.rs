//! A generated day with modelled arrival times, and the check of what daily-totals wrote
//! against the generator's ground truth: totals to the cent minus exactly the late side
//! output, distinct accounts within the sketch's error, the sample, the dead letters.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use daily_totals::output::day_pk;
use daily_totals::{DailyTotalsConfig, Txn, TxnCodec};
use monitoring::generator::{GeneratorConfig, GroundTruth, Record, RecordKind, generate};
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::Value;
use shardwise::codec::Codec;
use shardwise::sketch::Reservoir;
use shardwise::sketch::hash::hash64;
use shardwise::{Error, EventTime, ManualClock};

pub const HOUR_MS: i64 = 3_600_000;

/// A generated day ready to be delivered.
pub struct Scenario {
    pub truth: GroundTruth,
    pub records: Vec<Record>,
    pub decoded: Vec<Result<Txn, Error>>,
    /// Modelled arrival time (epoch ms) per record.
    pub arrival: Vec<i64>,
    pub day: String,
    pub day_start: i64,
    /// Daily-totals settings, with an allowed lateness that splits the stragglers.
    pub config: DailyTotalsConfig,
}

impl Scenario {
    /// Generates `transactions` with many late events and duplicates. The allowed
    /// lateness is chosen so that about half of the stragglers arriving after the day's
    /// end (seen through `out_of_orderness_ms`) are allowed-late and half are late.
    pub fn new(seed: u64, transactions: u64, out_of_orderness_ms: i64) -> Self {
        let generated = generate(&GeneratorConfig {
            seed,
            transactions,
            duplicate_rate: 0.03,
            late_rate: 0.05,
            malformed_rate: 0.01,
            ..GeneratorConfig::default()
        })
        .unwrap();
        let truth = generated.ground_truth().clone();
        let day = truth.config.day.clone();
        let records: Vec<Record> = generated.records().collect();
        let day_start = monitoring::parse_event_time(&format!("{day}T00:00:00Z")).unwrap();
        let codec = TxnCodec::new(Arc::new(ManualClock::new(EventTime(
            day_start + 48 * HOUR_MS,
        ))));
        let decoded: Vec<_> = records.iter().map(|r| codec.decode(&r.data)).collect();
        // An on-time record arrives within seconds of its event time; a late or malformed
        // record between two on-time ones gets the next one's time (an upper bound of its
        // true arrival); a duplicate arrives 1–120 s after its original, modelled as 1 s.
        // The late records after the day's last on-time one arrive 1–6 h after their event
        // time (spread by a hash).
        let last_on_time = records
            .iter()
            .rposition(|r| r.kind == RecordKind::Valid)
            .unwrap();
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
        let day_end = day_start + 24 * HOUR_MS;
        let after_end: Vec<i64> = arrival[last_on_time + 1..]
            .iter()
            .map(|a| a - out_of_orderness_ms - day_end)
            .filter(|&o| o > 0)
            .collect();
        assert!(after_end.len() >= 2, "{after_end:?}");
        let config = DailyTotalsConfig {
            allowed_lateness_ms: after_end[after_end.len() / 2],
            ..DailyTotalsConfig::default()
        };
        Self {
            truth,
            records,
            decoded,
            arrival,
            day,
            day_start,
            config,
        }
    }

    /// Random batch sizes, cut where arrivals are more than a second apart (Lambda's
    /// batching window).
    pub fn batches(&self, rng: &mut SmallRng) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.records.len() {
            let mut size = rng.random_range(1..300).min(self.records.len() - i);
            let a = &self.arrival;
            if let Some(cut) = (i..i + size).position(|n| a[n] > a[i].saturating_add(1_000)) {
                size = cut.max(1);
            }
            out.push(i..i + size);
            i += size;
        }
        out
    }

    /// Checks what was written (outputs and late events by (pk, sk), dead letters by
    /// record index with their error text); returns (late events, updated items).
    pub fn check(
        &self,
        outputs: &BTreeMap<(String, String), String>,
        late_items: &BTreeMap<(String, String), String>,
        dead: &[(u64, String)],
    ) -> usize {
        let expected_dead: Vec<(u64, String)> = self
            .truth
            .malformed
            .iter()
            .map(|m| {
                let reason = format!("invalid record: {}: {}", m.reason.code(), m.reason);
                (m.record_index, reason)
            })
            .collect();
        assert_eq!(dead, expected_dead);
        let valid: HashMap<&str, &Txn> = self
            .decoded
            .iter()
            .flatten()
            .map(|t| (t.transaction_id.as_str(), t))
            .collect();
        assert_eq!(valid.len() as u64, self.truth.counts.transactions);

        // Late side output: each late transaction once, under its event day.
        let pk = day_pk(&self.day);
        let mut late_ids = BTreeSet::new();
        for ((lpk, _), body) in late_items {
            assert_eq!(lpk, &pk);
            let v: Value = serde_json::from_str(body).unwrap();
            let t: Txn = serde_json::from_value(v["event"].clone()).unwrap();
            assert!(v["reason"].as_str().unwrap().starts_with("window closed"));
            assert!(
                late_ids.insert(t.transaction_id.clone()),
                "late twice: {t:?}"
            );
        }
        let late: HashSet<&str> = late_ids.iter().map(String::as_str).collect();
        assert!(!late.is_empty(), "the scenario must exercise the late path");

        // Totals: ground truth minus the late events, per merchant and per product.
        let mut merchants: BTreeMap<(String, String), (i64, u64)> = BTreeMap::new();
        let mut products = merchants.clone();
        for m in &self.truth.merchant_totals {
            let key = (m.merchant_id.to_string(), m.currency.code().to_owned());
            merchants.insert(key, (m.revenue_minor, m.count));
        }
        for p in &self.truth.product_totals {
            let key = (p.product_id.to_string(), p.currency.code().to_owned());
            products.insert(key, (p.revenue_minor, p.count));
        }
        for id in &late {
            let t = valid[id];
            for (map, dim_id) in [
                (&mut merchants, &t.merchant_id),
                (&mut products, &t.product_id),
            ] {
                let e = map.get_mut(&(dim_id.clone(), t.currency.clone())).unwrap();
                e.0 -= t.amount_minor;
                e.1 -= 1;
            }
        }
        merchants.retain(|_, v| v.1 > 0);
        products.retain(|_, v| v.1 > 0);
        assert_eq!(totals_of(outputs, &pk, "merchant"), merchants);
        assert_eq!(totals_of(outputs, &pk, "product"), products);

        // Distinct accounts per merchant (HyperLogLog) and the sample, from counted data.
        let counted: Vec<&&Txn> = valid
            .values()
            .filter(|t| !late.contains(t.transaction_id.as_str()))
            .collect();
        let mut accounts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for t in &counted {
            accounts
                .entry(&t.merchant_id)
                .or_default()
                .insert(&t.account_id);
        }
        for (merchant, set) in &accounts {
            let body = &outputs[&(pk.clone(), format!("distinct#{merchant}"))];
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["final"], true);
            let est = v["distinct_accounts"].as_u64().unwrap() as f64;
            let n = set.len() as f64;
            // p = 12: σ ≈ 1.6 %; small counts are nearly exact (linear counting).
            assert!(
                (est - n).abs() <= (3.0 * 0.01625 * n).max(1.0),
                "{merchant}: {est} vs {n}"
            );
        }
        let mut expected_sample = Reservoir::new(self.config.sample_size);
        counted.iter().for_each(|t| {
            expected_sample.insert(&t.transaction_id);
        });
        let v: Value = serde_json::from_str(&outputs[&(pk.clone(), "sample".into())]).unwrap();
        assert_eq!(v["final"], true);
        let sample: Vec<String> = serde_json::from_value(v["transactions"].clone()).unwrap();
        assert_eq!(sample, expected_sample.ids());
        late.len()
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
            let total = (
                v["revenue_minor"].as_i64().unwrap(),
                v["count"].as_u64().unwrap(),
            );
            (key, total)
        })
        .collect()
}
