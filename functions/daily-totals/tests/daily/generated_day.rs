//! A generated day (disorder, late events 1–6 h late, duplicates, malformed records)
//! through the in-memory driver: the final totals equal the generator's ground truth to
//! the cent, minus exactly the events the late side output holds.

use daily_totals::{DailyTotals, Dimension};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use shardwise::{EventTime, PartitionKey, RecordMeta, SequenceNumber, ShardId};

use crate::driver::Driver;
use crate::scenario::Scenario;

/// The bounded out-of-orderness the driver subtracts from processing time.
const OUT_OF_ORDERNESS_MS: i64 = 10_000;

#[test]
fn a_generated_day_matches_ground_truth_to_the_cent_minus_exactly_the_late_side_output() {
    let s = Scenario::new(7, 4_000, OUT_OF_ORDERNESS_MS);
    let ops = Dimension::ALL
        .map(|d| DailyTotals::new(d, s.config))
        .to_vec();
    let mut driver = Driver::new(ops);
    let mut dead = Vec::new();
    // The watermark is read at the start of each batch.
    for batch in s.batches(&mut SmallRng::seed_from_u64(3)) {
        if s.arrival[batch.start] > i64::MIN {
            driver.advance(EventTime(s.arrival[batch.start] - OUT_OF_ORDERNESS_MS));
        }
        for n in batch {
            let event = match &s.decoded[n] {
                Ok(t) => t,
                Err(e) => {
                    dead.push((n as u64, e.to_string()));
                    continue;
                }
            };
            let meta = RecordMeta {
                shard: ShardId("shardId-000000000000".into()),
                sequence: SequenceNumber::parse(&(n + 1).to_string()).unwrap(),
                partition_key: PartitionKey(s.records[n].partition_key.clone()),
                arrival: EventTime(s.arrival[n]),
            };
            driver.apply(&meta, event);
        }
    }
    driver.advance(EventTime::MAX);
    assert_eq!(driver.pending_timers(), 0);
    let late = s.check(&driver.written.outputs, &driver.written.late, &dead);
    let updated = driver.written.writes.values().filter(|&&n| n > 1).count();
    println!(
        "records {}, late (side output) {late}, items updated by allowed-late events {updated}, keys {}",
        s.records.len(),
        driver.keys()
    );
    assert!(
        updated > 0,
        "the scenario must exercise allowed-late updates"
    );
}
