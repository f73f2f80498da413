//! Who transacts where: accounts, merchants, products, and the static tables behind them.
//!
//! Accounts live in euro-area capitals (home currency EUR) with a log-normal spend profile
//! (median 6.00–250.00 EUR, σ 0.20–0.35), 1–3 devices and 1–2 cards. Domestic merchants
//! have Zipf-like popularity and a category that fixes their channel; each merchant sells
//! 1–12 products, again with Zipf-like popularity. One foreign merchant per far-away
//! country (its own currency) exists only for impossible-travel cases.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::sampling::{Weighted, det_exp, truncated_normal, uniform_i64};
use crate::model::{Channel, CountryCode, Currency, GeoPoint};

/// A home region: country code, city centre in micro-degrees.
pub struct Place {
    /// ISO 3166-1 alpha-2 code.
    pub country: &'static str,
    /// City centre latitude × 10⁶.
    pub lat_micro: i32,
    /// City centre longitude × 10⁶.
    pub lon_micro: i32,
    /// Currency used there.
    pub currency: &'static str,
    /// Minor units of the local currency per euro cent (for plausible foreign amounts).
    pub per_eur_cent: f64,
}

const fn place(country: &'static str, lat: i32, lon: i32, cur: &'static str, fx: f64) -> Place {
    Place {
        country,
        lat_micro: lat,
        lon_micro: lon,
        currency: cur,
        per_eur_cent: fx,
    }
}

/// Euro-area capitals where accounts live.
pub const HOMES: [Place; 10] = [
    place("DE", 52_520_008, 13_404_954, "EUR", 1.0),
    place("FR", 48_856_613, 2_352_222, "EUR", 1.0),
    place("ES", 40_416_775, -3_703_790, "EUR", 1.0),
    place("IT", 41_902_782, 12_496_366, "EUR", 1.0),
    place("NL", 52_367_573, 4_904_139, "EUR", 1.0),
    place("AT", 48_208_176, 16_373_819, "EUR", 1.0),
    place("BE", 50_850_346, 4_351_721, "EUR", 1.0),
    place("PT", 38_722_252, -9_139_337, "EUR", 1.0),
    place("IE", 53_349_805, -6_260_310, "EUR", 1.0),
    place("FI", 60_169_856, 24_938_379, "EUR", 1.0),
];

/// Far-away cities, each ≥ 5,000 km from every home (checked by a test).
pub const FAR_AWAY: [Place; 8] = [
    place("US", 40_712_776, -74_005_974, "USD", 1.08),
    place("BR", -23_550_520, -46_633_308, "BRL", 5.4),
    place("JP", 35_689_487, 139_691_711, "JPY", 1.6),
    place("AU", -33_868_820, 151_209_290, "AUD", 1.65),
    place("SG", 1_352_083, 103_819_836, "SGD", 1.45),
    place("ZA", -26_204_103, 28_047_304, "ZAR", 20.0),
    place("MX", 19_432_608, -99_133_209, "MXN", 18.5),
    place("IN", 19_075_983, 72_877_655, "INR", 90.0),
];

/// Merchant categories: ISO 18245 code, channel, relative frequency among merchants.
pub const CATEGORIES: [(&str, Channel, u64); 13] = [
    ("5411", Channel::Pos, 20),       // grocery stores
    ("5812", Channel::Pos, 15),       // restaurants
    ("5814", Channel::Pos, 10),       // fast food
    ("5541", Channel::Pos, 8),        // service stations
    ("5311", Channel::Pos, 6),        // department stores
    ("5691", Channel::Pos, 6),        // clothing
    ("5732", Channel::Ecommerce, 6),  // electronics
    ("5942", Channel::Ecommerce, 4),  // books
    ("5999", Channel::Ecommerce, 10), // miscellaneous retail (online)
    ("4121", Channel::Mobile, 6),     // taxis and ride sharing
    ("4111", Channel::Mobile, 5),     // commuter transport
    ("5815", Channel::Mobile, 5),     // digital goods
    ("6011", Channel::Atm, 5),        // cash withdrawal
];

/// Category of the foreign merchants (hotels): card present, abroad.
pub const FOREIGN_MCC: &str = "7011";

/// Range of an account's log-normal σ.
pub const SIGMA_RANGE: (f64, f64) = (0.20, 0.35);
/// Normal amounts are drawn within ±this many σ of the median (log scale).
pub const SIGMA_BOUND: f64 = 2.0;
/// Normal transaction locations are within ±this many micro-degrees of home.
pub const LOCAL_JITTER_MICRO: i64 = 100_000;

/// One generated account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Index into [`HOMES`].
    pub home: usize,
    /// Home location (within ±0.15° of the city centre).
    pub location: GeoPoint,
    /// Median amount, euro cents.
    pub median_minor: f64,
    /// Log-normal σ of amounts.
    pub sigma: f64,
    /// Number of devices (1–3).
    pub devices: u8,
    /// Number of cards (1–2).
    pub cards: u8,
    /// Relative activity (how many transactions it gets).
    pub activity: u64,
}

/// One merchant.
#[derive(Debug, Clone)]
pub struct Merchant {
    /// Category code.
    pub mcc: &'static str,
    /// Channel its sales use.
    pub channel: Channel,
    /// Country it sells in.
    pub country: CountryCode,
    /// Currency it sells in.
    pub currency: Currency,
    /// Global index of its first product.
    pub first_product: u32,
    /// Product popularity.
    pub product_pick: Weighted,
}

/// Everyone in the generated world.
#[derive(Debug, Clone)]
pub struct Population {
    /// Accounts, index = account number.
    pub accounts: Vec<Account>,
    /// Domestic merchants first, then one foreign merchant per [`FAR_AWAY`] entry.
    pub merchants: Vec<Merchant>,
    /// Number of domestic merchants.
    pub domestic: usize,
    /// Popularity of domestic merchants.
    pub merchant_pick: Weighted,
    /// Indices of domestic e-commerce merchants (where card testing happens).
    pub ecommerce: Vec<usize>,
    /// Merchant of each product (global product index).
    pub product_merchant: Vec<u32>,
}

impl Population {
    /// Builds the world for `accounts` accounts and `merchants` domestic merchants.
    pub fn generate(rng: &mut ChaCha8Rng, accounts: usize, merchants: usize) -> Self {
        let accounts = (0..accounts).map(|_| account(rng)).collect();
        let categories = Weighted::new(CATEGORIES.iter().map(|c| c.2));
        let mut list = Vec::with_capacity(merchants + FAR_AWAY.len());
        let mut product_merchant = Vec::new();
        let eur = Currency::EUR;
        for i in 0..merchants {
            // The first merchants cover every category once, so each channel exists.
            let cat = if i < CATEGORIES.len() {
                i
            } else {
                categories.pick(rng)
            };
            let home = &HOMES[rng.random_range(0..HOMES.len())];
            let products = rng.random_range(1..=12_u32);
            list.push(merchant(
                CATEGORIES[cat].0,
                CATEGORIES[cat].1,
                home.country,
                eur,
                &mut product_merchant,
                products,
            ));
        }
        for far in &FAR_AWAY {
            let currency = Currency::parse(far.currency).unwrap_or(eur);
            let products = rng.random_range(1..=3_u32);
            list.push(merchant(
                FOREIGN_MCC,
                Channel::Pos,
                far.country,
                currency,
                &mut product_merchant,
                products,
            ));
        }
        let ecommerce = (0..merchants)
            .filter(|&i| list[i].channel == Channel::Ecommerce)
            .collect();
        Self {
            accounts,
            merchants: list,
            domestic: merchants,
            merchant_pick: Weighted::zipf(merchants),
            ecommerce,
            product_merchant,
        }
    }

    /// A product of merchant `m`, by the merchant's product popularity.
    pub fn pick_product(&self, rng: &mut ChaCha8Rng, m: usize) -> u32 {
        let merchant = &self.merchants[m];
        merchant.first_product + merchant.product_pick.pick(rng) as u32
    }

    /// A normal amount for account `a`: median × e^{σz}, z ~ N(0,1) truncated to ±2.
    pub fn normal_amount(&self, rng: &mut ChaCha8Rng, a: usize) -> i64 {
        let acc = &self.accounts[a];
        let z = truncated_normal(rng, SIGMA_BOUND);
        round_minor(acc.median_minor * det_exp(acc.sigma * z))
    }

    /// A location near account `a`'s home.
    pub fn local_point(&self, rng: &mut ChaCha8Rng, a: usize) -> GeoPoint {
        jitter(rng, self.accounts[a].location, LOCAL_JITTER_MICRO)
    }
}

/// Rounds a non-negative amount to whole minor units (exact IEEE rounding).
#[allow(clippy::cast_possible_truncation)]
pub fn round_minor(x: f64) -> i64 {
    x.round() as i64
}

fn account(rng: &mut ChaCha8Rng) -> Account {
    let home = rng.random_range(0..HOMES.len());
    let centre = GeoPoint {
        lat_micro: HOMES[home].lat_micro,
        lon_micro: HOMES[home].lon_micro,
    };
    // ln(600) and ln(25,000): a log-uniform median between 6.00 and 250.00 EUR.
    let (ln_lo, ln_hi) = (6.396_929_655_216_146, 10.126_631_103_850_338);
    let median_minor = det_exp(ln_lo + rng.random::<f64>() * (ln_hi - ln_lo));
    let sigma = SIGMA_RANGE.0 + rng.random::<f64>() * (SIGMA_RANGE.1 - SIGMA_RANGE.0);
    // Activity is itself log-normal (σ 0.6): some accounts transact much more than others.
    let activity = round_minor(1000.0 * det_exp(0.6 * truncated_normal(rng, 3.0))).max(1);
    Account {
        home,
        location: jitter(rng, centre, 150_000),
        median_minor,
        sigma,
        devices: rng.random_range(1..=3),
        cards: rng.random_range(1..=2),
        activity: activity.unsigned_abs(),
    }
}

fn merchant(
    mcc: &'static str,
    channel: Channel,
    country: &str,
    currency: Currency,
    product_merchant: &mut Vec<u32>,
    products: u32,
) -> Merchant {
    let first_product = u32::try_from(product_merchant.len()).unwrap_or(u32::MAX);
    // Merchant number = how many merchants registered products before this one.
    let number = product_merchant.last().map_or(0, |&m| m + 1);
    product_merchant.extend(std::iter::repeat_n(number, products as usize));
    Merchant {
        mcc,
        channel,
        country: CountryCode::parse(country).unwrap_or(CountryCode::FALLBACK),
        currency,
        first_product,
        product_pick: Weighted::zipf(products as usize),
    }
}

/// A point within ±`micro` micro-degrees of `p` on both axes.
pub fn jitter(rng: &mut ChaCha8Rng, p: GeoPoint, micro: i64) -> GeoPoint {
    let dl = uniform_i64(rng, -micro, micro);
    let dn = uniform_i64(rng, -micro, micro);
    GeoPoint {
        lat_micro: (i64::from(p.lat_micro) + dl).clamp(-90_000_000, 90_000_000) as i32,
        lon_micro: (i64::from(p.lon_micro) + dn).clamp(-180_000_000, 180_000_000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_far_away_city_is_at_least_5000_km_from_every_home() {
        for h in &HOMES {
            for f in &FAR_AWAY {
                let a = GeoPoint {
                    lat_micro: h.lat_micro,
                    lon_micro: h.lon_micro,
                };
                let b = GeoPoint {
                    lat_micro: f.lat_micro,
                    lon_micro: f.lon_micro,
                };
                let d = a.distance_km(b);
                assert!(d >= 5000.0, "{} -> {}: {d} km", h.country, f.country);
            }
        }
    }

    #[test]
    fn every_table_code_is_valid() {
        for p in HOMES.iter().chain(&FAR_AWAY) {
            assert!(CountryCode::parse(p.country).is_some());
            assert!(Currency::parse(p.currency).is_some());
        }
    }
}
