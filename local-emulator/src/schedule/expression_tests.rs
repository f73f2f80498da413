use super::*;
use time::macros::datetime;

fn next(expr: &str, after: OffsetDateTime) -> OffsetDateTime {
    Expression::parse(expr)
        .unwrap()
        .next_after(after, after)
        .unwrap()
}

fn invalid(expr: &str) {
    assert!(
        Expression::parse(expr).is_err(),
        "{expr} should be rejected"
    );
}

#[test]
fn rate_units_must_agree_with_the_value() {
    assert_eq!(
        Expression::parse("rate(1 minute)").unwrap(),
        Expression::Rate(Duration::from_secs(60))
    );
    assert_eq!(
        Expression::parse("rate(5 minutes)").unwrap(),
        Expression::Rate(Duration::from_secs(300))
    );
    assert_eq!(
        Expression::parse("rate(2 days)").unwrap(),
        Expression::Rate(Duration::from_secs(172_800))
    );
    invalid("rate(1 minutes)");
    invalid("rate(5 minute)");
    invalid("rate(0 minutes)");
    invalid("rate(-1 minutes)");
    invalid("rate(30 seconds)");
    invalid("rate(5)");
}

#[test]
fn rate_fires_every_period_after_the_start() {
    let start = datetime!(2026-01-01 00:00:00 UTC);
    let e = Expression::parse("rate(5 minutes)").unwrap();
    assert_eq!(
        e.next_after(start, start).unwrap(),
        datetime!(2026-01-01 00:05:00 UTC)
    );
    assert_eq!(
        e.next_after(start, datetime!(2026-01-01 00:05:00 UTC))
            .unwrap(),
        datetime!(2026-01-01 00:10:00 UTC)
    );
    assert_eq!(
        e.next_after(start, datetime!(2026-01-01 00:07:30 UTC))
            .unwrap(),
        datetime!(2026-01-01 00:10:00 UTC)
    );
}

#[test]
fn cron_requires_six_fields_and_exactly_one_question_mark() {
    invalid("cron(0 2 * * *)");
    invalid("cron(0 2 * * * * *)");
    invalid("cron(0 2 * * * *)");
    invalid("cron(0 2 ? * ? *)");
    invalid("cron(0 2 1 * MON *)");
    invalid("cron(60 2 * * ? *)");
    invalid("cron(0 24 * * ? *)");
    invalid("cron(0 2 32 * ? *)");
    invalid("cron(0 2 ? * 8 *)");
    invalid("cron(0 2 ? * 0 *)");
    invalid("cron(0 2 * 13 ? *)");
    invalid("cron(0 2 * * ? 2200)");
    invalid("cron(0 2 ? * 2#1,3#2 *)");
    invalid("cron(0 2 ? * 2#6 *)");
    invalid("cron(5-1 * * * ? *)");
}

#[test]
fn nightly_cron_fires_at_two_utc() {
    let after = datetime!(2026-03-10 14:00:00 UTC);
    assert_eq!(
        next("cron(0 2 * * ? *)", after),
        datetime!(2026-03-11 02:00:00 UTC)
    );
    assert_eq!(
        next("cron(0 2 * * ? *)", datetime!(2026-03-11 02:00:00 UTC)),
        datetime!(2026-03-12 02:00:00 UTC),
        "strictly after"
    );
}

#[test]
fn increments_and_ranges_are_honoured() {
    let after = datetime!(2026-03-10 08:07:00 UTC);
    assert_eq!(
        next("cron(0/15 * * * ? *)", after),
        datetime!(2026-03-10 08:15:00 UTC)
    );
    assert_eq!(
        next("cron(*/10 9-17 * * ? *)", after),
        datetime!(2026-03-10 09:00:00 UTC)
    );
    assert_eq!(
        next("cron(5,50 8 * * ? *)", after),
        datetime!(2026-03-10 08:50:00 UTC)
    );
}

#[test]
fn day_of_week_counts_sunday_as_one() {
    // 2026-03-10 is a Tuesday.
    let after = datetime!(2026-03-10 12:00:00 UTC);
    assert_eq!(
        next("cron(0 0 ? * 1 *)", after),
        datetime!(2026-03-15 00:00:00 UTC)
    );
    assert_eq!(
        next("cron(0 0 ? * MON-FRI *)", after),
        datetime!(2026-03-11 00:00:00 UTC)
    );
    assert_eq!(
        next("cron(0 0 ? * SAT *)", after),
        datetime!(2026-03-14 00:00:00 UTC)
    );
}

#[test]
fn last_day_and_nearest_weekday_in_day_of_month() {
    let after = datetime!(2026-02-01 00:00:00 UTC);
    assert_eq!(
        next("cron(0 0 L * ? *)", after),
        datetime!(2026-02-28 00:00:00 UTC)
    );
    // 2026-02-14 is a Saturday: nearest weekday is Friday the 13th.
    assert_eq!(
        next("cron(0 0 14W * ? *)", after),
        datetime!(2026-02-13 00:00:00 UTC)
    );
    // 2026-02-01 is a Sunday: 1W moves forward to Monday the 2nd (never to January).
    assert_eq!(
        next("cron(0 12 1W * ? *)", after),
        datetime!(2026-02-02 12:00:00 UTC)
    );
}

#[test]
fn nth_and_last_weekday_of_the_month() {
    let after = datetime!(2026-03-01 00:00:00 UTC);
    // Second Tuesday of March 2026 is the 10th; last Friday is the 27th.
    assert_eq!(
        next("cron(0 9 ? * 3#2 *)", after),
        datetime!(2026-03-10 09:00:00 UTC)
    );
    assert_eq!(
        next("cron(0 9 ? * 6L *)", after),
        datetime!(2026-03-27 09:00:00 UTC)
    );
}

#[test]
fn the_year_field_limits_firings() {
    let after = datetime!(2026-06-01 00:00:00 UTC);
    assert_eq!(
        next("cron(0 0 1 JAN ? 2028)", after),
        datetime!(2028-01-01 00:00:00 UTC)
    );
    let past = Expression::parse("cron(0 0 1 1 ? 2020)").unwrap();
    assert_eq!(past.next_after(after, after), None);
}

#[test]
fn a_one_time_at_expression_fires_once() {
    let e = Expression::parse("at(2030-01-01T02:00:00)").unwrap();
    let before = datetime!(2030-01-01 01:00:00 UTC);
    assert_eq!(
        e.next_after(before, before),
        Some(datetime!(2030-01-01 02:00:00 UTC))
    );
    let at = datetime!(2030-01-01 02:00:00 UTC);
    assert_eq!(e.next_after(before, at), None);
    invalid("at(2030-01-01 02:00)");
}
