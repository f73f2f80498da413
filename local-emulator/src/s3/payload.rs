//! Receiving an upload body: aws-chunked decoding, length and integrity checks.
//!
//! Every body-carrying S3 operation goes through [`receive`], so PutObject, UploadPart
//! and DeleteObjects all accept the framing and checksums SDKs send by default:
//! the body is de-chunked when aws-chunked, `x-amz-decoded-content-length` must match,
//! then `Content-MD5` and any `x-amz-checksum-*` (header or trailer) are verified.

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;

use super::checksum::{self, StoredChecksum};
use super::chunked;
use super::error::{S3Error, S3Result};

/// Largest single PUT S3 accepts (5 GiB).
pub const MAX_PUT_SIZE: usize = 5 * 1024 * 1024 * 1024;

/// A received, verified body.
#[derive(Debug, Clone, Default)]
pub struct Payload {
    /// The decoded bytes.
    pub data: Bytes,
    /// The verified flexible checksum, if the client sent one.
    pub checksum: Option<StoredChecksum>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads and verifies the request body.
pub async fn receive(headers: &HeaderMap, body: Body) -> S3Result<Payload> {
    let raw = axum::body::to_bytes(body, MAX_PUT_SIZE + 1)
        .await
        .map_err(|_| {
            S3Error::new(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
            )
        })?;
    let chunked = chunked::is_aws_chunked(
        header(headers, "content-encoding"),
        header(headers, "x-amz-content-sha256"),
    );
    let (data, trailers) = if chunked {
        let decoded = chunked::decode(&raw)?;
        if let Some(declared) = header(headers, "x-amz-decoded-content-length") {
            let declared: usize = declared.trim().parse().map_err(|_| {
                S3Error::invalid_argument(
                    "x-amz-decoded-content-length is not a number",
                    "x-amz-decoded-content-length",
                    declared,
                )
            })?;
            if declared != decoded.data.len() {
                return Err(S3Error::new(
                    400,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                ));
            }
        }
        (decoded.data, decoded.trailers)
    } else {
        (raw, Vec::new())
    };
    if let Some(md5) = header(headers, "content-md5") {
        checksum::verify_content_md5(md5, &data)?;
    }
    let claimed = checksum::ALGORITHMS.into_iter().find_map(|a| {
        header(headers, a.header())
            .map(|v| (a, v.to_owned()))
            .or_else(|| {
                trailers
                    .iter()
                    .find(|(n, _)| n == a.header())
                    .map(|(_, v)| (a, v.clone()))
            })
    });
    let checksum = match claimed {
        Some((algorithm, value)) => Some(checksum::verify(algorithm, &value, &data)?),
        None => None,
    };
    Ok(Payload { data, checksum })
}
