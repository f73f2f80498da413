//! Window aggregates: an accumulator per window, built incrementally.
//!
//! An [`Aggregate`] is stateless configuration; its accumulator (`Acc`) is the serde
//! value stored in the key's state, so a window costs only its accumulator (never the
//! events). `merge` combines two accumulators (session windows merging, or partial
//! results); it must be associative and commutative for merge order not to matter.
//! Built-ins: [`Count`], [`Sum`], [`Min`], [`Max`], [`Mean`]; a pair of aggregates over the
//! same input is an aggregate too (`(Sum, Count)`), and the sketches in
//! [`crate::sketch`] are aggregates ([`crate::sketch::DistinctCount`],
//! [`crate::sketch::Sample`]).

use std::fmt::Debug;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// An incremental, mergeable aggregation.
pub trait Aggregate: Send + Sync {
    /// What is added (`?Sized`: `str` works).
    type Input: ?Sized;
    /// The accumulator stored per window.
    type Acc: Serialize + DeserializeOwned + Clone + Default + Debug + Send + Sync + 'static;
    /// The window's result.
    type Output;

    /// Adds one input. Must be deterministic (a conflict re-applies it).
    fn add(&self, acc: &mut Self::Acc, input: &Self::Input);
    /// Merges `other` into `acc`.
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
    /// The result of an accumulator.
    fn result(&self, acc: &Self::Acc) -> Self::Output;
}

/// Number of inputs (of any type).
#[derive(Debug)]
pub struct Count<T: ?Sized>(PhantomData<fn(&T)>);

impl<T: ?Sized> Default for Count<T> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T: ?Sized> Count<T> {
    /// A count.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T: ?Sized> Aggregate for Count<T> {
    type Input = T;
    type Acc = u64;
    type Output = u64;
    fn add(&self, acc: &mut u64, _: &T) {
        *acc += 1;
    }
    fn merge(&self, acc: &mut u64, other: u64) {
        *acc += other;
    }
    fn result(&self, acc: &u64) -> u64 {
        *acc
    }
}

/// Sum of integers (minor units of money, counts): exact, never a float.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sum;

impl Aggregate for Sum {
    type Input = i64;
    type Acc = i64;
    type Output = i64;
    fn add(&self, acc: &mut i64, input: &i64) {
        *acc = acc.saturating_add(*input);
    }
    fn merge(&self, acc: &mut i64, other: i64) {
        *acc = acc.saturating_add(other);
    }
    fn result(&self, acc: &i64) -> i64 {
        *acc
    }
}

/// Smallest input (`None` for an empty accumulator).
#[derive(Debug, Default, Clone, Copy)]
pub struct Min;

impl Aggregate for Min {
    type Input = i64;
    type Acc = Option<i64>;
    type Output = Option<i64>;
    fn add(&self, acc: &mut Option<i64>, input: &i64) {
        *acc = Some(acc.map_or(*input, |a| a.min(*input)));
    }
    fn merge(&self, acc: &mut Option<i64>, other: Option<i64>) {
        if let Some(o) = other {
            self.add(acc, &o);
        }
    }
    fn result(&self, acc: &Option<i64>) -> Option<i64> {
        *acc
    }
}

/// Largest input (`None` for an empty accumulator).
#[derive(Debug, Default, Clone, Copy)]
pub struct Max;

impl Aggregate for Max {
    type Input = i64;
    type Acc = Option<i64>;
    type Output = Option<i64>;
    fn add(&self, acc: &mut Option<i64>, input: &i64) {
        *acc = Some(acc.map_or(*input, |a| a.max(*input)));
    }
    fn merge(&self, acc: &mut Option<i64>, other: Option<i64>) {
        if let Some(o) = other {
            self.add(acc, &o);
        }
    }
    fn result(&self, acc: &Option<i64>) -> Option<i64> {
        *acc
    }
}

/// Arithmetic mean of integers: an exact (sum, count) accumulator, the division only in
/// the result (so merging never compounds rounding).
#[derive(Debug, Default, Clone, Copy)]
pub struct Mean;

impl Aggregate for Mean {
    type Input = i64;
    /// (sum, count); i128 so that no realistic sum overflows.
    type Acc = (i128, u64);
    type Output = Option<f64>;
    fn add(&self, acc: &mut (i128, u64), input: &i64) {
        acc.0 += i128::from(*input);
        acc.1 += 1;
    }
    fn merge(&self, acc: &mut (i128, u64), other: (i128, u64)) {
        acc.0 += other.0;
        acc.1 += other.1;
    }
    fn result(&self, acc: &(i128, u64)) -> Option<f64> {
        // Precision loss only beyond 2^53, far outside any window's sums.
        #[allow(clippy::cast_precision_loss)]
        (acc.1 > 0).then(|| acc.0 as f64 / acc.1 as f64)
    }
}

/// Two aggregates over the same input, side by side.
impl<A, B> Aggregate for (A, B)
where
    A: Aggregate,
    B: Aggregate<Input = A::Input>,
{
    type Input = A::Input;
    type Acc = (A::Acc, B::Acc);
    type Output = (A::Output, B::Output);
    fn add(&self, acc: &mut Self::Acc, input: &Self::Input) {
        self.0.add(&mut acc.0, input);
        self.1.add(&mut acc.1, input);
    }
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
        self.0.merge(&mut acc.0, other.0);
        self.1.merge(&mut acc.1, other.1);
    }
    fn result(&self, acc: &Self::Acc) -> Self::Output {
        (self.0.result(&acc.0), self.1.result(&acc.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold<A: Aggregate<Input = i64>>(a: &A, xs: &[i64]) -> A::Acc {
        let mut acc = A::Acc::default();
        xs.iter().for_each(|x| a.add(&mut acc, x));
        acc
    }

    #[test]
    fn built_ins_compute_count_sum_min_max_and_mean() {
        let xs = [5, -3, 12, 7];
        assert_eq!(Count::<i64>::new().result(&fold(&Count::new(), &xs)), 4);
        assert_eq!(Sum.result(&fold(&Sum, &xs)), 21);
        assert_eq!(Min.result(&fold(&Min, &xs)), Some(-3));
        assert_eq!(Max.result(&fold(&Max, &xs)), Some(12));
        assert_eq!(Mean.result(&fold(&Mean, &xs)), Some(5.25));
        assert_eq!(Mean.result(&fold(&Mean, &[])), None);
    }

    #[test]
    fn merging_partial_accumulators_equals_folding_everything() {
        let agg = (Sum, (Min, (Max, Mean)));
        let xs = [4, 9, -2, 30, 7, 7, 1];
        let mut left = fold(&agg, &xs[..3]);
        agg.merge(&mut left, fold(&agg, &xs[3..]));
        assert_eq!(agg.result(&left), agg.result(&fold(&agg, &xs)));
    }
}
