//! DynamoDB's number type `N`: an exact decimal, never a float.
//!
//! DynamoDB stores up to 38 significant decimal digits with a magnitude between 1E-130
//! and 9.9999999999999999999999999999999999999E+125 (and zero), and answers numbers in
//! plain notation with leading and trailing zeros trimmed (`"1e3"` comes back as
//! `"1000"`, `"-0"` as `"0"`). Arithmetic (`SET a = a + :v`, `ADD`) is exact and the
//! result is checked against the same limits, with the same messages as input
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html>).
//!
//! Representation: a sign, the significant digits (no leading or trailing zeros; empty
//! for zero) and the decimal exponent of the first digit, so `123.4` is
//! `digits = [1,2,3,4], exponent = 2`. Because the form is canonical, the derived
//! `Eq`/`Hash` are numeric (`"1.0"` equals `"1"`), and ordering is a comparison of
//! sign, exponent and digit slices.

use std::cmp::Ordering;
use std::fmt;

use crate::error::AwsJsonError;

use super::errors::validation;

/// Most significant digits a number may have.
pub const MAX_DIGITS: usize = 38;
/// Largest decimal exponent of the leading digit (9.99…E+125).
pub const MAX_EXPONENT: i64 = 125;
/// Smallest decimal exponent of the leading digit (1E-130).
pub const MIN_EXPONENT: i64 = -130;

/// AWS's message for text that is not a number (followed by `: <text>` when non-empty).
pub const NOT_A_NUMBER: &str = "The parameter cannot be converted to a numeric value";
/// AWS's message for a magnitude above 9.99…E+125.
pub const OVERFLOW: &str =
    "Number overflow. Attempting to store a number with magnitude larger than supported range";
/// AWS's message for a non-zero magnitude below 1E-130.
pub const UNDERFLOW: &str =
    "Number underflow. Attempting to store a number with magnitude smaller than supported range";
/// AWS's message for more than 38 significant digits.
pub const TOO_PRECISE: &str = "Attempting to store more than 38 significant digits in a Number";

/// An exact decimal number as DynamoDB stores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Significant digits, each 0–9, first and last non-zero; empty for zero.
    digits: Vec<u8>,
    /// Decimal exponent of `digits[0]`; 0 for zero.
    exponent: i32,
}

impl Number {
    /// Zero.
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Parses DynamoDB's textual number representation (`-12.5`, `1e3`, `.5`, `+7`),
    /// failing with AWS's validation messages.
    pub fn parse(text: &str) -> Result<Number, AwsJsonError> {
        if text.is_empty() {
            return Err(validation(NOT_A_NUMBER));
        }
        let syntax = || validation(format!("{NOT_A_NUMBER}: {text}"));
        let bytes = text.as_bytes();
        let mut pos = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let mut mantissa = Vec::new();
        let mut integer_len: i64 = 0;
        let mut seen_point = false;
        while let Some(&b) = bytes.get(pos) {
            match b {
                b'0'..=b'9' => {
                    mantissa.push(b - b'0');
                    if !seen_point {
                        integer_len += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            pos += 1;
        }
        if mantissa.is_empty() {
            return Err(syntax());
        }
        let mut exp: i64 = 0;
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            let exp_negative = match bytes.get(pos) {
                Some(b'-') => {
                    pos += 1;
                    true
                }
                Some(b'+') => {
                    pos += 1;
                    false
                }
                _ => false,
            };
            let start = pos;
            while let Some(&b) = bytes.get(pos) {
                if !b.is_ascii_digit() {
                    break;
                }
                // Saturate: any exponent this large is out of range anyway.
                exp = exp.saturating_mul(10).saturating_add(i64::from(b - b'0'));
                pos += 1;
            }
            if pos == start {
                return Err(syntax());
            }
            if exp_negative {
                exp = -exp;
            }
        }
        if pos != bytes.len() {
            return Err(syntax());
        }
        Number::from_parts(negative, mantissa, integer_len.saturating_sub(1), exp)
    }

    /// Builds a number from raw mantissa digits whose first digit has exponent
    /// `first_exponent + extra_exponent`, trimming zeros and checking DynamoDB's limits.
    fn from_parts(
        negative: bool,
        mut mantissa: Vec<u8>,
        first_exponent: i64,
        extra_exponent: i64,
    ) -> Result<Number, AwsJsonError> {
        let leading = mantissa.iter().take_while(|&&d| d == 0).count();
        if leading == mantissa.len() {
            return Ok(Number::zero());
        }
        mantissa.drain(..leading);
        while mantissa.last() == Some(&0) {
            mantissa.pop();
        }
        let exponent = first_exponent
            .saturating_sub(leading as i64)
            .saturating_add(extra_exponent);
        if exponent > MAX_EXPONENT {
            return Err(validation(OVERFLOW));
        }
        if exponent < MIN_EXPONENT {
            return Err(validation(UNDERFLOW));
        }
        if mantissa.len() > MAX_DIGITS {
            return Err(validation(TOO_PRECISE));
        }
        Ok(Number {
            negative,
            digits: mantissa,
            // In range by the checks above.
            exponent: exponent as i32,
        })
    }

    /// A non-negative integer (sizes, counts).
    pub fn from_u64(value: u64) -> Number {
        let digits: Vec<u8> = value.to_string().bytes().map(|b| b - b'0').collect();
        let first = digits.len() as i64 - 1;
        // A u64 has at most 20 digits: always in range.
        Number::from_parts(false, digits, first, 0).unwrap_or_else(|_| Number::zero())
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Whether this is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Exact sum, checked against DynamoDB's range and precision.
    pub fn add(&self, other: &Number) -> Result<Number, AwsJsonError> {
        self.combine(other, false)
    }

    /// Exact difference, checked against DynamoDB's range and precision.
    pub fn sub(&self, other: &Number) -> Result<Number, AwsJsonError> {
        self.combine(other, true)
    }

    fn combine(&self, other: &Number, subtract: bool) -> Result<Number, AwsJsonError> {
        let other_negative = other.negative != subtract && !other.is_zero();
        if other.is_zero() {
            return Ok(self.clone());
        }
        if self.is_zero() {
            return Ok(Number {
                negative: other_negative,
                ..other.clone()
            });
        }
        // Align both magnitudes to the lowest digit exponent, little-endian digits.
        let low = self.lowest_exponent().min(other.lowest_exponent());
        let a = self.aligned(low);
        let b = other.aligned(low);
        let (negative, magnitude) = if self.negative == other_negative {
            (self.negative, add_magnitudes(&a, &b))
        } else {
            match compare_magnitudes(&a, &b) {
                Ordering::Equal => return Ok(Number::zero()),
                Ordering::Greater => (self.negative, sub_magnitudes(&a, &b)),
                Ordering::Less => (other_negative, sub_magnitudes(&b, &a)),
            }
        };
        let first = low + magnitude.len() as i64 - 1;
        let big_endian: Vec<u8> = magnitude.into_iter().rev().collect();
        Number::from_parts(negative, big_endian, first, 0)
    }

    /// Exponent of the last significant digit.
    fn lowest_exponent(&self) -> i64 {
        i64::from(self.exponent) - (self.digits.len() as i64 - 1)
    }

    /// Little-endian digits of the magnitude scaled so the last digit has exponent `low`.
    fn aligned(&self, low: i64) -> Vec<u8> {
        let pad = (self.lowest_exponent() - low) as usize;
        let mut out = vec![0; pad];
        out.extend(self.digits.iter().rev());
        out
    }

    /// Compares magnitudes, ignoring sign.
    fn cmp_magnitude(&self, other: &Number) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self
                .exponent
                .cmp(&other.exponent)
                .then_with(|| self.digits.cmp(&other.digits)),
        }
    }

    /// Size in bytes per DynamoDB's storage: one byte per pair of significant digits
    /// (pairs aligned on the decimal point, as in a base-100 mantissa), one byte of
    /// exponent, and one more for a negative number.
    pub fn storage_size(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        let high = i64::from(self.exponent).div_euclid(2);
        let low = self.lowest_exponent().div_euclid(2);
        let pairs = (high - low + 1) as usize;
        pairs + 1 + usize::from(self.negative)
    }

    /// Number of significant digits.
    pub fn significant_digits(&self) -> usize {
        self.digits.len()
    }

    /// The nearest `f64` (up to its rounding): for comparisons such as TTL timestamps,
    /// without formatting and re-parsing text (the TTL sweeper does this for every item
    /// of a table twice a second).
    pub fn to_f64(&self) -> f64 {
        // 17 significant digits determine an f64; the rest cannot change the comparison
        // of a timestamp in seconds.
        let kept = self.digits.len().min(17);
        let mantissa = self.digits[..kept]
            .iter()
            .fold(0u64, |m, d| m * 10 + u64::from(*d));
        // `kept` ≤ 17, so the cast is lossless.
        let scale = i64::from(self.exponent) - (kept as i64 - 1);
        let magnitude = mantissa as f64 * 10f64.powi(scale.clamp(-400, 400) as i32);
        if self.negative { -magnitude } else { magnitude }
    }
}

fn add_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let sum = a.get(i).copied().unwrap_or(0) + b.get(i).copied().unwrap_or(0) + carry;
        out.push(sum % 10);
        carry = sum / 10;
    }
    if carry > 0 {
        out.push(carry);
    }
    out
}

/// `a - b` for little-endian magnitudes with `a >= b`.
fn sub_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0;
    for (i, &da) in a.iter().enumerate() {
        let sub = b.get(i).copied().unwrap_or(0) + borrow;
        if da >= sub {
            out.push(da - sub);
            borrow = 0;
        } else {
            out.push(da + 10 - sub);
            borrow = 1;
        }
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    out
}

fn compare_magnitudes(a: &[u8], b: &[u8]) -> Ordering {
    let trimmed = |x: &[u8]| x.len() - x.iter().rev().take_while(|&&d| d == 0).count();
    let (la, lb) = (trimmed(a), trimmed(b));
    la.cmp(&lb)
        .then_with(|| a[..la].iter().rev().cmp(b[..lb].iter().rev()))
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    /// Plain notation, as DynamoDB answers numbers: no exponent, no redundant zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut out = String::with_capacity(self.digits.len() + 4);
        if self.negative {
            out.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        let exponent = i64::from(self.exponent);
        let len = self.digits.len() as i64;
        if exponent < 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.extend(self.digits.iter().map(digit));
        } else if exponent >= len - 1 {
            out.extend(self.digits.iter().map(digit));
            out.extend(std::iter::repeat_n('0', (exponent - (len - 1)) as usize));
        } else {
            let split = (exponent + 1) as usize;
            out.extend(self.digits[..split].iter().map(digit));
            out.push('.');
            out.extend(self.digits[split..].iter().map(digit));
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_f64_agrees_with_the_text_for_timestamps_fractions_and_extremes() {
        for text in [
            "0",
            "1795333669",
            "1795333669.375",
            "-42.5",
            "0.000123",
            "1e3",
            "12345678901234567890123456789",
            "9.9999999999999999999999999999999999999E+125",
            "1E-130",
        ] {
            let want: f64 = text.parse().unwrap();
            let got = Number::parse(text).unwrap().to_f64();
            let tolerance = want.abs() * 1e-15;
            assert!((got - want).abs() <= tolerance, "{text}: {got} vs {want}");
        }
    }

    fn n(text: &str) -> Number {
        Number::parse(text).unwrap()
    }

    fn parse_error(text: &str) -> String {
        Number::parse(text).unwrap_err().message
    }

    #[test]
    fn numbers_are_printed_in_normalized_plain_notation() {
        for (input, shown) in [
            ("0", "0"),
            ("-0", "0"),
            ("000", "0"),
            ("0.000", "0"),
            ("0e-500", "0"),
            ("007", "7"),
            ("+7", "7"),
            ("1.50", "1.5"),
            ("-12.3400", "-12.34"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e3", "1000"),
            ("1E+3", "1000"),
            ("12.5e-3", "0.0125"),
            ("123.456e1", "1234.56"),
        ] {
            assert_eq!(n(input).to_string(), shown, "input {input}");
        }
        assert_eq!(n("-1e-130").to_string(), format!("-0.{}1", "0".repeat(129)));
    }

    #[test]
    fn text_that_is_not_a_number_is_rejected_with_the_aws_message() {
        assert_eq!(parse_error(""), NOT_A_NUMBER);
        for bad in [
            "abc", "1.2.3", "1e", "e5", "-", ".", "1 ", " 1", "0x10", "NaN", "Infinity", "1e+",
            "--1",
        ] {
            assert_eq!(
                parse_error(bad),
                format!("{NOT_A_NUMBER}: {bad}"),
                "input {bad:?}"
            );
        }
    }

    #[test]
    fn magnitudes_outside_the_supported_range_overflow_or_underflow() {
        assert_eq!(parse_error("1e126"), OVERFLOW);
        assert_eq!(parse_error("-1e126"), OVERFLOW);
        assert_eq!(parse_error("1e99999999999999999999999"), OVERFLOW);
        assert_eq!(parse_error("1e-131"), UNDERFLOW);
        assert_eq!(parse_error("-0.1e-130"), UNDERFLOW);
        assert!(Number::parse("9.9999999999999999999999999999999999999E+125").is_ok());
        assert!(Number::parse("1E-130").is_ok());
    }

    #[test]
    fn more_than_38_significant_digits_is_rejected_but_trailing_zeros_do_not_count() {
        assert_eq!(
            parse_error("123456789012345678901234567890123456789"),
            TOO_PRECISE
        );
        assert_eq!(
            parse_error("-1.23456789012345678901234567890123456789"),
            TOO_PRECISE
        );
        assert!(Number::parse("12345678901234567890123456789012345678").is_ok());
        assert!(Number::parse("110111111111111110000000000000000000000").is_ok());
        assert!(Number::parse("0.000000000000000000000000000000000000000000001").is_ok());
    }

    #[test]
    fn numbers_compare_numerically_not_textually() {
        assert!(n("10") > n("9"));
        assert!(n("-10") < n("-9"));
        assert!(n("-1") < n("0"));
        assert!(n("0") < n("0.001"));
        assert!(n("1.5") > n("1"));
        assert!(n("1.05") < n("1.5"));
        assert_eq!(n("1.0"), n("1"));
        assert_eq!(n("100").cmp(&n("1e2")), Ordering::Equal);
        assert!(n("-0.5") > n("-1"));
    }

    #[test]
    fn addition_and_subtraction_are_exact() {
        let cases = [
            ("0.1", "0.2", "0.3", "-0.1"),
            ("1", "-1", "0", "2"),
            ("999", "1", "1000", "998"),
            ("-5", "3", "-2", "-8"),
            ("1e20", "1", "100000000000000000001", "99999999999999999999"),
            ("0", "-7.5", "-7.5", "7.5"),
            ("123.456", "0.544", "124", "122.912"),
        ];
        for (a, b, sum, diff) in cases {
            assert_eq!(n(a).add(&n(b)).unwrap().to_string(), sum, "{a} + {b}");
            assert_eq!(n(a).sub(&n(b)).unwrap().to_string(), diff, "{a} - {b}");
        }
    }

    #[test]
    fn arithmetic_results_are_checked_against_the_limits() {
        let max = n("9.9999999999999999999999999999999999999E+125");
        assert_eq!(max.add(&n("1E+125")).unwrap_err().message, OVERFLOW);
        assert_eq!(n("1e50").add(&n("1")).unwrap_err().message, TOO_PRECISE);
        assert_eq!(
            n("1.1E-129").sub(&n("1.05E-129")).unwrap_err().message,
            UNDERFLOW
        );
    }

    #[test]
    fn storage_size_counts_digit_pairs_aligned_on_the_decimal_point() {
        assert_eq!(n("0").storage_size(), 1);
        assert_eq!(n("1").storage_size(), 2);
        assert_eq!(n("12").storage_size(), 2);
        assert_eq!(n("123").storage_size(), 3);
        assert_eq!(n("1000").storage_size(), 2);
        assert_eq!(n("12.5").storage_size(), 3);
        assert_eq!(n("-1").storage_size(), 3);
        assert_eq!(n("1e125").storage_size(), 2);
        assert_eq!(
            n("12345678901234567890123456789012345678").storage_size(),
            20
        );
    }

    #[test]
    fn small_integers_convert_exactly() {
        assert_eq!(Number::from_u64(0).to_string(), "0");
        assert_eq!(Number::from_u64(1200).to_string(), "1200");
        assert_eq!(Number::from_u64(u64::MAX).to_string(), u64::MAX.to_string());
    }
}
