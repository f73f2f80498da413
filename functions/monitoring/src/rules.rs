//! Reference rule thresholds: the values for which the generator's guarantees (see
//! [`crate::generator`]) separate every injected pattern from normal traffic. The
//! fraud-detector's configuration defaults and the tests' reference detector use them.
//! Windows are trailing event-time windows of [`WINDOW_MS`] ending at the transaction.

/// Sliding window of the count rules (10 minutes).
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// Card testing: amounts below this (minor units) count as "small" (2.00 EUR).
pub const SMALL_AMOUNT_BELOW_MINOR: i64 = 200;
/// Card testing: this many small amounts within the window fire.
pub const CARD_TESTING_MIN_COUNT: usize = 5;
/// Velocity (R1): at least this many transactions within the window …
pub const VELOCITY_MIN_COUNT: usize = 3;
/// … whose sum exceeds this (minor units; 2,000.00 EUR).
pub const VELOCITY_SUM_ABOVE_MINOR: i64 = 200_000;
/// Impossible travel: further than this from the previous transaction (km) …
pub const TRAVEL_MIN_KM: f64 = 500.0;
/// … at an implied speed above this (km/h).
pub const TRAVEL_MIN_KMH: f64 = 1_000.0;
/// Profile rules need this many earlier transactions of the account.
pub const PROFILE_MIN_HISTORY: usize = 3;
/// Amount outlier: amount ≥ this × the mean of the earlier amounts.
pub const OUTLIER_MIN_RATIO: f64 = 8.0;
/// New device: device never seen on the account and amount ≥ this × that mean.
pub const NEW_DEVICE_MIN_RATIO: f64 = 4.5;
