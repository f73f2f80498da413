//! The totals as files: CSV (RFC 4180) and Parquet.
//!
//! Both have the columns `dimension, id, currency, revenue_minor, count` in key order.
//! Parquet is written with the `parquet` crate's core writer (no arrow, no compression
//! codecs: a day's totals are small, and the default features would add arrow and four
//! codecs to the build); the file is deterministic because the writer embeds no
//! timestamps, only the schema, statistics and its `created_by` version string.

use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use crate::Error;
use crate::totals::TotalRow;

/// The CSV header line's columns.
pub const COLUMNS: [&str; 5] = ["dimension", "id", "currency", "revenue_minor", "count"];

const SCHEMA: &str = "
message totals {
  REQUIRED BYTE_ARRAY dimension (UTF8);
  REQUIRED BYTE_ARRAY id (UTF8);
  REQUIRED BYTE_ARRAY currency (UTF8);
  REQUIRED INT64 revenue_minor;
  REQUIRED INT64 count (INTEGER(64,false));
}";

/// Quotes a field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The rows as CSV with a header line and CRLF-free `\n` line ends.
pub fn to_csv(rows: &[TotalRow]) -> Vec<u8> {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            r.dimension,
            csv_field(&r.id),
            csv_field(&r.currency),
            r.revenue_minor,
            r.count
        ));
    }
    out.into_bytes()
}

fn parquet_error(e: parquet::errors::ParquetError) -> Error {
    Error::Encode(format!("parquet: {e}"))
}

/// The rows as a Parquet file with one row group.
pub fn to_parquet(rows: &[TotalRow]) -> Result<Vec<u8>, Error> {
    let schema = Arc::new(parse_message_type(SCHEMA).map_err(parquet_error)?);
    let props = Arc::new(WriterProperties::builder().build());
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props).map_err(parquet_error)?;
    let strings: [Vec<ByteArray>; 3] = [
        rows.iter()
            .map(|r| ByteArray::from(r.dimension.as_str()))
            .collect(),
        rows.iter()
            .map(|r| ByteArray::from(r.id.as_str()))
            .collect(),
        rows.iter()
            .map(|r| ByteArray::from(r.currency.as_str()))
            .collect(),
    ];
    let numbers: [Vec<i64>; 2] = [
        rows.iter().map(|r| r.revenue_minor).collect(),
        // UINT_64 is stored as INT64 bits (the Parquet spec's unsigned annotation).
        rows.iter().map(|r| r.count.cast_signed()).collect(),
    ];
    let mut group = writer.next_row_group().map_err(parquet_error)?;
    let mut column = 0;
    while let Some(mut col) = group.next_column().map_err(parquet_error)? {
        if let Some(values) = strings.get(column) {
            col.typed::<ByteArrayType>()
                .write_batch(values, None, None)
                .map_err(parquet_error)?;
        } else if let Some(values) = numbers.get(column - strings.len()) {
            col.typed::<Int64Type>()
                .write_batch(values, None, None)
                .map_err(parquet_error)?;
        }
        col.close().map_err(parquet_error)?;
        column += 1;
    }
    group.close().map_err(parquet_error)?;
    writer.into_inner().map_err(parquet_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totals::Dimension;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;

    fn sample() -> Vec<TotalRow> {
        vec![
            TotalRow {
                dimension: Dimension::Merchant,
                id: "m-00001".into(),
                currency: "EUR".into(),
                revenue_minor: 123_456_789_012,
                count: 42,
            },
            TotalRow {
                dimension: Dimension::Product,
                id: "p,\"odd\"".into(),
                currency: "JPY".into(),
                revenue_minor: -7,
                count: u64::MAX,
            },
        ]
    }

    #[test]
    fn parquet_round_trips_through_the_same_crate() {
        let rows = sample();
        let bytes = to_parquet(&rows).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        let back: Vec<TotalRow> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|row| {
                let row = row.unwrap();
                TotalRow {
                    dimension: Dimension::parse(row.get_string(0).unwrap()).unwrap(),
                    id: row.get_string(1).unwrap().clone(),
                    currency: row.get_string(2).unwrap().clone(),
                    revenue_minor: row.get_long(3).unwrap(),
                    count: row.get_ulong(4).unwrap(),
                }
            })
            .collect();
        assert_eq!(back, rows);
    }

    #[test]
    fn parquet_is_deterministic() {
        assert_eq!(
            to_parquet(&sample()).unwrap(),
            to_parquet(&sample()).unwrap()
        );
        assert!(to_parquet(&[]).is_ok());
    }

    /// Minimal RFC 4180 reader for the round trip (quoted fields, doubled quotes).
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for line in text.lines() {
            let (mut fields, mut field, mut quoted, mut chars) =
                (Vec::new(), String::new(), false, line.chars().peekable());
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        field.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut field)),
                    _ => field.push(c),
                }
            }
            fields.push(field);
            rows.push(fields);
        }
        rows
    }

    #[test]
    fn csv_round_trips_with_quoting() {
        let rows = sample();
        let text = String::from_utf8(to_csv(&rows)).unwrap();
        let parsed = parse_csv(&text);
        assert_eq!(parsed[0], COLUMNS);
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[2][1], "p,\"odd\"");
        assert_eq!(parsed[1][3].parse::<i64>().unwrap(), 123_456_789_012);
        assert_eq!(parsed[2][4].parse::<u64>().unwrap(), u64::MAX);
    }
}
