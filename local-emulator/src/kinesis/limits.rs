//! Per-shard throughput limits, enforced only when `Config::kinesis_enforce_limits` asks
//! for it, so users can see throttling locally.
//!
//! AWS quotas ([service-sizes-and-limits]): per shard, writes up to 1 MiB/s **and**
//! 1,000 records/s; reads up to 5 GetRecords calls/s and 2 MiB/s. Writes are counted in
//! one-second windows of emulated time. Reads use a byte *debt* that drains at 2 MiB/s,
//! which reproduces AWS's documented effect that after one 10 MiB GetRecords response
//! the calls of the next ~5 seconds are throttled.
//!
//! [service-sizes-and-limits]: https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html

/// Write quota per shard and second, in bytes (partition key + data).
pub(crate) const WRITE_BYTES_PER_SEC: u64 = 1024 * 1024;
/// Write quota per shard and second, in records.
pub(crate) const WRITE_RECORDS_PER_SEC: u64 = 1_000;
/// Read quota per shard and second, in bytes.
pub(crate) const READ_BYTES_PER_SEC: u64 = 2 * 1024 * 1024;
/// Read quota per shard and second, in GetRecords calls.
pub(crate) const READ_CALLS_PER_SEC: u32 = 5;

/// The usage counters of one shard.
#[derive(Debug, Default)]
pub(crate) struct ShardLimits {
    write_second: u64,
    write_bytes: u64,
    write_records: u64,
    read_second: u64,
    read_calls: u32,
    read_debt_bytes: u64,
    read_debt_at_millis: u64,
}

impl ShardLimits {
    /// Admits one record of `bytes` at `now_millis`, or refuses it (nothing counted).
    pub(crate) fn admit_write(&mut self, now_millis: u64, bytes: u64) -> bool {
        let second = now_millis / 1000;
        if second != self.write_second {
            self.write_second = second;
            self.write_bytes = 0;
            self.write_records = 0;
        }
        if self.write_records + 1 > WRITE_RECORDS_PER_SEC
            || self.write_bytes + bytes > WRITE_BYTES_PER_SEC
        {
            return false;
        }
        self.write_records += 1;
        self.write_bytes += bytes;
        true
    }

    /// Admits one GetRecords call at `now_millis`, or refuses it.
    pub(crate) fn admit_read_call(&mut self, now_millis: u64) -> bool {
        self.drain_debt(now_millis);
        let second = now_millis / 1000;
        if second != self.read_second {
            self.read_second = second;
            self.read_calls = 0;
        }
        if self.read_calls >= READ_CALLS_PER_SEC || self.read_debt_bytes >= READ_BYTES_PER_SEC {
            return false;
        }
        self.read_calls += 1;
        true
    }

    /// Records the bytes an admitted call returned.
    pub(crate) fn charge_read(&mut self, bytes: u64) {
        self.read_debt_bytes = self.read_debt_bytes.saturating_add(bytes);
    }

    fn drain_debt(&mut self, now_millis: u64) {
        let elapsed = now_millis.saturating_sub(self.read_debt_at_millis);
        let drained = elapsed.saturating_mul(READ_BYTES_PER_SEC) / 1000;
        self.read_debt_bytes = self.read_debt_bytes.saturating_sub(drained);
        self.read_debt_at_millis = now_millis.max(self.read_debt_at_millis);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_1001st_record_in_a_second_is_refused_and_the_next_second_admits_again() {
        let mut l = ShardLimits::default();
        for _ in 0..1_000 {
            assert!(l.admit_write(5_000, 10));
        }
        assert!(!l.admit_write(5_999, 10));
        assert!(l.admit_write(6_000, 10));
    }

    #[test]
    fn writes_over_one_mebibyte_per_second_are_refused() {
        let mut l = ShardLimits::default();
        assert!(l.admit_write(0, WRITE_BYTES_PER_SEC - 10));
        assert!(!l.admit_write(10, 11));
        assert!(l.admit_write(10, 10));
    }

    #[test]
    fn a_sixth_read_call_in_a_second_is_refused() {
        let mut l = ShardLimits::default();
        for _ in 0..5 {
            assert!(l.admit_read_call(1_000));
        }
        assert!(!l.admit_read_call(1_500));
        assert!(l.admit_read_call(2_000));
    }

    #[test]
    fn a_ten_mebibyte_read_throttles_the_following_seconds() {
        let mut l = ShardLimits::default();
        assert!(l.admit_read_call(10_000));
        l.charge_read(10 * 1024 * 1024);
        assert!(!l.admit_read_call(12_000));
        assert!(l.admit_read_call(14_100));
    }
}
