//! Platform-stable sampling helpers.
//!
//! `f64::exp`/`ln` come from the platform's libm and may differ in the last bit between
//! platforms, which could flip a rounded amount and break "same seed ⇒ same bytes". So
//! everything here uses only IEEE-754 basic operations (+ − × ÷, `round`), which are
//! correctly rounded everywhere: a Taylor-series `exp`, an Irwin–Hall normal, and integer
//! cumulative weights for skewed (Zipf-like) choices.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// `e^x` from basic operations only: `x = n·ln2 + r`, `|r| ≤ ln2/2`, Taylor series for `e^r`.
pub fn det_exp(x: f64) -> f64 {
    const LN2: f64 = std::f64::consts::LN_2;
    let n = (x / LN2).round();
    let r = x - n * LN2;
    let (mut term, mut sum) = (1.0_f64, 1.0_f64);
    for k in 1..=18 {
        term = term * r / f64::from(k);
        sum += term;
    }
    let (factor, steps) = if n >= 0.0 { (2.0, n) } else { (0.5, -n) };
    let mut i = 0.0;
    while i < steps {
        sum *= factor;
        i += 1.0;
    }
    sum
}

/// A standard normal deviate truncated to `[-bound, bound]` (Irwin–Hall: the sum of 12
/// uniforms minus 6 has mean 0 and variance 1; out-of-bound draws are redrawn).
pub fn truncated_normal(rng: &mut ChaCha8Rng, bound: f64) -> f64 {
    loop {
        let z: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
        if (-bound..=bound).contains(&z) {
            return z;
        }
    }
}

/// Uniform integer in `lo..=hi` (inclusive).
pub fn uniform_i64(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> i64 {
    rng.random_range(lo..=hi)
}

/// Choice among items by integer weights (cumulative sums + binary search).
#[derive(Debug, Clone)]
pub struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    /// From weights; items with weight 0 are never chosen. At least one weight must be > 0.
    pub fn new(weights: impl IntoIterator<Item = u64>) -> Self {
        let mut total = 0_u64;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Self { cumulative }
    }

    /// Zipf-like popularity: item `i` (0-based rank) has weight ∝ 1/(i+1).
    pub fn zipf(n: usize) -> Self {
        const SCALE: u64 = 1 << 32;
        Self::new((0..n as u64).map(|i| SCALE / (i + 1)))
    }

    /// Picks an index.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return 0;
        }
        let x = rng.random_range(0..total);
        self.cumulative.partition_point(|&c| c <= x)
    }
}

/// Relative transaction intensity per hour of day (UTC ≈ local time for the euro-area
/// homes): quiet nights, a lunch peak and an evening peak.
pub const HOURLY_INTENSITY: [u64; 24] = [
    2, 1, 1, 1, 1, 2, 4, 7, 9, 10, 11, 13, 15, 13, 11, 10, 11, 13, 15, 14, 11, 8, 5, 3,
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn deterministic_exp_matches_the_platform_exp_closely() {
        for x in [-3.0, -0.7, 0.0, 0.35, 1.0, 2.5, 7.3, 10.1] {
            let (ours, std) = (det_exp(x), x.exp());
            assert!(((ours - std) / std).abs() < 1e-14, "{x}: {ours} vs {std}");
        }
    }

    #[test]
    fn zipf_choices_favour_low_ranks() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let w = Weighted::zipf(10);
        let mut counts = [0_u32; 10];
        for _ in 0..10_000 {
            counts[w.pick(&mut rng)] += 1;
        }
        assert!(
            counts[0] > 2 * counts[2] && counts[2] > counts[9],
            "{counts:?}"
        );
    }

    #[test]
    fn truncated_normal_stays_in_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        assert!((0..1000).all(|_| truncated_normal(&mut rng, 2.0).abs() <= 2.0));
    }
}
