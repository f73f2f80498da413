//! Resharding: SplitShard, MergeShards and UpdateShardCount.
//!
//! A split closes the parent and opens two children that name it as `ParentShardId`; a
//! merge closes two adjacent shards and opens one child with `ParentShardId` and
//! `AdjacentParentShardId`. Closed parents keep their records (readable until
//! retention), get an `EndingSequenceNumber` exactly one past their last record, and
//! report their children in GetRecords' `ChildShards` once drained. Every change
//! happens under the stream's exclusive lock, so no write lands between the routing
//! switch and the closing position.
//!
//! UpdateShardCount (UNIFORM_SCALING) is composed of real splits and merges, like AWS
//! ("Kinesis Data Streams performs splits or merges on individual shards. This can cause
//! short-lived shards to be created"): first every open shard is split at each target
//! boundary inside it, then the pieces inside each target range are merged pairwise, so
//! the final shards have the uniform ranges CreateStream would give that count.

use serde_json::{Value, json};

use super::input::{
    Input, KResult, check_name, check_range, invalid_argument, is_decimal, validation,
};
use super::stream::{Closure, Stream, StreamMode, StreamState, parse_shard_id, uniform_ranges};
use super::streams::MAX_SHARDS_PER_STREAM;
use super::{Kinesis, LIMIT_EXCEEDED};
use crate::error::AwsJsonError;

/// Closes shard `index` at its current end.
fn close(state: &mut StreamState, index: u32, children: Vec<u32>, now: u64) {
    if let Some(entry) = usize::try_from(index)
        .ok()
        .and_then(|i| state.shards.get_mut(i))
    {
        let end_position = entry.shard.lock().next_position();
        entry.closure = Some(Closure {
            at_millis: now,
            end_position,
            children,
        });
    }
}

/// Splits open shard `index` so that the second child starts at `at`
/// (requires `start < at <= end`).
fn split(state: &mut StreamState, index: u32, at: u128, now: u64) {
    let Some((start, end)) = state
        .entry(index)
        .map(|e| (e.shard.start_hash, e.shard.end_hash))
    else {
        return;
    };
    let low = state.add_shard((start, at - 1), (Some(index), None), now);
    let high = state.add_shard((at, end), (Some(index), None), now);
    close(state, index, vec![low, high], now);
    state.rebuild_open();
}

/// Merges open shards `a` and `b` (adjacent) into one child.
fn merge(state: &mut StreamState, a: u32, b: u32, now: u64) {
    let (Some(ea), Some(eb)) = (state.entry(a), state.entry(b)) else {
        return;
    };
    let start = ea.shard.start_hash.min(eb.shard.start_hash);
    let end = ea.shard.end_hash.max(eb.shard.end_hash);
    let child = state.add_shard((start, end), (Some(a), Some(b)), now);
    close(state, a, vec![child], now);
    close(state, b, vec![child], now);
    state.rebuild_open();
}

impl Kinesis {
    fn refuse_on_demand(&self, stream: &Stream) -> KResult<()> {
        if stream.mode == StreamMode::OnDemand {
            return Err(AwsJsonError::client(
                super::input::VALIDATION_EXCEPTION,
                format!(
                    "Request is invalid. Stream {} under account {} is in On-Demand mode.",
                    stream.name, self.account_id
                ),
            ));
        }
        Ok(())
    }

    fn not_eligible(&self, stream: &Stream, shard: &str) -> AwsJsonError {
        invalid_argument(format!(
            "Shard {shard} in stream {} under account {} has already been merged or split, \
             and thus is not eligible for merging or splitting.",
            stream.name, self.account_id
        ))
    }

    pub(super) fn split_shard(&self, input: &Input<'_>) -> KResult<Value> {
        let name = input.str("ShardToSplit")?;
        check_name(name, "shardToSplit")?;
        let key = input.str("NewStartingHashKey")?;
        if !is_decimal(key, 39) {
            return Err(validation(
                key,
                "newStartingHashKey",
                "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
            ));
        }
        let stream = self.stream(input)?;
        self.refuse_on_demand(&stream)?;
        let now = self.now_millis();
        let mut state = stream.write();
        let index = parse_shard_id(name)
            .filter(|&i| state.entry(i).is_some())
            .ok_or_else(|| self.shard_not_found(&stream.name, name))?;
        let Some(entry) = state.entry(index) else {
            return Err(self.shard_not_found(&stream.name, name));
        };
        if entry.closure.is_some() {
            return Err(self.not_eligible(&stream, name));
        }
        let (start, end) = (entry.shard.start_hash, entry.shard.end_hash);
        let at = key.parse::<u128>().ok().filter(|&k| k > start && k <= end);
        let Some(at) = at else {
            return Err(invalid_argument(format!(
                "NewStartingHashKey {key} used in SplitShard() on shard {name} in stream {} \
                 under account {} is not both greater than one plus the shard's \
                 StartingHashKey {start} and less than the shard's EndingHashKey {end}.",
                stream.name, self.account_id
            )));
        };
        split(&mut state, index, at, now);
        Ok(json!({}))
    }

    pub(super) fn merge_shards(&self, input: &Input<'_>) -> KResult<Value> {
        let first = input.str("ShardToMerge")?;
        check_name(first, "shardToMerge")?;
        let second = input.str("AdjacentShardToMerge")?;
        check_name(second, "adjacentShardToMerge")?;
        let stream = self.stream(input)?;
        self.refuse_on_demand(&stream)?;
        let now = self.now_millis();
        let mut state = stream.write();
        let find = |name: &str| {
            parse_shard_id(name)
                .filter(|&i| state.entry(i).is_some())
                .ok_or_else(|| self.shard_not_found(&stream.name, name))
        };
        let (a, b) = (find(first)?, find(second)?);
        let (Some(ea), Some(eb)) = (state.entry(a), state.entry(b)) else {
            return Err(self.shard_not_found(&stream.name, first));
        };
        for (entry, name) in [(ea, first), (eb, second)] {
            if entry.closure.is_some() {
                return Err(self.not_eligible(&stream, name));
            }
        }
        let adjacent = ea.shard.end_hash.checked_add(1) == Some(eb.shard.start_hash)
            || eb.shard.end_hash.checked_add(1) == Some(ea.shard.start_hash);
        if !adjacent {
            return Err(invalid_argument(format!(
                "Shards {first} and {second} in stream {} under account {} are not an \
                 adjacent pair of shards eligible for merging",
                stream.name, self.account_id
            )));
        }
        merge(&mut state, a, b, now);
        Ok(json!({}))
    }

    pub(super) fn update_shard_count(&self, input: &Input<'_>) -> KResult<Value> {
        let target = input.int("TargetShardCount")?;
        check_range(target, "targetShardCount", 1, 100_000)?;
        let scaling = input.str("ScalingType")?;
        if scaling != "UNIFORM_SCALING" {
            return Err(validation(
                scaling,
                "scalingType",
                "Member must satisfy enum value set: [UNIFORM_SCALING]",
            ));
        }
        let stream = self.stream(input)?;
        self.refuse_on_demand(&stream)?;
        let now = self.now_millis();
        let mut state = stream.write();
        let current = state.open.len() as i64;
        let refuse = |why: &str| {
            Err(AwsJsonError::client(
                LIMIT_EXCEEDED,
                format!(
                    "UpdateShardCount cannot be used to {why}. Stream {} under account {} has \
                     {current} open shards; requested {target}.",
                    stream.name, self.account_id
                ),
            ))
        };
        if target > current * 2 {
            return refuse("scale up to more than double the current shard count");
        }
        if target * 2 < current {
            return refuse("scale down below half the current shard count");
        }
        if target > MAX_SHARDS_PER_STREAM {
            return refuse("exceed the shard limit of the stream");
        }
        if target != current {
            rescale(&mut state, u32::try_from(target).unwrap_or(1), now);
        }
        Ok(json!({
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "CurrentShardCount": current,
            "TargetShardCount": target,
        }))
    }
}

/// Reshapes the open shards into `target` uniform ranges by splits, then merges.
fn rescale(state: &mut StreamState, target: u32, now: u64) {
    let ranges = uniform_ranges(target);
    for &(boundary, _) in ranges.iter().skip(1) {
        let inside = state
            .route(boundary)
            .filter(|s| s.start_hash < boundary)
            .map(|s| s.index);
        if let Some(index) = inside {
            split(state, index, boundary, now);
        }
    }
    for &(start, end) in &ranges {
        loop {
            let pieces: Vec<u32> = state
                .open
                .iter()
                .copied()
                .filter(|&i| {
                    state
                        .entry(i)
                        .is_some_and(|e| e.shard.start_hash >= start && e.shard.end_hash <= end)
                })
                .take(2)
                .collect();
            match pieces[..] {
                [a, b] => merge(state, a, b, now),
                _ => break,
            }
        }
    }
    // Every target boundary is now a shard boundary and each target range holds one
    // open shard (checked by `rescaling_ends_with_the_uniform_ranges_of_the_target_count`).
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform_state(n: u32) -> StreamState {
        let mut s = StreamState {
            shards: Vec::new(),
            open: Vec::new(),
            retention_hours: 24,
        };
        for r in uniform_ranges(n) {
            s.add_shard(r, (None, None), 0);
        }
        s.rebuild_open();
        s
    }

    fn open_ranges(s: &StreamState) -> Vec<(u128, u128)> {
        s.open
            .iter()
            .map(|&i| {
                let e = s.entry(i).unwrap();
                (e.shard.start_hash, e.shard.end_hash)
            })
            .collect()
    }

    #[test]
    fn rescaling_ends_with_the_uniform_ranges_of_the_target_count() {
        for (from, to) in [
            (1, 2),
            (2, 4),
            (4, 2),
            (2, 3),
            (3, 2),
            (3, 6),
            (5, 3),
            (4, 7),
        ] {
            let mut s = uniform_state(from);
            rescale(&mut s, to, 1);
            assert_eq!(open_ranges(&s), uniform_ranges(to), "{from} -> {to}");
        }
    }

    #[test]
    fn doubling_splits_each_shard_once() {
        let mut s = uniform_state(2);
        rescale(&mut s, 4, 1);
        assert_eq!(s.shards.len(), 6);
        for child in 2..6 {
            let e = s.entry(child).unwrap();
            assert!(e.shard.parent.is_some() && e.shard.adjacent_parent.is_none());
        }
    }

    #[test]
    fn halving_merges_adjacent_pairs() {
        let mut s = uniform_state(4);
        rescale(&mut s, 2, 1);
        assert_eq!(s.shards.len(), 6);
        let e = s.entry(4).unwrap();
        assert_eq!(
            (e.shard.parent, e.shard.adjacent_parent),
            (Some(0), Some(1))
        );
    }
}
