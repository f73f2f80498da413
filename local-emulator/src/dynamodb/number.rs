//! DynamoDB's number type `N`: an exact decimal (placeholder, filled in next).

use std::cmp::Ordering;
use std::fmt;

use crate::error::AwsJsonError;

use super::errors::validation;

/// An exact decimal number as DynamoDB stores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    digits: Vec<u8>,
    exponent: i32,
}

impl Number {
    /// Parses DynamoDB's textual number representation.
    pub fn parse(text: &str) -> Result<Number, AwsJsonError> {
        Err(validation(format!("not yet: {text}")))
    }

    /// Exact sum.
    pub fn add(&self, _other: &Number) -> Result<Number, AwsJsonError> {
        Err(validation("not yet"))
    }

    /// Exact difference.
    pub fn sub(&self, _other: &Number) -> Result<Number, AwsJsonError> {
        Err(validation("not yet"))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        self.exponent.cmp(&other.exponent)
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:?}{}", self.negative, self.digits, self.exponent)
    }
}
