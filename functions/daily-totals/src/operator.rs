//! The `daily-totals` operator: one type, instantiated once per [`Dimension`].
//!
//! Each instance keys events by its dimension (`merchant#<id>`, `product#<id>`,
//! `day#<YYYY-MM-DD>`) and keeps, per key, a daily tumbling [`WindowState`] and the
//! recently seen transaction ids. All instances share the operator name and state type,
//! and `on_timer` reads the dimension from the key's prefix, so whichever instance the
//! timer dispatcher holds can fire any daily-totals key.
//!
//! Late events (the day's end + allowed lateness ≤ watermark) go to the late side output
//! with partition = the event's day, from the merchant and product instances: both write
//! the same item (pk `daily-totals#<day>`, sk `<shard>#<sequence>#0`), so it exists once.
//! The day instance neither routes them nor dedupes (the bottom-k sample is idempotent:
//! a duplicate id changes nothing), which keeps its hot per-day key small.

use serde::{Deserialize, Serialize};
use shardwise::sketch::hash::hash64;
use shardwise::window::{Added, Assigner, WindowResult, WindowState, Windows};
use shardwise::{Context, Error, EventTime, KeyedState, Operator, RecordMeta, Timer};

use crate::aggregate::{DayAcc, DayAggregate, Dimension};
pub use crate::config::DailyTotalsConfig;
use crate::config::Dedupe;
use crate::dedupe::RecentIds;
use crate::output::{
    DISTINCT_SK_PREFIX, DailyOutput, DaySample, DimensionTotal, DistinctAccounts, OPERATOR_NAME,
    SAMPLE_SK, day_pk,
};
use crate::txn::{Txn, day_of};

/// Id prefix of a bucket key (`merchant#bucket~17`, `product#bucket~3`). With buckets on,
/// every key of the dimension is a bucket; its rows name the merchants or products from
/// the bucket's state, never the key. (Switching the bucket count on a running deployment splits a day's totals
/// over two key sets: change it between days, or on fresh tables.)
pub const BUCKET_ID_PREFIX: &str = "bucket~";
/// Seed of the id → bucket hash (changing it moves every merchant and product).
const BUCKET_SEED: u64 = 0x6275_636b;

/// One key's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TotalsState {
    /// Daily windows (normally today's, plus yesterday's until its lateness passes).
    #[serde(rename = "w", default)]
    pub windows: WindowState<DayAcc>,
    /// Recently seen transaction ids (merchant and product keys).
    #[serde(rename = "d", default, skip_serializing_if = "RecentIds::is_empty")]
    pub seen: RecentIds,
}

impl KeyedState for TotalsState {}

/// The daily-totals operator for one dimension.
#[derive(Debug, Clone)]
pub struct DailyTotals {
    dimension: Dimension,
    config: DailyTotalsConfig,
}

impl DailyTotals {
    /// The operator keyed by `dimension`.
    pub fn new(dimension: Dimension, config: DailyTotalsConfig) -> Self {
        Self { dimension, config }
    }

    /// The instance to register with the timer dispatcher, configured through `lookup`
    /// (env var name → value) like the stream function: any instance fires any
    /// daily-totals key, so one registration serves all three processors.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(Self::new(
            Dimension::Merchant,
            DailyTotalsConfig::from_lookup(lookup)?,
        ))
    }

    /// The dimension it keys by.
    pub fn dimension(&self) -> Dimension {
        self.dimension
    }

    /// Whether a merchant or product key counts `event`: false for an id it saw
    /// recently ([`Dedupe::RecentIds`]); always true with [`Dedupe::Off`] and
    /// [`Dedupe::Account`] (the gate, [`crate::gate`], dropped re-sends already), which also
    /// drop a list stored while the key deduplicated (it would otherwise be rewritten with
    /// every commit of the key, never pruned).
    fn first_time(&self, event: &Txn, ctx: &mut Context<'_, TotalsState, DailyOutput>) -> bool {
        match self.config.dedupe {
            Dedupe::RecentIds => {
                let arrival = ctx.record().map_or(ctx.now().0, |r| r.arrival.0);
                ctx.state().seen.first_time(&event.transaction_id, arrival)
            }
            // The first-seen gate dropped re-sends before this processor saw the batch.
            Dedupe::Off | Dedupe::Account => {
                if !ctx.state().seen.is_empty() {
                    ctx.state().seen = RecentIds::default();
                }
                true
            }
        }
    }

    fn windows(&self, dimension: Dimension) -> Windows<DayAggregate> {
        let aggregate = DayAggregate {
            dimension,
            hll_precision: self.config.hll_precision,
            account_sketch: self.config.account_sketch,
            bucketed: self.config.buckets(dimension) > 0,
            sample_size: self.config.sample_size,
        };
        Windows::new(Assigner::DAILY, aggregate)
            .with_allowed_lateness(self.config.allowed_lateness_ms)
    }
}

impl Operator for DailyTotals {
    type Event = Txn;
    type State = TotalsState;
    type Output = DailyOutput;

    fn name(&self) -> &str {
        OPERATOR_NAME
    }

    fn key(&self, event: &Txn, _: &RecordMeta) -> Result<String, Error> {
        Ok(match self.dimension {
            Dimension::Merchant | Dimension::Product => {
                let id = match self.dimension {
                    Dimension::Product => &event.product_id,
                    _ => &event.merchant_id,
                };
                match self.config.buckets(self.dimension) {
                    0 => self.dimension.key(id),
                    buckets => {
                        let bucket = hash64(BUCKET_SEED, id.as_bytes()) % u64::from(buckets);
                        self.dimension.key(&format!("{BUCKET_ID_PREFIX}{bucket}"))
                    }
                }
            }
            Dimension::Day => self.dimension.key(&event.day()),
        })
    }

    fn event_time(&self, event: &Txn) -> Option<EventTime> {
        Some(event.event_time())
    }

    fn on_event(
        &self,
        key: &str,
        event: Txn,
        ctx: &mut Context<'_, TotalsState, DailyOutput>,
    ) -> Result<(), Error> {
        let windows = self.windows(self.dimension);
        if self.dimension == Dimension::Day {
            if windows.is_late(event.event_time(), ctx.watermark()) {
                return Ok(());
            }
        } else if !self.first_time(&event, ctx) {
            return Ok(());
        }
        let id = Dimension::parse_key(key).map_or(key, |(_, id)| id);
        let day = event.day();
        let added = windows.add(
            ctx,
            |s| &mut s.windows,
            event.event_time(),
            &event,
            &day,
            &event,
        )?;
        if let Added::Accepted(results) = added {
            results
                .iter()
                .for_each(|r| emit(ctx, self.dimension, id, r));
        }
        Ok(())
    }

    fn on_timer(
        &self,
        key: &str,
        timer: Timer,
        ctx: &mut Context<'_, TotalsState, DailyOutput>,
    ) -> Result<(), Error> {
        let Some((dimension, id)) = Dimension::parse_key(key) else {
            return Ok(());
        };
        let results = self.windows(dimension).fire(ctx, |s| &mut s.windows, timer);
        results.iter().for_each(|r| emit(ctx, dimension, id, r));
        Ok(())
    }
}

/// Emits a day's result as the contract's items.
fn emit(
    ctx: &mut Context<'_, TotalsState, DailyOutput>,
    dimension: Dimension,
    id: &str,
    r: &WindowResult<DayAcc>,
) {
    let day = day_of(r.window.start);
    let pk = day_pk(&day);
    // A bucket's day emits one row per merchant or product, each named by its id.
    let per_id = r
        .result
        .by_id
        .iter()
        .flat_map(|(merchant, totals)| totals.iter().map(move |t| (merchant.as_str(), t)));
    let own = r.result.totals.iter().map(|t| (id, t));
    for (id, (currency, total)) in own.chain(per_id) {
        let sk = format!("{}#{id}#{currency}", dimension.as_str());
        let out = DimensionTotal {
            day: day.clone(),
            dimension: dimension.as_str().to_owned(),
            id: id.to_owned(),
            currency: currency.clone(),
            revenue_minor: total.revenue_minor,
            count: total.count,
            is_final: r.is_final,
        };
        ctx.emit_keyed(pk.clone(), sk, DailyOutput::Total(out));
    }
    // A merchant bucket's sketches are per merchant too.
    let per_id = r.result.accounts_by_id.iter().map(|(m, a)| (m.as_str(), a));
    for (id, accounts) in r.result.accounts.iter().map(|a| (id, a)).chain(per_id) {
        let out = DistinctAccounts {
            day: day.clone(),
            merchant: id.to_owned(),
            distinct_accounts: accounts.estimate(),
            is_final: r.is_final,
        };
        let sk = format!("{DISTINCT_SK_PREFIX}#{id}");
        ctx.emit_keyed(pk.clone(), sk, DailyOutput::Distinct(out));
    }
    if let Some(sample) = &r.result.sample {
        let out = DaySample {
            day,
            transactions: sample.ids().to_vec(),
            is_final: r.is_final,
        };
        ctx.emit_keyed(pk, SAMPLE_SK, DailyOutput::Sample(out));
    }
}

#[cfg(test)]
mod tests {
    use shardwise::Harness;

    use super::*;
    use crate::config::AccountSketch;

    /// 2026-11-21T00:00:00Z.
    const DAY_START_MS: i64 = 1_795_219_200_000;
    const DAY_MS: i64 = 86_400_000;

    fn txn(id: &str, amount_minor: i64) -> Txn {
        Txn {
            transaction_id: id.to_owned(),
            account_id: format!("acc-{id}"),
            merchant_id: "m-1".to_owned(),
            product_id: "p-1".to_owned(),
            amount_minor,
            currency: "EUR".to_owned(),
            event_time_ms: DAY_START_MS + 3_600_000,
        }
    }

    /// Runs `ids` (amount 100 each) through the merchant operator, closes the day and
    /// returns its outputs and the harness.
    fn merchant_day(config: DailyTotalsConfig, ids: &[&str]) -> Harness<DailyTotals> {
        let mut h = Harness::new(DailyTotals::new(Dimension::Merchant, config));
        for id in ids {
            h.process(txn(id, 100)).unwrap();
        }
        h.advance_watermark(EventTime(DAY_START_MS + DAY_MS + 1))
            .unwrap();
        h
    }

    fn merchant_total(h: &Harness<DailyTotals>) -> (i64, u64) {
        let totals: Vec<_> = h
            .outputs
            .iter()
            .filter_map(|(_, _, o)| match o {
                DailyOutput::Total(t) => Some((t.revenue_minor, t.count)),
                _ => None,
            })
            .collect();
        assert_eq!(totals.len(), 1, "{:?}", h.outputs);
        totals[0]
    }

    fn dedupe(dedupe: Dedupe) -> DailyTotalsConfig {
        DailyTotalsConfig {
            dedupe,
            ..DailyTotalsConfig::default()
        }
    }

    #[test]
    fn by_default_a_resent_transaction_id_is_counted_once() {
        let h = merchant_day(DailyTotalsConfig::default(), &["tx-1", "tx-2", "tx-1"]);
        assert_eq!(merchant_total(&h), (200, 2));
    }

    #[test]
    fn with_dedupe_off_a_resent_transaction_id_is_counted_twice() {
        let h = merchant_day(dedupe(Dedupe::Off), &["tx-1", "tx-2", "tx-1"]);
        assert_eq!(merchant_total(&h), (300, 3));
        let state = h.state("merchant#m-1").unwrap();
        assert!(state.seen.is_empty(), "nothing is remembered");
    }

    #[test]
    fn with_dedupe_off_a_list_stored_while_it_was_on_is_dropped() {
        let mut state = TotalsState::default();
        assert!(state.seen.first_time("tx-0", 0));
        let mut effects = shardwise::Effects::default();
        let mut ctx = Context::new(&mut state, &mut effects, None, EventTime(0));
        DailyTotals::new(Dimension::Merchant, dedupe(Dedupe::Off))
            .on_event("merchant#m-1", txn("tx-0", 100), &mut ctx)
            .unwrap();
        assert!(state.seen.is_empty());
        let json = serde_json::to_string(&state).unwrap();
        assert!(
            !json.contains("\"d\""),
            "the item no longer carries it: {json}"
        );
        assert_eq!(state.windows.len(), 1, "and the event counted");
    }

    #[test]
    fn a_state_stored_without_a_recent_ids_list_deserializes_empty() {
        let state: TotalsState = serde_json::from_str("{}").unwrap();
        assert!(state.seen.is_empty());
        let json = serde_json::to_string(&TotalsState::default()).unwrap();
        assert!(
            !json.contains("\"d\""),
            "an empty list is not written: {json}"
        );
        let back: TotalsState = serde_json::from_str(&json).unwrap();
        assert!(back.seen.is_empty());
    }

    #[test]
    fn with_distinct_accounts_off_merchants_keep_no_sketch_and_emit_no_distinct_row() {
        let off = DailyTotalsConfig {
            account_sketch: AccountSketch::Off,
            ..DailyTotalsConfig::default()
        };
        let mut h = Harness::new(DailyTotals::new(Dimension::Merchant, off));
        h.process(txn("tx-1", 100)).unwrap();
        let state = serde_json::to_string(h.state("merchant#m-1").unwrap()).unwrap();
        // A sketch serializes as `{"p":<precision>,…}` (shardwise::sketch::hll).
        assert!(!state.contains("\"p\":"), "no sketch in the state: {state}");
        let mut default = Harness::new(DailyTotals::new(
            Dimension::Merchant,
            DailyTotalsConfig::default(),
        ));
        default.process(txn("tx-1", 100)).unwrap();
        let sketched = serde_json::to_string(default.state("merchant#m-1").unwrap()).unwrap();
        assert!(sketched.contains("\"p\":12"), "{sketched}");
        h.advance_watermark(EventTime(DAY_START_MS + DAY_MS + 1))
            .unwrap();
        assert_eq!(merchant_total(&h), (100, 1));
        assert!(
            !h.outputs
                .iter()
                .any(|(_, _, o)| matches!(o, DailyOutput::Distinct(_))),
            "{:?}",
            h.outputs
        );

        let on = merchant_day(DailyTotalsConfig::default(), &["tx-1"]);
        assert!(
            on.outputs
                .iter()
                .any(|(_, _, o)| matches!(o, DailyOutput::Distinct(_))),
            "the default keeps the distinct row"
        );
    }

    #[test]
    fn keys_name_their_dimension_so_any_instance_fires_any_key() {
        assert_eq!(Dimension::Product.key("p-1"), "product#p-1");
        assert_eq!(
            Dimension::parse_key("merchant#m-00001"),
            Some((Dimension::Merchant, "m-00001"))
        );
        assert_eq!(Dimension::parse_key("unknown#x"), None);
        let op = DailyTotals::from_lookup(|_| None).unwrap();
        assert_eq!(op.name(), OPERATOR_NAME);
    }

    /// `pick`'s rows of the merchant operator's outputs after `txns` and the day's close,
    /// sorted.
    fn closed_day_rows<T: Ord>(
        config: DailyTotalsConfig,
        txns: impl IntoIterator<Item = Txn>,
        pick: impl Fn(&DailyOutput) -> Option<T>,
    ) -> Vec<T> {
        let mut h = Harness::new(DailyTotals::new(Dimension::Merchant, config));
        for t in txns {
            h.process(t).unwrap();
        }
        h.advance_watermark(EventTime(DAY_START_MS + DAY_MS + 1))
            .unwrap();
        let mut rows: Vec<T> = h.outputs.iter().filter_map(|(_, _, o)| pick(o)).collect();
        rows.sort();
        rows
    }

    /// Merchant rows `(merchant, revenue, count)` after the day closed, sorted.
    fn merchant_rows(
        config: DailyTotalsConfig,
        txns: &[(&str, &str, i64)],
    ) -> Vec<(String, i64, u64)> {
        let txns = txns.iter().map(|(id, merchant, amount)| Txn {
            merchant_id: (*merchant).to_owned(),
            ..txn(id, *amount)
        });
        closed_day_rows(config, txns, |o| match o {
            DailyOutput::Total(t) => Some((t.id.clone(), t.revenue_minor, t.count)),
            _ => None,
        })
    }

    /// Distinct-account rows `(merchant, estimate)` after the day closed, sorted. Each
    /// merchant gets several transactions from a few repeated accounts.
    fn distinct_rows(config: DailyTotalsConfig) -> Vec<(String, u64)> {
        let txns = (0..200).map(|i| Txn {
            merchant_id: format!("m-{:05}", i % 7),
            account_id: format!("acc-{}", i % (3 + i % 7)),
            ..txn(&format!("tx-{i}"), 100)
        });
        closed_day_rows(config, txns, |o| match o {
            DailyOutput::Distinct(d) => Some((d.merchant.clone(), d.distinct_accounts)),
            _ => None,
        })
    }

    #[test]
    fn merchant_buckets_keep_a_sketch_per_merchant_with_the_same_distinct_rows() {
        let plain = dedupe(Dedupe::Off);
        let expected = distinct_rows(plain);
        assert_eq!(expected.len(), 7, "{expected:?}");
        assert!(expected.iter().any(|(_, n)| *n > 3), "{expected:?}");
        let bucketed = DailyTotalsConfig {
            merchant_buckets: 3,
            ..plain
        };
        assert_eq!(distinct_rows(bucketed), expected);
    }

    #[test]
    fn merchant_buckets_give_the_same_rows_as_one_key_per_merchant() {
        let txns: Vec<(String, String, i64)> = (0..60)
            .map(|i| (format!("tx-{i}"), format!("m-{:05}", i % 13), 100 + i))
            .collect();
        let txns: Vec<(&str, &str, i64)> = txns
            .iter()
            .map(|(id, m, a)| (id.as_str(), m.as_str(), *a))
            .collect();
        let plain = DailyTotalsConfig {
            account_sketch: AccountSketch::Off,
            ..DailyTotalsConfig::default()
        };
        let bucketed = DailyTotalsConfig {
            merchant_buckets: 4,
            ..plain
        };
        let expected = merchant_rows(plain, &txns);
        assert_eq!(expected.len(), 13);
        assert_eq!(merchant_rows(bucketed, &txns), expected);

        let op = DailyTotals::new(Dimension::Merchant, bucketed);
        let meta = RecordMeta {
            shard: shardwise::ShardId("shardId-000000000000".into()),
            sequence: shardwise::SequenceNumber::parse("1").unwrap(),
            partition_key: shardwise::PartitionKey(String::new()),
            arrival: EventTime(0),
        };
        let keys: std::collections::BTreeSet<String> = txns
            .iter()
            .map(|(id, m, a)| {
                op.key(
                    &Txn {
                        merchant_id: (*m).to_owned(),
                        ..txn(id, *a)
                    },
                    &meta,
                )
                .unwrap()
            })
            .collect();
        assert!(keys.len() <= 4 && keys.len() > 1, "{keys:?}");
        assert!(
            keys.iter().all(|k| k.starts_with("merchant#bucket~")),
            "{keys:?}"
        );
    }
}
