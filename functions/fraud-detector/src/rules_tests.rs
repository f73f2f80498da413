//! One test per rule (fires on its pattern, stays quiet just below it), plus the
//! out-of-order behaviour documented in `rules`.

use monitoring::model::{
    AccountId, CardId, Channel, CountryCode, Currency, DeviceId, EventTime, GeoPoint, Mcc,
    MerchantId, Money, ProductId, Transaction, TransactionId,
};

use super::*;
use crate::detector::FraudDetector;

const T0: i64 = 1_795_262_400_000; // 2026-11-21T12:00:00Z
const MIN: i64 = 60_000;
const BERLIN: (f64, f64) = (52.52, 13.405);
const NEW_YORK: (f64, f64) = (40.7128, -74.006);

fn tx(n: u32, at_ms: i64, amount: i64) -> Transaction {
    Transaction {
        transaction_id: TransactionId::new(format!("tx-{n}")),
        account_id: AccountId::new("acc-1"),
        card_id: CardId::new("card-1"),
        merchant_id: MerchantId::new("m-1"),
        mcc: Mcc::parse("5411").unwrap(),
        product_id: ProductId::new("p-1"),
        amount: Money::new(amount, Currency::EUR),
        event_time: EventTime(at_ms),
        country: CountryCode::parse("DE").unwrap(),
        location: GeoPoint::from_degrees(BERLIN.0, BERLIN.1).unwrap(),
        device_id: DeviceId::new("dev-1"),
        channel: Channel::Pos,
    }
}

/// An account with `n` normal 50.00 EUR purchases, 20 minutes apart, ending at T0.
fn history(n: u32) -> (FraudDetector, AccountState) {
    let d = FraudDetector::default();
    let mut s = AccountState::default();
    for i in 0..n {
        let at = T0 - i64::from(n - i) * 20 * MIN;
        assert!(d.apply(&mut s, &tx(1000 + i, at, 5_000)).is_none());
    }
    (d, s)
}

fn rules_of(d: &FraudDetector, s: &AccountState, t: &Transaction) -> Vec<Rule> {
    evaluate(d.config(), s, t)
}

#[test]
fn card_testing_fires_at_the_fifth_small_amount_within_ten_minutes() {
    let (d, mut s) = history(5);
    let mut fired_at = None;
    for i in 0..8 {
        let t = tx(i, T0 + i64::from(i) * 30_000, 150);
        if rules_of(&d, &s, &t).contains(&Rule::CardTesting) && fired_at.is_none() {
            fired_at = Some(i);
        }
        d.apply(&mut s, &t);
    }
    assert_eq!(fired_at, Some(4));
}

#[test]
fn small_amounts_spread_over_more_than_ten_minutes_are_not_card_testing() {
    let (d, mut s) = history(5);
    for i in 0..8 {
        let t = tx(i, T0 + i64::from(i) * 3 * MIN, 150);
        assert!(!rules_of(&d, &s, &t).contains(&Rule::CardTesting), "{i}");
        d.apply(&mut s, &t);
    }
}

#[test]
fn velocity_fires_on_the_third_large_purchase_when_the_sum_exceeds_two_thousand() {
    let (d, mut s) = history(5);
    let first = tx(1, T0, 70_000);
    let second = tx(2, T0 + MIN, 70_000);
    for t in [&first, &second] {
        assert!(!rules_of(&d, &s, t).contains(&Rule::Velocity));
        d.apply(&mut s, t);
    }
    assert!(rules_of(&d, &s, &tx(3, T0 + 2 * MIN, 70_000)).contains(&Rule::Velocity));
    // Exactly 2,000.00 is not above the limit.
    assert!(!rules_of(&d, &s, &tx(3, T0 + 2 * MIN, 60_000)).contains(&Rule::Velocity));
}

#[test]
fn impossible_travel_fires_on_a_far_purchase_sooner_than_a_plane_could_fly() {
    let (d, s) = history(5);
    let mut far = tx(1, T0 + 60 * MIN, 5_000);
    far.location = GeoPoint::from_degrees(NEW_YORK.0, NEW_YORK.1).unwrap();
    assert!(rules_of(&d, &s, &far).contains(&Rule::ImpossibleTravel));
    // Ten hours later, 6,400 km is plausible.
    far.event_time = EventTime(T0 + 600 * MIN);
    assert!(!rules_of(&d, &s, &far).contains(&Rule::ImpossibleTravel));
}

#[test]
fn nearby_purchases_in_quick_succession_are_not_travel() {
    let (d, s) = history(5);
    let mut near = tx(1, T0 + 1_000, 5_000);
    near.location = GeoPoint::from_degrees(BERLIN.0 + 0.1, BERLIN.1 - 0.1).unwrap();
    assert!(!rules_of(&d, &s, &near).contains(&Rule::ImpossibleTravel));
}

#[test]
fn amount_outlier_fires_at_eight_times_the_mean_but_only_with_three_amounts_of_history() {
    let (d, s) = history(5);
    assert!(rules_of(&d, &s, &tx(1, T0 + MIN, 40_000)).contains(&Rule::AmountOutlier));
    assert!(!rules_of(&d, &s, &tx(1, T0 + MIN, 39_999)).contains(&Rule::AmountOutlier));
    let (d, s) = history(2);
    assert!(!rules_of(&d, &s, &tx(1, T0 + MIN, 400_000)).contains(&Rule::AmountOutlier));
}

#[test]
fn an_amount_in_another_currency_is_not_compared_with_the_home_profile() {
    let (d, s) = history(5);
    let mut yen = tx(1, T0 + MIN, 400_000);
    yen.amount = Money::new(400_000, Currency::parse("JPY").unwrap());
    assert!(!rules_of(&d, &s, &yen).contains(&Rule::AmountOutlier));
}

#[test]
fn new_device_with_a_high_amount_fires_but_a_known_device_or_a_normal_amount_does_not() {
    let (d, s) = history(5);
    let mut t = tx(1, T0 + MIN, 25_000);
    t.device_id = DeviceId::new("dev-new");
    assert!(rules_of(&d, &s, &t).contains(&Rule::NewDeviceHighAmount));
    t.amount = Money::new(5_500, Currency::EUR);
    assert!(!rules_of(&d, &s, &t).contains(&Rule::NewDeviceHighAmount));
    let known = tx(2, T0 + MIN, 25_000);
    assert!(!rules_of(&d, &s, &known).contains(&Rule::NewDeviceHighAmount));
}

#[test]
fn burst_fires_above_the_velocity_limit_per_minute() {
    let (d, mut s) = history(5);
    for i in 0..5 {
        let t = tx(i, T0 + i64::from(i) * 10_000, 5_000);
        assert!(!rules_of(&d, &s, &t).contains(&Rule::Burst), "{i}");
        d.apply(&mut s, &t);
    }
    assert!(rules_of(&d, &s, &tx(9, T0 + 50_000, 5_000)).contains(&Rule::Burst));
    assert!(!rules_of(&d, &s, &tx(9, T0 + 70_000, 5_000)).contains(&Rule::Burst));
}

#[test]
fn high_amount_is_a_signal_that_alone_does_not_alert() {
    let d = FraudDetector::default();
    let mut s = AccountState::default();
    let big = tx(1, T0, 250_000);
    assert_eq!(rules_of(&d, &s, &big), [Rule::HighAmount]);
    assert!(d.apply(&mut s, &big).is_none());
}

#[test]
fn a_duplicate_transaction_neither_alerts_twice_nor_counts_twice() {
    let (d, mut s) = history(5);
    let outlier = tx(1, T0 + MIN, 250_000);
    let alert = d.apply(&mut s, &outlier).unwrap();
    assert_eq!(alert.rules, ["amount_outlier", "high_amount"]);
    let after_first = s.clone();
    assert!(d.apply(&mut s, &outlier).is_none());
    assert_eq!(s, after_first);
}

#[test]
fn an_older_event_that_completes_a_suspicious_window_fires_on_arrival() {
    let (d, mut s) = history(5);
    // Two large purchases at +9 and +10 minutes arrive first …
    d.apply(&mut s, &tx(1, T0 + 9 * MIN, 80_000));
    d.apply(&mut s, &tx(2, T0 + 10 * MIN, 80_000));
    // … then one at +1 minute: its own window (T0 − 9 min, T0 + 1 min] holds neither,
    // but the window ending at +10 minutes now holds all three.
    assert!(rules_of(&d, &s, &tx(3, T0 + MIN, 80_000)).contains(&Rule::Velocity));
    // At −1 minute it is outside every window of the newer two.
    assert!(!rules_of(&d, &s, &tx(3, T0 - MIN, 80_000)).contains(&Rule::Velocity));
    d.apply(&mut s, &tx(3, T0 - MIN, 80_000));
    // The late event did not move the last position back.
    assert_eq!(s.newest_ms(), Some(T0 + 10 * MIN));
}

#[test]
fn card_testing_is_found_whatever_order_the_small_amounts_arrive_in() {
    let (d, mut s) = history(5);
    let mut fired = false;
    for i in [4_i64, 0, 3, 1, 2] {
        let t = tx(i as u32, T0 + i * 30_000, 150);
        fired |= rules_of(&d, &s, &t).contains(&Rule::CardTesting);
        d.apply(&mut s, &t);
    }
    assert!(fired);
}

#[test]
fn an_event_hours_late_sees_no_evicted_window() {
    let (d, mut s) = history(5);
    for i in 0..4 {
        d.apply(
            &mut s,
            &tx(i, T0 - 3 * 60 * MIN + i64::from(i) * 1_000, 150),
        );
    }
    // The four small amounts were more than 10 minutes behind the newest event: gone.
    assert!(!rules_of(&d, &s, &tx(9, T0 - 3 * 60 * MIN + 5_000, 150)).contains(&Rule::CardTesting));
}

#[test]
fn alerted_transactions_do_not_teach_the_profile_or_the_devices() {
    let (d, mut s) = history(5);
    let mean_before = s.profile.amounts.mean();
    let mut t = tx(1, T0 + MIN, 60_000);
    t.device_id = DeviceId::new("dev-thief");
    assert!(d.apply(&mut s, &t).is_some());
    assert_eq!(s.profile.amounts.mean(), mean_before);
    assert!(!s.knows_device(crate::state::fnv1a("dev-thief")));
}
