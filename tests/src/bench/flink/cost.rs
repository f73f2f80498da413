//! The estimated AWS cost of a Shardwise run, per million events, at list prices.
//!
//! Prices are us-east-1 list prices, written down here (the benchmark machine has no
//! network to fetch them), with their sources:
//! - DynamoDB on-demand: <https://aws.amazon.com/dynamodb/pricing/on-demand/>. Issue 9
//!   states $1.25 per million write request units and $0.25 per million read request
//!   units ([`ISSUE_PRICES`], the default: conservative). AWS halved on-demand
//!   throughput prices on 2024-11-01 to $0.625 / $0.125 ([`US_EAST_1_2024_11`]; seen on
//!   2026-11-22 in third-party summaries of that announcement, not on the AWS page).
//! - Kinesis Data Streams, provisioned mode:
//!   <https://aws.amazon.com/kinesis/data-streams/pricing/>: $0.015 per shard-hour and
//!   $0.014 per million PUT payload units (25 KB each, rounded up per record).
//! - Lambda (x86): <https://aws.amazon.com/lambda/pricing/>: $0.0000166667 per GB-second
//!   and $0.20 per million requests.
//! - S3 Standard: <https://aws.amazon.com/s3/pricing/>: $0.005 per 1,000 PUT requests.
//!
//! Storage, data transfer and free tiers are left out: they do not scale with events in
//! a way a short benchmark can measure.

/// List prices in USD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceList {
    /// What the table calls these prices.
    pub name: &'static str,
    /// DynamoDB on-demand, per million write request units.
    pub dynamodb_per_million_wru: f64,
    /// DynamoDB on-demand, per million read request units.
    pub dynamodb_per_million_rru: f64,
    /// Kinesis, per shard-hour.
    pub kinesis_per_shard_hour: f64,
    /// Kinesis, per million PUT payload units.
    pub kinesis_per_million_put_units: f64,
    /// Lambda, per GB-second.
    pub lambda_per_gb_second: f64,
    /// Lambda, per million requests.
    pub lambda_per_million_requests: f64,
    /// S3, per 1,000 PUT requests.
    pub s3_per_thousand_puts: f64,
}

/// The prices stated in issue 9 (DynamoDB on-demand before the 2024-11 reduction).
pub const ISSUE_PRICES: PriceList = PriceList {
    name: "issue 9 list prices (DDB $1.25/M WRU)",
    dynamodb_per_million_wru: 1.25,
    dynamodb_per_million_rru: 0.25,
    kinesis_per_shard_hour: 0.015,
    kinesis_per_million_put_units: 0.014,
    lambda_per_gb_second: 0.000_016_666_7,
    lambda_per_million_requests: 0.20,
    s3_per_thousand_puts: 0.005,
};

/// us-east-1 since 2024-11-01 (DynamoDB on-demand throughput halved).
pub const US_EAST_1_2024_11: PriceList = PriceList {
    name: "us-east-1 since 2024-11 (DDB $0.625/M WRU)",
    dynamodb_per_million_wru: 0.625,
    dynamodb_per_million_rru: 0.125,
    ..ISSUE_PRICES
};

/// Kinesis shard limits: 1 MiB/s or 1,000 records/s of writes per shard.
const SHARD_BYTES_PER_S: f64 = 1_048_576.0;
const SHARD_RECORDS_PER_S: f64 = 1_000.0;
/// A PUT payload unit is 25 KB.
const PUT_PAYLOAD_UNIT_BYTES: u64 = 25 * 1024;

/// What a Shardwise run consumed (measured on the emulator, or estimated). Missing
/// fields in JSON read as zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct ShardwiseUsage {
    /// Input events.
    pub events: u64,
    /// DynamoDB write requests (PutItem/UpdateItem/DeleteItem, each item of a batch or
    /// transaction counted once).
    pub dynamodb_write_requests: u64,
    /// DynamoDB write request units consumed (1 per KB per item; 2× in transactions).
    pub dynamodb_wru: f64,
    /// DynamoDB read request units consumed.
    pub dynamodb_rru: f64,
    /// Kinesis PUT payload units (input records plus published outputs).
    pub kinesis_put_units: u64,
    /// Kinesis shard-hours.
    pub kinesis_shard_hours: f64,
    /// Lambda GB-seconds (memory × billed duration, summed over invocations).
    pub lambda_gb_seconds: f64,
    /// Lambda invocations.
    pub lambda_invocations: u64,
    /// S3 PUT requests (archive, reports).
    pub s3_puts: u64,
}

/// Cost per million events, USD, by service.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostPerMillion {
    /// DynamoDB writes.
    pub dynamodb_writes: f64,
    /// DynamoDB reads.
    pub dynamodb_reads: f64,
    /// Kinesis shard-hours and PUT payload units.
    pub kinesis: f64,
    /// Lambda duration and requests.
    pub lambda: f64,
    /// S3 requests.
    pub s3: f64,
}

impl CostPerMillion {
    /// Sum of all services.
    pub fn total(&self) -> f64 {
        self.dynamodb_writes + self.dynamodb_reads + self.kinesis + self.lambda + self.s3
    }
}

impl ShardwiseUsage {
    /// Write request units per event.
    pub fn wru_per_event(&self) -> f64 {
        per_event(self.dynamodb_wru, self.events)
    }

    /// Write requests per event.
    pub fn write_requests_per_event(&self) -> f64 {
        per_event(self.dynamodb_write_requests as f64, self.events)
    }

    /// The cost per million events at `prices`.
    pub fn cost_per_million(&self, prices: &PriceList) -> CostPerMillion {
        let scale = |total: f64| per_event(total, self.events) * 1e6;
        CostPerMillion {
            dynamodb_writes: scale(self.dynamodb_wru / 1e6 * prices.dynamodb_per_million_wru),
            dynamodb_reads: scale(self.dynamodb_rru / 1e6 * prices.dynamodb_per_million_rru),
            kinesis: scale(
                self.kinesis_shard_hours * prices.kinesis_per_shard_hour
                    + self.kinesis_put_units as f64 / 1e6 * prices.kinesis_per_million_put_units,
            ),
            lambda: scale(
                self.lambda_gb_seconds * prices.lambda_per_gb_second
                    + self.lambda_invocations as f64 / 1e6 * prices.lambda_per_million_requests,
            ),
            s3: scale(self.s3_puts as f64 / 1e3 * prices.s3_per_thousand_puts),
        }
    }
}

fn per_event(total: f64, events: u64) -> f64 {
    if events == 0 {
        0.0
    } else {
        total / events as f64
    }
}

/// PUT payload units of one record of `bytes` (rounded up to 25 KB, at least one).
pub fn put_units(bytes: u64) -> u64 {
    bytes.div_ceil(PUT_PAYLOAD_UNIT_BYTES).max(1)
}

/// The fewest shard-hours that can ingest `events` records of `avg_bytes` each: shards
/// kept fully busy (a lower bound; a real stream is provisioned for its peak).
pub fn shard_hours_at_capacity(events: u64, avg_bytes: f64) -> f64 {
    let shard_seconds =
        (events as f64 / SHARD_RECORDS_PER_S).max(events as f64 * avg_bytes / SHARD_BYTES_PER_S);
    shard_seconds / 3600.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_wru_per_event_costs_the_wru_price_per_million_events() {
        let usage = ShardwiseUsage {
            events: 2_000_000,
            dynamodb_write_requests: 2_000_000,
            dynamodb_wru: 2_000_000.0,
            ..ShardwiseUsage::default()
        };
        let c = usage.cost_per_million(&ISSUE_PRICES);
        assert!((c.dynamodb_writes - 1.25).abs() < 1e-9, "{c:?}");
        assert!((usage.cost_per_million(&US_EAST_1_2024_11).total() - 0.625).abs() < 1e-9);
        assert!((usage.wru_per_event() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn every_service_adds_to_the_total() {
        let usage = ShardwiseUsage {
            events: 1_000_000,
            dynamodb_write_requests: 100_000,
            dynamodb_wru: 100_000.0,
            dynamodb_rru: 400_000.0,
            kinesis_put_units: 1_000_000,
            kinesis_shard_hours: 1.0,
            lambda_gb_seconds: 1_000.0,
            lambda_invocations: 10_000,
            s3_puts: 1_000,
        };
        let c = usage.cost_per_million(&ISSUE_PRICES);
        let expected = 0.125 + 0.1 + (0.015 + 0.014) + (0.016_666_7 + 0.002) + 0.005;
        assert!((c.total() - expected).abs() < 1e-9, "{c:?}");
    }

    #[test]
    fn small_records_take_one_put_unit_and_shards_bind_on_records_per_second() {
        assert_eq!(put_units(400), 1);
        assert_eq!(put_units(25 * 1024 + 1), 2);
        // 3.6 M records of 400 B: 1,000 records/s per shard binds → 1 shard-hour.
        assert!((shard_hours_at_capacity(3_600_000, 400.0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn no_events_cost_nothing_per_event() {
        assert_eq!(
            ShardwiseUsage::default()
                .cost_per_million(&ISSUE_PRICES)
                .total(),
            0.0
        );
    }
}
