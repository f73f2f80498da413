//! Arrival order and bookkeeping: which transactions are late or duplicated, where the
//! malformed records go, the final arrival sort, and the exact totals of the ground truth.

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use time::Date;

use super::tx::{DeviceRef, NO_CASE, Tx};
use super::{
    Counts, Generated, GeneratorConfig, HOUR_MS, MS_PER_DAY, MalformedRecord, MerchantTotal,
    Planned, ProductTotal, RecordKind, Source, account_id, count_of, malformed, merchant_id,
};
use crate::model::{MerchantId, ProductId, TransactionId};

impl Generated {
    pub(super) fn plan_arrivals(
        &mut self,
        config: &GeneratorConfig,
        rng: &mut ChaCha8Rng,
        fraud: &[u32],
    ) {
        let n = self.txs.len() as u64;
        let fraud: BTreeSet<u32> = fraud.iter().copied().collect();
        let mut late = vec![false; self.txs.len()];
        if config.late_events {
            let mut candidates: Vec<u32> = (0..self.txs.len() as u32)
                .filter(|&i| !fraud.contains(&self.txs[i as usize].account))
                .collect();
            let k = (count_of(config.late_rate, n) as usize).min(candidates.len());
            candidates.partial_shuffle(rng, k);
            candidates.truncate(k);
            candidates.sort_unstable();
            for &i in &candidates {
                late[i as usize] = true;
                self.truth
                    .late
                    .push(TransactionId::new(self.tx_id(i as usize)));
            }
        }
        for (i, t) in self.txs.iter().enumerate() {
            let (arrival_ms, kind) = if late[i] {
                (
                    t.time_ms + rng.random_range(HOUR_MS..=6 * HOUR_MS),
                    RecordKind::Late,
                )
            } else {
                (
                    t.time_ms + rng.random_range(0..=config.max_disorder_ms),
                    RecordKind::Valid,
                )
            };
            self.plan.push(Planned {
                arrival_ms,
                order: i as u32,
                source: Source::Tx(i as u32),
                kind,
            });
        }
        let mut dups: Vec<u32> = (0..self.txs.len() as u32).collect();
        let k = (count_of(config.duplicate_rate, n) as usize).min(dups.len());
        dups.partial_shuffle(rng, k);
        dups.truncate(k);
        dups.sort_unstable();
        for i in dups {
            let original = self.plan[i as usize].arrival_ms;
            self.plan.push(Planned {
                arrival_ms: original + rng.random_range(1_000..=120_000),
                order: self.plan.len() as u32,
                source: Source::Tx(i),
                kind: RecordKind::Duplicate,
            });
            self.truth
                .duplicates
                .push(TransactionId::new(self.tx_id(i as usize)));
        }
    }

    pub(super) fn plan_malformed(
        &mut self,
        config: &GeneratorConfig,
        rng: &mut ChaCha8Rng,
        day_start: i64,
    ) {
        let k = count_of(config.malformed_rate, self.txs.len() as u64);
        let pop = &self.population;
        for j in 0..k as usize {
            let a = rng.random_range(0..pop.accounts.len());
            let m = pop.merchant_pick.pick(rng);
            let base = Tx {
                time_ms: day_start + rng.random_range(0..MS_PER_DAY),
                account: a as u32,
                card: 0,
                device: DeviceRef::Known(0),
                merchant: m as u32,
                product: pop.pick_product(rng, m),
                amount: pop.normal_amount(rng, a),
                currency: pop.merchants[m].currency,
                country: pop.merchants[m].country,
                location: pop.local_point(rng, a),
                channel: pop.merchants[m].channel,
                case: NO_CASE,
            };
            let id = format!("tx-{}-m{:07}", self.day_tag, j + 1);
            let (bytes, reason) = malformed::corrupt(&self.materialize(&base, id), j);
            self.malformed
                .push((account_id(base.account), bytes, reason));
            self.plan.push(Planned {
                arrival_ms: base.time_ms,
                order: self.plan.len() as u32,
                source: Source::Malformed(j as u32),
                kind: RecordKind::Malformed,
            });
        }
    }

    pub(super) fn finish(&mut self, day: &Date) {
        self.plan.sort_by_key(|p| (p.arrival_ms, p.order));
        let day_text = format!("{day}");
        for (index, p) in self.plan.iter().enumerate() {
            if let Source::Malformed(j) = p.source {
                let (key, bytes, reason) = &self.malformed[j as usize];
                self.truth.malformed.push(MalformedRecord {
                    record_index: index as u64,
                    partition_key: key.clone(),
                    data: String::from_utf8_lossy(bytes).into_owned(),
                    reason: reason.clone(),
                });
            }
        }
        let mut merchants: BTreeMap<u32, (i64, u64)> = BTreeMap::new();
        let mut products: BTreeMap<u32, (i64, u64)> = BTreeMap::new();
        for t in &self.txs {
            let m = merchants.entry(t.merchant).or_default();
            m.0 += t.amount;
            m.1 += 1;
            let p = products.entry(t.product).or_default();
            p.0 += t.amount;
            p.1 += 1;
        }
        let pop = &self.population;
        self.truth.merchant_totals = merchants
            .into_iter()
            .map(|(m, (revenue_minor, count))| MerchantTotal {
                day: day_text.clone(),
                merchant_id: MerchantId::new(merchant_id(m)),
                currency: pop.merchants[m as usize].currency,
                revenue_minor,
                count,
            })
            .collect();
        self.truth.product_totals = products
            .into_iter()
            .map(|(p, (revenue_minor, count))| {
                let m = pop.product_merchant[p as usize];
                ProductTotal {
                    day: day_text.clone(),
                    product_id: ProductId::new(self.product_id(p)),
                    merchant_id: MerchantId::new(merchant_id(m)),
                    currency: pop.merchants[m as usize].currency,
                    revenue_minor,
                    count,
                }
            })
            .collect();
        let fraud_transactions = self
            .truth
            .fraud
            .iter()
            .map(|c| c.transaction_ids.len())
            .sum::<usize>();
        self.truth.counts = Counts {
            records: self.plan.len() as u64,
            transactions: self.txs.len() as u64,
            duplicates: self.truth.duplicates.len() as u64,
            late: self.truth.late.len() as u64,
            malformed: self.malformed.len() as u64,
            fraud_cases: self.truth.fraud.len() as u64,
            fraud_transactions: fraud_transactions as u64,
        };
    }
}
