//! Ground truth: what the generator injected, for oracles to compare against.
//!
//! Written as JSON Lines, one tagged entry per line (`{"type":"fraud",…}`), so large
//! days stream through line-oriented tools and a reader needs no whole-file parse.
//! Totals are exact integers in minor units computed from the valid, de-duplicated
//! transactions (late ones included: they belong to their event-time day).

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use super::GeneratorConfig;
use super::fraud::FraudPattern;
use crate::model::{AccountId, Currency, MerchantId, ProductId, TransactionId};
use crate::validate::RejectReason;

/// One injected fraud case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudCase {
    /// Stable case id (`case-00001`).
    pub case_id: String,
    /// The pattern.
    pub pattern: FraudPattern,
    /// The account it happened to.
    pub account_id: AccountId,
    /// Every transaction of the case, in event-time order.
    pub transaction_ids: Vec<TransactionId>,
    /// The transaction at which a detector for this pattern can first fire.
    pub first_detectable: TransactionId,
}

/// One malformed record and the reason a validator must give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MalformedRecord {
    /// Position in arrival order (0-based).
    pub record_index: u64,
    /// Partition key it was sent with.
    pub partition_key: String,
    /// The record bytes (always UTF-8 text).
    pub data: String,
    /// Expected rejection.
    pub reason: RejectReason,
}

/// A day's total for one merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantTotal {
    /// `YYYY-MM-DD` (UTC event-time day).
    pub day: String,
    /// Merchant.
    pub merchant_id: MerchantId,
    /// Currency of the merchant's sales.
    pub currency: Currency,
    /// Sum of amounts, minor units.
    pub revenue_minor: i64,
    /// Number of transactions.
    pub count: u64,
}

/// A day's total for one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductTotal {
    /// `YYYY-MM-DD` (UTC event-time day).
    pub day: String,
    /// Product.
    pub product_id: ProductId,
    /// The merchant selling it.
    pub merchant_id: MerchantId,
    /// Currency.
    pub currency: Currency,
    /// Sum of amounts, minor units.
    pub revenue_minor: i64,
    /// Number of transactions.
    pub count: u64,
}

/// Record counts by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Every record emitted.
    pub records: u64,
    /// Distinct valid transactions (= the configured number).
    pub transactions: u64,
    /// Extra byte-identical copies.
    pub duplicates: u64,
    /// Transactions delivered hours late.
    pub late: u64,
    /// Malformed records.
    pub malformed: u64,
    /// Fraud cases.
    pub fraud_cases: u64,
    /// Transactions belonging to fraud cases.
    pub fraud_transactions: u64,
}

/// Everything the generator knows about its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// The configuration that produced it.
    pub config: GeneratorConfig,
    /// Counts.
    pub counts: Counts,
    /// Injected fraud.
    pub fraud: Vec<FraudCase>,
    /// Ids re-sent byte-identically (each once more).
    pub duplicates: Vec<TransactionId>,
    /// Ids delivered hours after their event time.
    pub late: Vec<TransactionId>,
    /// Malformed records with expected reasons.
    pub malformed: Vec<MalformedRecord>,
    /// Daily totals per merchant.
    pub merchant_totals: Vec<MerchantTotal>,
    /// Daily totals per product.
    pub product_totals: Vec<ProductTotal>,
}

/// One line of the JSON Lines form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TruthLine {
    /// First line: configuration and counts.
    Summary {
        /// Configuration.
        config: GeneratorConfig,
        /// Counts.
        counts: Counts,
    },
    /// A fraud case.
    Fraud(FraudCase),
    /// A duplicated id.
    Duplicate {
        /// The id.
        transaction_id: TransactionId,
    },
    /// A late id.
    Late {
        /// The id.
        transaction_id: TransactionId,
    },
    /// A malformed record.
    Malformed(MalformedRecord),
    /// A merchant total.
    MerchantTotal(MerchantTotal),
    /// A product total.
    ProductTotal(ProductTotal),
}

impl GroundTruth {
    /// Writes the JSON Lines form.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        let mut line = |l: TruthLine| -> io::Result<()> {
            serde_json::to_writer(&mut *out, &l)?;
            out.write_all(b"\n")
        };
        line(TruthLine::Summary {
            config: self.config.clone(),
            counts: self.counts.clone(),
        })?;
        self.fraud
            .iter()
            .try_for_each(|c| line(TruthLine::Fraud(c.clone())))?;
        for id in &self.duplicates {
            line(TruthLine::Duplicate {
                transaction_id: id.clone(),
            })?;
        }
        for id in &self.late {
            line(TruthLine::Late {
                transaction_id: id.clone(),
            })?;
        }
        self.malformed
            .iter()
            .try_for_each(|m| line(TruthLine::Malformed(m.clone())))?;
        self.merchant_totals
            .iter()
            .try_for_each(|t| line(TruthLine::MerchantTotal(t.clone())))?;
        self.product_totals
            .iter()
            .try_for_each(|t| line(TruthLine::ProductTotal(t.clone())))
    }

    /// Reads the JSON Lines form back.
    pub fn read_jsonl(input: impl BufRead) -> io::Result<Self> {
        let mut truth: Option<Self> = None;
        for line in input.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let parsed: TruthLine = serde_json::from_str(&line)?;
            if let TruthLine::Summary { config, counts } = parsed {
                truth = Some(Self::empty(config, counts));
                continue;
            }
            let t = truth.as_mut().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "ground truth lacks its summary line",
                )
            })?;
            match parsed {
                TruthLine::Summary { .. } => {}
                TruthLine::Fraud(c) => t.fraud.push(c),
                TruthLine::Duplicate { transaction_id } => t.duplicates.push(transaction_id),
                TruthLine::Late { transaction_id } => t.late.push(transaction_id),
                TruthLine::Malformed(m) => t.malformed.push(m),
                TruthLine::MerchantTotal(m) => t.merchant_totals.push(m),
                TruthLine::ProductTotal(p) => t.product_totals.push(p),
            }
        }
        truth.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "empty ground truth"))
    }

    fn empty(config: GeneratorConfig, counts: Counts) -> Self {
        Self {
            config,
            counts,
            fraud: Vec::new(),
            duplicates: Vec::new(),
            late: Vec::new(),
            malformed: Vec::new(),
            merchant_totals: Vec::new(),
            product_totals: Vec::new(),
        }
    }
}
