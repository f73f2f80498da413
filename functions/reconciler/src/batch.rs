//! The batch side: a day's archived records → de-duplicated, validated totals.
//!
//! Records are first keyed by (shard, sequence number) — overlapping objects from a
//! differently split retry collapse here — and then processed in that order, so the
//! result never depends on S3's listing order. Each record is validated exactly as the
//! archiver did (processing time = its arrival time), transactions are de-duplicated by
//! id (the generator re-sends duplicates byte-identically), and only transactions whose
//! EVENT day is the reconciled day count (the archive's `dt=` is the arrival day for
//! records that do not validate).

use std::collections::{BTreeMap, HashSet};

use archiver::format::{ArchiveLine, day_of_ms};
use monitoring::validate::Validator;
use serde::{Deserialize, Serialize};
use shardwise::SequenceNumber;

use crate::totals::{Sale, Totals, add_sale};

/// Hours in a day (chart buckets).
pub const HOURS: usize = 24;
const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;
/// Reason code for archive lines whose `data_b64` is not base64 or whose sequence is bad.
pub const UNREADABLE_LINE: &str = "unreadable_archive_line";

/// What the batch side saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCounts {
    /// Archive lines read (before de-duplication).
    pub raw_lines: u64,
    /// Lines that repeated an earlier (shard, sequence).
    pub duplicate_records: u64,
    /// Distinct records.
    pub records: u64,
    /// Records refused by validation (or unreadable).
    pub rejected: u64,
    /// Refused records by reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Valid records repeating an earlier transaction id.
    pub duplicate_transactions: u64,
    /// Valid, distinct transactions of another event day.
    pub other_day_transactions: u64,
    /// Valid, distinct transactions of the day (the totals' input).
    pub transactions: u64,
}

/// The batch side's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchTotals {
    /// Per-merchant and per-product totals.
    pub totals: Totals,
    /// Transactions per event-time hour (UTC).
    pub hourly: [u64; HOURS],
    /// Counts for the report.
    pub counts: BatchCounts,
}

/// Collects archive lines, keeping one per (shard, sequence).
#[derive(Debug, Default)]
pub struct RecordSet {
    records: BTreeMap<(String, SequenceNumber), ArchiveLine>,
    raw_lines: u64,
    unreadable: u64,
}

impl RecordSet {
    /// Adds one object's lines.
    pub fn extend(&mut self, lines: impl IntoIterator<Item = ArchiveLine>) {
        for line in lines {
            self.raw_lines += 1;
            match SequenceNumber::parse(&line.sequence) {
                Ok(seq) => {
                    self.records
                        .entry((line.shard.clone(), seq))
                        .or_insert(line);
                }
                Err(_) => self.unreadable += 1,
            }
        }
    }

    /// Validates, de-duplicates and totals the records of event day `day`.
    pub fn totals(&self, day: &str) -> BatchTotals {
        let validator = Validator::default();
        let mut out = BatchTotals::default();
        let c = &mut out.counts;
        c.raw_lines = self.raw_lines;
        c.records = self.records.len() as u64;
        c.duplicate_records = self.raw_lines.saturating_sub(c.records + self.unreadable);
        if self.unreadable > 0 {
            c.rejected += self.unreadable;
            *c.rejected_by_reason
                .entry(UNREADABLE_LINE.to_owned())
                .or_default() += self.unreadable;
        }
        let mut seen: HashSet<String> = HashSet::new();
        for line in self.records.values() {
            let Some(data) = line.data() else {
                c.rejected += 1;
                *c.rejected_by_reason
                    .entry(UNREADABLE_LINE.to_owned())
                    .or_default() += 1;
                continue;
            };
            let tx = match validator.validate(&data, line.arrival_ms) {
                Ok(tx) => tx,
                Err(reason) => {
                    c.rejected += 1;
                    *c.rejected_by_reason
                        .entry(reason.code().to_owned())
                        .or_default() += 1;
                    continue;
                }
            };
            if !seen.insert(tx.transaction_id.as_str().to_owned()) {
                c.duplicate_transactions += 1;
                continue;
            }
            let event_ms = tx.event_time.millis();
            if day_of_ms(event_ms) != day {
                c.other_day_transactions += 1;
                continue;
            }
            c.transactions += 1;
            let hour = usize::try_from(event_ms.rem_euclid(MS_PER_DAY) / MS_PER_HOUR).unwrap_or(0);
            if let Some(bucket) = out.hourly.get_mut(hour) {
                *bucket += 1;
            }
            add_sale(
                &mut out.totals,
                Sale {
                    merchant: tx.merchant_id.as_str(),
                    product: tx.product_id.as_str(),
                    currency: tx.amount.currency.code(),
                    amount_minor: tx.amount.minor,
                },
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totals::{Amount, Dimension, TotalKey};

    const ARRIVAL: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z

    fn tx(id: &str, merchant: &str, minor: i64, time: &str) -> Vec<u8> {
        format!(
            r#"{{"transaction_id":"{id}","account_id":"acc-1","card_id":"card-1","merchant_id":"{merchant}","mcc":"5411","product_id":"p-{merchant}","amount_minor":{minor},"currency":"EUR","event_time":"{time}","country":"DE","lat":52.5,"lon":13.4,"device_id":"dev-1","channel":"pos"}}"#
        )
        .into_bytes()
    }

    fn line(shard: &str, seq: &str, data: &[u8]) -> ArchiveLine {
        ArchiveLine::new(shard, seq, ARRIVAL, "acc-1", data)
    }

    fn merchant(id: &str) -> TotalKey {
        TotalKey {
            dimension: Dimension::Merchant,
            id: id.into(),
            currency: "EUR".into(),
        }
    }

    #[test]
    fn overlapping_objects_and_duplicate_transactions_count_once() {
        let a = tx("t1", "m1", 1000, "2026-11-21T10:00:00Z");
        let b = tx("t2", "m1", 250, "2026-11-21T10:30:00Z");
        let mut set = RecordSet::default();
        set.extend([line("s0", "1", &a), line("s0", "2", &b)]);
        // A differently split retry re-archived sequence 2; the producer re-sent t1.
        set.extend([line("s0", "2", &b), line("s0", "3", &a)]);
        let out = set.totals("2026-11-21");
        assert_eq!(
            out.totals[&merchant("m1")],
            Amount {
                revenue_minor: 1250,
                count: 2
            }
        );
        assert_eq!(out.counts.raw_lines, 4);
        assert_eq!(out.counts.duplicate_records, 1);
        assert_eq!(out.counts.duplicate_transactions, 1);
        assert_eq!(out.counts.transactions, 2);
        assert_eq!(out.hourly[10], 2);
        assert_eq!(out.hourly.iter().sum::<u64>(), 2);
    }

    #[test]
    fn the_same_sequence_on_another_shard_is_a_different_record() {
        let mut set = RecordSet::default();
        set.extend([
            line("s0", "1", &tx("t1", "m1", 1, "2026-11-21T00:00:00Z")),
            line("s1", "1", &tx("t2", "m1", 2, "2026-11-21T00:00:00Z")),
        ]);
        assert_eq!(set.totals("2026-11-21").totals[&merchant("m1")].count, 2);
    }

    #[test]
    fn invalid_records_are_counted_by_reason_and_other_days_are_left_out() {
        let mut set = RecordSet::default();
        set.extend([
            line("s0", "1", b"{\"transaction_id\":"),
            line("s0", "2", &tx("t1", "m1", -5, "2026-11-21T00:00:00Z")),
            line("s0", "3", &tx("t2", "m1", 5, "2026-11-20T23:59:59.999Z")),
            ArchiveLine {
                data_b64: "%%%".into(),
                ..line("s0", "4", b"")
            },
            line("s0", "x", b"{}"),
        ]);
        let out = set.totals("2026-11-21");
        assert!(out.totals.is_empty());
        assert_eq!(out.counts.rejected, 4);
        assert_eq!(out.counts.rejected_by_reason["malformed_json"], 1);
        assert_eq!(out.counts.rejected_by_reason["non_positive_amount"], 1);
        assert_eq!(out.counts.rejected_by_reason[UNREADABLE_LINE], 2);
        assert_eq!(out.counts.other_day_transactions, 1);
    }
}
