//! When each account transacts: counts per account and the normal transactions' times.
//!
//! The day is cut into [`SLOTS`] slots of [`SLOT_MS`] (10 min 2 s); an account uses a slot
//! at most once, at an offset below half a slot. So two normal transactions of one
//! account are always ≥ 301 s apart and three always span > 15 min: no 10-minute window
//! ever holds three normal transactions of an account, whatever the amounts. Slots are
//! drawn by the hour-of-day intensity curve (daily seasonality). A fraud account's normal
//! transactions all lie ≥ 15 min before its case: the case ends its day, so no normal
//! transaction after it is judged against a profile the fraud distorted.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::fraud::{CasePlan, QUIET_MARGIN_MS};
use super::population::{HOMES, Population};
use super::sampling::{HOURLY_INTENSITY, Weighted};
use super::tx::{DeviceRef, NO_CASE, Tx};
use crate::model::CountryCode;

/// Length of a slot.
pub const SLOT_MS: i64 = 602_000;
/// Slots in a day (143 × 602 s = 23 h 54 min 46 s).
pub const SLOTS: usize = 143;
/// A transaction starts in the first half of its slot.
pub const SLOT_OFFSET_MS: i64 = SLOT_MS / 2;
/// Most normal transactions one account gets in a day.
pub const MAX_PER_ACCOUNT: u32 = 48;
/// Normal transactions a fraud account gets before its case starts (so profile-based
/// detectors have history: running means over ≥ 3 prior amounts).
pub const HISTORY_BEFORE_CASE: u32 = 4;
/// Most normal transactions of a fraud account (all before its case, which starts at
/// noon at the earliest: 70 slots are free before it).
pub const MAX_PER_FRAUD_ACCOUNT: u32 = 30;

/// Splits `total` normal transactions among accounts by activity, at most
/// [`MAX_PER_ACCOUNT`] each; fraud accounts (`reserved`) start with [`HISTORY_BEFORE_CASE`].
pub fn allocate(rng: &mut ChaCha8Rng, pop: &Population, total: u64, reserved: &[u32]) -> Vec<u32> {
    let n = pop.accounts.len();
    let mut counts = vec![0_u32; n];
    let mut left = total;
    for &a in reserved {
        counts[a as usize] = HISTORY_BEFORE_CASE;
        left = left.saturating_sub(u64::from(HISTORY_BEFORE_CASE));
    }
    let mut cap = vec![MAX_PER_ACCOUNT; n];
    for &a in reserved {
        cap[a as usize] = MAX_PER_FRAUD_ACCOUNT;
    }
    let pick = Weighted::new(pop.accounts.iter().map(|a| a.activity));
    while left > 0 {
        let mut a = pick.pick(rng);
        // A full account passes its draw on to the next one (capacity was checked).
        while counts[a] >= cap[a] {
            a = (a + 1) % n;
        }
        counts[a] += 1;
        left -= 1;
    }
    counts
}

/// The normal transactions of account `a` (`count` of them) on the day starting at
/// `day_start_ms`, avoiding the quiet window around `case` if the account has one.
pub fn normal_transactions(
    rng: &mut ChaCha8Rng,
    pop: &Population,
    a: usize,
    count: u32,
    day_start_ms: i64,
    case: Option<&CasePlan>,
) -> Vec<Tx> {
    let mut blocked = [false; SLOTS];
    let slot_start = |s: usize| day_start_ms + s as i64 * SLOT_MS;
    let mut chosen = Vec::with_capacity(count as usize);
    if let Some(case) = case {
        // The case is the account's last activity of the day (the bank blocks the card),
        // and its quiet margin keeps normal transactions ≥ 15 min before it.
        let quiet_from = case.start_ms - QUIET_MARGIN_MS;
        for (s, b) in blocked.iter_mut().enumerate() {
            *b = slot_start(s) + SLOT_OFFSET_MS > quiet_from;
        }
    }
    let by_hour = Weighted::new((0..SLOTS).map(|s| HOURLY_INTENSITY[(s * 24) / SLOTS]));
    while chosen.len() < count as usize {
        let s = by_hour.pick(rng);
        if !blocked[s] {
            blocked[s] = true;
            chosen.push(s);
        }
    }
    chosen.sort_unstable();
    let acc = &pop.accounts[a];
    let country = CountryCode::parse(HOMES[acc.home].country).unwrap_or(CountryCode::FALLBACK);
    chosen
        .into_iter()
        .map(|s| {
            let m = pop.merchant_pick.pick(rng);
            Tx {
                time_ms: slot_start(s) + rng.random_range(0..SLOT_OFFSET_MS),
                account: a as u32,
                card: rng.random_range(0..acc.cards),
                device: DeviceRef::Known(rng.random_range(0..acc.devices)),
                merchant: m as u32,
                product: pop.pick_product(rng, m),
                amount: pop.normal_amount(rng, a),
                currency: pop.merchants[m].currency,
                country,
                location: pop.local_point(rng, a),
                channel: pop.merchants[m].channel,
                case: NO_CASE,
            }
        })
        .collect()
}
