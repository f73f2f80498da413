//! A seeded, deterministic generator of one day of card traffic, with ground truth.
//!
//! Same [`GeneratorConfig`] (seed included) ⇒ byte-identical records and ground truth on
//! every platform: randomness is ChaCha8 (`rand_chacha`, specified output, one stream per
//! concern so adding draws in one place does not reshuffle the others), and amounts use
//! only correctly-rounded float operations (`sampling`). Nothing reads the clock.
//!
//! ## Layout
//! - `sampling` — platform-stable exp/normal/weighted choice, the hour-of-day curve.
//! - `population` — accounts, merchants, products and the static place/category tables.
//! - `timeline` — how many transactions each account makes and when.
//! - `fraud` — the injected patterns (shapes and first-detectable positions).
//! - `malformed` — single-defect records and the reason a validator must give.
//! - `truth` — [`GroundTruth`] and its JSON Lines form.
//! - `score` — precision/recall of a detector's alerts against the ground truth.
//!
//! ## Statistical guarantees (what makes the patterns detectable and normal traffic clean)
//! These hold by construction, not just on average, so a detector with the thresholds
//! below reaches precision and recall of 1.0 on the generated day (the tests check it):
//! 1. **Amounts.** A normal amount is `median · e^{σz}` with `z` truncated to ±2,
//!    σ ≤ 0.35, median 6.00–250.00 EUR. So every normal amount is ≥ 2.98 EUR and at most
//!    `e^{4σ} ≤ 4.06×` any average of the same account's normal amounts. Outliers are
//!    30–60 × median (≥ 14.9× such an average); new-device amounts 10–15 × median
//!    (≥ 4.97×). Rules: outlier if amount ≥ 8× the mean of ≥ 3 prior amounts;
//!    new device if the device is unseen and amount ≥ 4.5× that mean.
//! 2. **Velocity.** An account's normal transactions are ≥ 301 s apart, and any three
//!    span > 15 min (`timeline`), so no 10-minute window holds three of them: the rule
//!    R1 (COUNT ≥ 3 AND SUM > 2,000.00 in a 10-minute window) fires only on velocity
//!    spikes, whose first three amounts sum to ≥ 2,100.00 EUR within 220 s.
//! 3. **Small amounts.** No normal amount is below 2.00 EUR; card testing sends ≥ 8
//!    amounts below 2.00 EUR within 10 minutes. Rule: ≥ 5 such amounts within 10 minutes.
//! 4. **Travel.** Normal transactions are within ±0.1° of the account's home (< 35 km
//!    apart); impossible travel jumps ≥ 5,000 km within 90 minutes (> 3,300 km/h).
//!    Rule: > 500 km from the previous transaction at > 1,000 km/h.
//! 5. **Isolation.** One case per fraud account, starting 12:00–20:00 UTC; it is the
//!    account's last activity of the day (as if the card were blocked), ≥ 15 minutes
//!    after the account's previous transaction, with 4–30 normal transactions before it.
//! 6. **Order.** Arrival = event time + U[0, `max_disorder_ms`] with `max_disorder_ms` <
//!    10 s, the smallest gap between two transactions of one account, so each account's
//!    records arrive in event-time order, except late events (normal transactions of
//!    non-fraud accounts, delivered 1–6 h late) and duplicates (re-sent 1–120 s later).
//!
//! Proportions are exact: `round(fraud_account_ratio · accounts)` cases, patterns assigned
//! round-robin (each pattern within one of the others), `round(rate · transactions)`
//! duplicates, late events and malformed records.

mod arrival;
mod fraud;
mod malformed;
mod population;
mod sampling;
mod score;
mod timeline;
mod truth;
mod tx;

use std::io::{self, Write};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

pub use fraud::{CARD_TESTING_CEILING_MINOR, FraudPattern};
pub use malformed::DEFECTS as MALFORMED_DEFECT_KINDS;
pub use score::{PatternScore, Score, score_alerts};
pub use truth::{
    Counts, FraudCase, GroundTruth, MalformedRecord, MerchantTotal, ProductTotal, TruthLine,
};

use crate::model::{
    AccountId, CardId, DeviceId, EventTime, Mcc, MerchantId, Money, ProductId, Transaction,
    TransactionId,
};
use population::Population;
use tx::{DeviceRef, NO_CASE, Tx};

const MS_PER_DAY: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
// Every case ends on its own day.
const _: () = assert!(fraud::LATEST_START_MS + fraud::MAX_CASE_SPAN_MS < MS_PER_DAY);

/// What to generate. Every field has a default; JSON input may give any subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratorConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Distinct valid transactions (normal + fraud).
    pub transactions: u64,
    /// Accounts (default: transactions / 10, at least 20).
    pub accounts: Option<u64>,
    /// Domestic merchants (default: accounts / 40, at least 20).
    pub merchants: Option<u64>,
    /// Fraction of accounts that get one fraud case.
    pub fraud_account_ratio: f64,
    /// Fraction of transactions re-sent once more, byte-identically.
    pub duplicate_rate: f64,
    /// Whether some transactions arrive hours late.
    pub late_events: bool,
    /// Fraction of transactions delivered late (when `late_events`).
    pub late_rate: f64,
    /// Malformed records, as a fraction of `transactions`.
    pub malformed_rate: f64,
    /// Largest arrival delay of an on-time record (bounded disorder), < 10,000 ms.
    pub max_disorder_ms: i64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            day: "2026-11-21".to_owned(),
            transactions: 100_000,
            accounts: None,
            merchants: None,
            fraud_account_ratio: 0.02,
            duplicate_rate: 0.005,
            late_events: true,
            late_rate: 0.002,
            malformed_rate: 0.001,
            max_disorder_ms: 3_000,
        }
    }
}

/// Why a configuration cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    /// `day` is not `YYYY-MM-DD`.
    #[error("day `{0}` is not a YYYY-MM-DD date")]
    InvalidDay(String),
    /// A rate is outside 0..=1.
    #[error("{0} must be between 0 and 1")]
    InvalidRate(&'static str),
    /// Disorder would break per-account order.
    #[error("max_disorder_ms must be in 0..10000 (the smallest gap within one account)")]
    InvalidDisorder,
    /// Too few transactions for the fraud cases and their history.
    #[error("{transactions} transactions cannot hold {needed} fraud and history transactions")]
    TooFewTransactions {
        /// Configured.
        transactions: u64,
        /// Needed by the fraud cases.
        needed: u64,
    },
    /// Too many transactions for the accounts.
    #[error("{accounts} accounts cannot make {transactions} transactions (at most 48 each)")]
    TooFewAccounts {
        /// Accounts.
        accounts: u64,
        /// Transactions requested.
        transactions: u64,
    },
}

/// What a record is, for the generator's bookkeeping (not sent on the stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A valid transaction, on time (within the disorder bound).
    Valid,
    /// A valid transaction delivered hours after its event time.
    Late,
    /// A byte-identical re-send of an earlier record.
    Duplicate,
    /// A record a validator must reject.
    Malformed,
}

/// One record to put on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Kinesis partition key: the account id.
    pub partition_key: String,
    /// Record bytes (the transaction JSON, or a malformed variant).
    pub data: Vec<u8>,
    /// What it is.
    pub kind: RecordKind,
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Tx(u32),
    Malformed(u32),
}

#[derive(Debug, Clone, Copy)]
struct Planned {
    arrival_ms: i64,
    order: u32,
    source: Source,
    kind: RecordKind,
}

/// A generated day: records in arrival order plus the ground truth.
#[derive(Debug, Clone)]
pub struct Generated {
    population: Population,
    day_tag: String,
    txs: Vec<Tx>,
    malformed: Vec<(String, Vec<u8>, crate::validate::RejectReason)>,
    plan: Vec<Planned>,
    truth: GroundTruth,
}

/// Runs the generator.
pub fn generate(config: &GeneratorConfig) -> Result<Generated, GeneratorError> {
    let day = Date::parse(&config.day, format_description!("[year]-[month]-[day]"))
        .map_err(|_| GeneratorError::InvalidDay(config.day.clone()))?;
    for (name, rate) in [
        ("fraud_account_ratio", config.fraud_account_ratio),
        ("duplicate_rate", config.duplicate_rate),
        ("late_rate", config.late_rate),
        ("malformed_rate", config.malformed_rate),
    ] {
        if !(0.0..=1.0).contains(&rate) {
            return Err(GeneratorError::InvalidRate(name));
        }
    }
    if !(0..10_000).contains(&config.max_disorder_ms) {
        return Err(GeneratorError::InvalidDisorder);
    }
    let day_start = day.midnight().assume_utc().unix_timestamp() * 1000;
    let day_tag = format!(
        "{:04}{:02}{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    let n = config.transactions;
    let n_accounts = config.accounts.unwrap_or((n / 10).max(20)).max(1);
    let n_merchants = config.merchants.unwrap_or((n_accounts / 40).max(20)).max(1);
    let stream = |k: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(k);
        rng
    };

    let population =
        Population::generate(&mut stream(1), n_accounts as usize, n_merchants as usize);

    // Fraud cases: patterns round-robin after a seeded shuffle, accounts drawn without
    // replacement, starts uniform in 06:00–20:00.
    let mut rng = stream(2);
    let n_cases = count_of(config.fraud_account_ratio, n_accounts).min(n_accounts);
    let mut patterns = FraudPattern::ALL;
    patterns.shuffle(&mut rng);
    let mut accounts: Vec<u32> = (0..n_accounts as u32).collect();
    accounts.shuffle(&mut rng);
    let mut cases: Vec<fraud::CasePlan> = (0..n_cases as usize)
        .map(|i| {
            let mut plan = fraud::plan(&mut rng, patterns[i % patterns.len()]);
            plan.account = accounts[i];
            plan.start_ms =
                day_start + rng.random_range(fraud::EARLIEST_START_MS..=fraud::LATEST_START_MS);
            plan
        })
        .collect();
    let fraud_txs: u64 = cases.iter().map(|c| c.size as u64).sum();
    let needed = fraud_txs + n_cases * u64::from(timeline::HISTORY_BEFORE_CASE);
    if needed > n {
        return Err(GeneratorError::TooFewTransactions {
            transactions: n,
            needed,
        });
    }
    let normal_total = n - fraud_txs;
    let capacity = (n_accounts - n_cases) * u64::from(timeline::MAX_PER_ACCOUNT)
        + n_cases * u64::from(timeline::MAX_PER_FRAUD_ACCOUNT);
    if normal_total > capacity {
        return Err(GeneratorError::TooFewAccounts {
            accounts: n_accounts,
            transactions: n,
        });
    }
    let fraud_accounts: Vec<u32> = cases.iter().map(|c| c.account).collect();
    let counts = timeline::allocate(&mut stream(3), &population, normal_total, &fraud_accounts);

    // Transactions: every account's normal day, then the cases.
    let mut rng = stream(4);
    let mut case_of = vec![NO_CASE; n_accounts as usize];
    for (i, c) in cases.iter().enumerate() {
        case_of[c.account as usize] = i as u32;
    }
    let mut txs: Vec<Tx> = Vec::with_capacity(n as usize);
    for (a, &count) in counts.iter().enumerate() {
        let case = cases.get(case_of[a] as usize);
        txs.extend(timeline::normal_transactions(
            &mut rng,
            &population,
            a,
            count,
            day_start,
            case,
        ));
    }
    for (i, c) in cases.iter_mut().enumerate() {
        txs.extend(fraud::transactions(&mut rng, &population, c, i as u32));
    }
    txs.sort_by_key(|t| (t.time_ms, t.account));
    let tx_id = |i: usize| format!("tx-{day_tag}-{:08}", i + 1);

    let mut generated = Generated {
        population,
        day_tag: day_tag.clone(),
        txs,
        malformed: Vec::new(),
        plan: Vec::new(),
        truth: GroundTruth {
            config: config.clone(),
            counts: Counts::default(),
            fraud: Vec::new(),
            duplicates: Vec::new(),
            late: Vec::new(),
            malformed: Vec::new(),
            merchant_totals: Vec::new(),
            product_totals: Vec::new(),
        },
    };
    generated.truth.fraud = fraud_truth(&generated, &cases, &tx_id);
    generated.plan_arrivals(config, &mut stream(5), &fraud_accounts);
    generated.plan_malformed(config, &mut stream(6), day_start);
    generated.finish(&day);
    Ok(generated)
}

/// `round(rate · n)`.
fn count_of(rate: f64, n: u64) -> u64 {
    // n < 2^53 in any realistic configuration, so the conversion is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let c = (rate * n as f64).round() as u64;
    c
}

fn fraud_truth(
    g: &Generated,
    cases: &[fraud::CasePlan],
    tx_id: &dyn Fn(usize) -> String,
) -> Vec<FraudCase> {
    let mut ids: Vec<Vec<TransactionId>> = vec![Vec::new(); cases.len()];
    for (i, t) in g.txs.iter().enumerate() {
        if t.case != NO_CASE {
            ids[t.case as usize].push(TransactionId::new(tx_id(i)));
        }
    }
    cases
        .iter()
        .zip(ids)
        .enumerate()
        .map(|(i, (c, transaction_ids))| FraudCase {
            case_id: format!("case-{:05}", i + 1),
            pattern: c.pattern,
            account_id: AccountId::new(account_id(c.account)),
            first_detectable: transaction_ids[c.first_detectable].clone(),
            transaction_ids,
        })
        .collect()
}

fn account_id(a: u32) -> String {
    format!("acc-{a:07}")
}

impl Generated {
    fn tx_id(&self, i: usize) -> String {
        format!("tx-{}-{:08}", self.day_tag, i + 1)
    }

    fn product_id(&self, p: u32) -> String {
        let m = self.population.product_merchant[p as usize];
        let local = p - self.population.merchants[m as usize].first_product;
        format!("p-{m:05}-{:02}", local + 1)
    }

    fn materialize(&self, t: &Tx, id: String) -> Transaction {
        let a = t.account;
        let m = &self.population.merchants[t.merchant as usize];
        let device = match t.device {
            DeviceRef::Known(d) => format!("dev-{a:07}-{}", d + 1),
            DeviceRef::Unseen => format!("dev-{a:07}-new"),
        };
        Transaction {
            transaction_id: TransactionId::new(id),
            account_id: AccountId::new(account_id(a)),
            card_id: CardId::new(format!("card-{a:07}-{}", t.card + 1)),
            merchant_id: MerchantId::new(merchant_id(t.merchant)),
            // Category codes come from a static table of four-digit codes.
            mcc: Mcc::parse(m.mcc).unwrap_or_else(|| unreachable!("static MCC table")),
            product_id: ProductId::new(self.product_id(t.product)),
            amount: Money::new(t.amount, t.currency),
            event_time: EventTime(t.time_ms),
            country: t.country,
            location: t.location,
            device_id: DeviceId::new(device),
            channel: t.channel,
        }
    }

    /// The ground truth.
    pub fn ground_truth(&self) -> &GroundTruth {
        &self.truth
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.plan.len()
    }

    /// True if there are no records.
    pub fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    /// The records in arrival order (serialized lazily).
    pub fn records(&self) -> impl Iterator<Item = Record> + '_ {
        self.plan.iter().map(|p| match p.source {
            Source::Tx(i) => {
                let t = &self.txs[i as usize];
                Record {
                    partition_key: account_id(t.account),
                    data: self.materialize(t, self.tx_id(i as usize)).to_json(),
                    kind: p.kind,
                }
            }
            Source::Malformed(j) => {
                let (key, bytes, _) = &self.malformed[j as usize];
                Record {
                    partition_key: key.clone(),
                    data: bytes.clone(),
                    kind: RecordKind::Malformed,
                }
            }
        })
    }

    /// Writes the records' data as JSON Lines (one record per line, arrival order);
    /// returns the number of lines. Malformed records never contain a newline.
    pub fn write_records_jsonl(&self, out: &mut impl Write) -> io::Result<u64> {
        let mut lines = 0;
        for r in self.records() {
            out.write_all(&r.data)?;
            out.write_all(b"\n")?;
            lines += 1;
        }
        Ok(lines)
    }
}

fn merchant_id(m: u32) -> String {
    format!("m-{m:05}")
}
