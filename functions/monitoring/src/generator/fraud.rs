//! Injected fraud patterns: what each one looks like and where a detector can first see it.
//!
//! Each case belongs to one account (one case per account), starts between 12:00 and
//! 20:00 UTC, lasts at most [`MAX_CASE_SPAN_MS`], is the account's last activity of the
//! day and has no normal transaction of its account within [`QUIET_MARGIN_MS`] before
//! it (see `timeline`), so the rule that
//! matches its pattern first fires exactly at the case's `first_detectable` transaction:
//!
//! | pattern | shape | first detectable |
//! |---|---|---|
//! | card testing | 8–15 amounts of 0.50–1.99 EUR at e-commerce merchants, one card, an unseen device, 10–40 s apart | 5th (≥ 5 amounts < 2.00 EUR within 10 min) |
//! | velocity spike | 4–8 amounts of 700.00–1,200.00 EUR at distinct merchants, 30–110 s apart | 3rd (≥ 3 and sum > 2,000.00 EUR within 10 min) |
//! | impossible travel | a home purchase, then 20–90 min later 1–2 purchases ≥ 5,000 km away | the first far purchase (> 1,000 km/h) |
//! | amount outlier | one amount of 30–60 × the account's median, known device | that transaction |
//! | new device + high amount | one amount of 10–15 × median from a never-seen device | that transaction |

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::population::{FAR_AWAY, LOCAL_JITTER_MICRO, Population, jitter, round_minor};
use super::tx::{DeviceRef, Tx};
use crate::model::{Channel, CountryCode, Currency, GeoPoint};

/// The injected fraud patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudPattern {
    /// Many tiny amounts to check whether a stolen card works.
    CardTesting,
    /// Several large purchases in a few minutes.
    VelocitySpike,
    /// Purchases at places no one can travel between in the time elapsed.
    ImpossibleTravel,
    /// One amount far outside the account's spend profile.
    AmountOutlier,
    /// A high amount from a device the account never used.
    NewDeviceHighAmount,
}

impl FraudPattern {
    /// Every pattern; cases are assigned round-robin in this order after a seeded shuffle.
    pub const ALL: [Self; 5] = [
        Self::CardTesting,
        Self::VelocitySpike,
        Self::ImpossibleTravel,
        Self::AmountOutlier,
        Self::NewDeviceHighAmount,
    ];
}

/// Card-testing amounts stay below this (euro cents); no normal amount goes below it.
pub const CARD_TESTING_CEILING_MINOR: i64 = 200;
/// Minutes of quiet (no normal transaction of the account) around a case.
pub const QUIET_MARGIN_MS: i64 = 15 * 60 * 1000;
/// Longest a case lasts (impossible travel: ≤ 90 min + ≤ 20 min).
pub const MAX_CASE_SPAN_MS: i64 = 110 * 60 * 1000;
/// Earliest case start after midnight (room for all the account's normal transactions
/// before it).
pub const EARLIEST_START_MS: i64 = 12 * 3_600_000;
/// Latest case start after midnight (the case ends before the day does).
pub const LATEST_START_MS: i64 = 20 * 3_600_000;

/// A planned case before its transactions get ids.
#[derive(Debug, Clone, Copy)]
pub struct CasePlan {
    /// The pattern.
    pub pattern: FraudPattern,
    /// Account index.
    pub account: u32,
    /// Start, epoch ms.
    pub start_ms: i64,
    /// Number of transactions.
    pub size: usize,
    /// 0-based position (in time order) of the first detectable transaction.
    pub first_detectable: usize,
}

/// Draws a case's size and detection position (the account and start come later).
pub fn plan(rng: &mut ChaCha8Rng, pattern: FraudPattern) -> CasePlan {
    let (size, first_detectable) = match pattern {
        FraudPattern::CardTesting => (rng.random_range(8..=15), 4),
        FraudPattern::VelocitySpike => (rng.random_range(4..=8), 2),
        FraudPattern::ImpossibleTravel => (rng.random_range(2..=3), 1),
        FraudPattern::AmountOutlier | FraudPattern::NewDeviceHighAmount => (1, 0),
    };
    CasePlan {
        pattern,
        account: 0,
        start_ms: 0,
        size,
        first_detectable,
    }
}

/// The case's transactions, in time order.
pub fn transactions(rng: &mut ChaCha8Rng, pop: &Population, plan: &CasePlan, case: u32) -> Vec<Tx> {
    let a = plan.account as usize;
    let acc = &pop.accounts[a];
    let known_device = |rng: &mut ChaCha8Rng| DeviceRef::Known(rng.random_range(0..acc.devices));
    let card = rng.random_range(0..acc.cards);
    let home = home_country(pop, a);
    let mut out = Vec::with_capacity(plan.size);
    let mut t = plan.start_ms;
    let domestic = |rng: &mut ChaCha8Rng, t: i64, m: usize, amount: i64, device: DeviceRef| {
        let merchant = &pop.merchants[m];
        Tx {
            time_ms: t,
            account: plan.account,
            card,
            device,
            merchant: m as u32,
            product: pop.pick_product(rng, m),
            amount,
            currency: Currency::EUR,
            country: home,
            location: pop.local_point(rng, a),
            channel: merchant.channel,
            case,
        }
    };
    match plan.pattern {
        FraudPattern::CardTesting => {
            for i in 0..plan.size {
                if i > 0 {
                    t += rng.random_range(10_000..=40_000);
                }
                let m = if pop.ecommerce.is_empty() {
                    pop.merchant_pick.pick(rng)
                } else {
                    pop.ecommerce[rng.random_range(0..pop.ecommerce.len())]
                };
                let amount = rng.random_range(50..CARD_TESTING_CEILING_MINOR);
                out.push(domestic(rng, t, m, amount, DeviceRef::Unseen));
            }
        }
        FraudPattern::VelocitySpike => {
            let mut used: Vec<usize> = Vec::new();
            for i in 0..plan.size {
                if i > 0 {
                    t += rng.random_range(30_000..=110_000);
                }
                let mut m = pop.merchant_pick.pick(rng);
                // Distinct merchants where the catalogue allows it (bounded retries).
                for _ in 0..16 {
                    if !used.contains(&m) {
                        break;
                    }
                    m = pop.merchant_pick.pick(rng);
                }
                used.push(m);
                let amount = rng.random_range(70_000..=120_000);
                let device = known_device(rng);
                out.push(domestic(rng, t, m, amount, device));
            }
        }
        FraudPattern::ImpossibleTravel => {
            let m = pop.merchant_pick.pick(rng);
            let amount = pop.normal_amount(rng, a);
            let device = known_device(rng);
            out.push(domestic(rng, t, m, amount, device));
            let far = rng.random_range(0..FAR_AWAY.len());
            let place = &FAR_AWAY[far];
            let merchant = pop.domestic + far;
            let centre = GeoPoint {
                lat_micro: place.lat_micro,
                lon_micro: place.lon_micro,
            };
            t += rng.random_range(20 * 60_000..=90 * 60_000);
            for i in 1..plan.size {
                if i > 1 {
                    t += rng.random_range(6 * 60_000..=20 * 60_000);
                }
                let local = round_minor(pop.normal_amount(rng, a) as f64 * place.per_eur_cent);
                out.push(Tx {
                    time_ms: t,
                    account: plan.account,
                    card,
                    device: known_device(rng),
                    merchant: merchant as u32,
                    product: pop.pick_product(rng, merchant),
                    amount: local.max(1),
                    currency: pop.merchants[merchant].currency,
                    country: pop.merchants[merchant].country,
                    location: jitter(rng, centre, LOCAL_JITTER_MICRO),
                    channel: Channel::Pos,
                    case,
                });
            }
        }
        FraudPattern::AmountOutlier => {
            let m = pop.merchant_pick.pick(rng);
            let amount = round_minor(acc.median_minor * rng.random_range(30.0..=60.0));
            let device = known_device(rng);
            out.push(domestic(rng, t, m, amount, device));
        }
        FraudPattern::NewDeviceHighAmount => {
            let m = pop.merchant_pick.pick(rng);
            let amount = round_minor(acc.median_minor * rng.random_range(10.0..=15.0));
            out.push(domestic(rng, t, m, amount, DeviceRef::Unseen));
        }
    }
    out
}

fn home_country(pop: &Population, a: usize) -> CountryCode {
    let home = &super::population::HOMES[pop.accounts[a].home];
    CountryCode::parse(home.country).unwrap_or(CountryCode::FALLBACK)
}
