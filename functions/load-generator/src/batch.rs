//! Cutting the record stream into PutRecords requests.
//!
//! A request holds at most [`MAX_ENTRIES`] entries and [`MAX_REQUEST_BYTES`] of data plus
//! partition keys (AWS counts both toward the 5 MiB request limit), and — our ordering
//! choice — at most ONE record per partition key. PutRecords is not atomic: "failure of
//! individual records within a request does not stop the processing of subsequent
//! records" (Kinesis API reference, PutRecords), so an entry can fail while a later
//! entry for the same key succeeds, which would reorder that key. With one entry per key
//! per request, and the next request of a lane sent only once the previous one fully
//! succeeded (failed entries retried first), every account's records reach the stream in
//! generation order. A record whose key is already in the request is held for the next
//! one, together with that key's later records, while other keys keep filling the
//! request (see the lane loop in the crate root).

use std::collections::HashSet;

use monitoring::generator::Record;

/// Most entries in one PutRecords request (AWS limit).
pub const MAX_ENTRIES: usize = 500;
/// Most bytes (data + partition keys) in one PutRecords request (AWS limit, 5 MiB).
pub const MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;

/// Accumulates records into one request.
#[derive(Debug, Default)]
pub struct Batch {
    records: Vec<Record>,
    bytes: usize,
    keys: HashSet<String>,
}

impl Batch {
    /// True if `record` may join this request without breaking a limit or the
    /// one-record-per-key rule.
    pub fn accepts(&self, record: &Record) -> bool {
        let size = record.data.len() + record.partition_key.len();
        self.records.len() < MAX_ENTRIES
            && self.bytes + size <= MAX_REQUEST_BYTES
            && !self.keys.contains(&record.partition_key)
    }

    /// Adds a record (call [`Batch::accepts`] first).
    pub fn push(&mut self, record: Record) {
        self.bytes += record.data.len() + record.partition_key.len();
        self.keys.insert(record.partition_key.clone());
        self.records.push(record);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Takes the records, leaving the batch empty.
    pub fn take(&mut self) -> Vec<Record> {
        self.bytes = 0;
        self.keys.clear();
        std::mem::take(&mut self.records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitoring::generator::RecordKind;

    fn rec(key: &str, size: usize) -> Record {
        Record {
            partition_key: key.to_owned(),
            data: vec![b'x'; size],
            kind: RecordKind::Valid,
        }
    }

    #[test]
    fn a_batch_refuses_a_second_record_for_the_same_key() {
        let mut b = Batch::default();
        b.push(rec("a", 10));
        assert!(!b.accepts(&rec("a", 10)));
        assert!(b.accepts(&rec("b", 10)));
    }

    #[test]
    fn a_batch_respects_the_entry_and_byte_limits() {
        let mut b = Batch::default();
        for i in 0..MAX_ENTRIES {
            b.push(rec(&format!("k{i}"), 1));
        }
        assert!(!b.accepts(&rec("other", 1)));
        let mut big = Batch::default();
        big.push(rec("a", MAX_REQUEST_BYTES - 10));
        assert!(!big.accepts(&rec("b", 9)));
        assert!(big.accepts(&rec("b", 8)));
    }
}
