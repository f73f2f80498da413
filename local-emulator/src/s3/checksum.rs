//! Object integrity: Content-MD5, the flexible `x-amz-checksum-*` algorithms and ETags.
//!
//! A client may send one checksum per request, either as a header or (with aws-chunked
//! framing) as a trailer. S3 recomputes it over the received bytes and answers
//! `BadDigest` on mismatch (e.g. "The CRC32 you specified did not match the calculated
//! checksum.", as seen in aws/aws-sdk-ruby#3322); a malformed Content-MD5 is
//! `InvalidDigest`. The stored checksum is echoed on PutObject and, with
//! `x-amz-checksum-mode: ENABLED`, on GetObject/HeadObject. CRCs are sent as the base64
//! of their big-endian bytes, digests as the base64 of the digest.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};

use super::error::{S3Error, S3Result};

/// A flexible checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// CRC-32 (ISO-HDLC).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

/// Every algorithm, in the order headers are looked up.
pub const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::Crc32,
    Algorithm::Crc32c,
    Algorithm::Crc64Nvme,
    Algorithm::Sha1,
    Algorithm::Sha256,
];

impl Algorithm {
    /// The header (and trailer) carrying this checksum.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name S3 uses in messages and `x-amz-sdk-checksum-algorithm`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// The algorithm whose header is `name` (lower-case).
    pub fn from_header(name: &str) -> Option<Self> {
        ALGORITHMS.into_iter().find(|a| a.header() == name)
    }

    /// The base64 checksum of `data`.
    pub fn compute(self, data: &[u8]) -> String {
        match self {
            Self::Crc32 => STANDARD.encode(crc32fast::hash(data).to_be_bytes()),
            Self::Crc32c => STANDARD.encode(crc32c::crc32c(data).to_be_bytes()),
            Self::Crc64Nvme => {
                let mut d = crc64fast_nvme::Digest::new();
                d.write(data);
                STANDARD.encode(d.sum64().to_be_bytes())
            }
            Self::Sha1 => STANDARD.encode(sha1::Sha1::digest(data)),
            Self::Sha256 => STANDARD.encode(sha2::Sha256::digest(data)),
        }
    }
}

/// A checksum stored with an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChecksum {
    /// Algorithm.
    pub algorithm: Algorithm,
    /// Base64 value.
    pub value: String,
}

/// Verifies a client-supplied checksum against the received bytes.
pub fn verify(algorithm: Algorithm, claimed: &str, data: &[u8]) -> S3Result<StoredChecksum> {
    let actual = algorithm.compute(data);
    if actual == claimed.trim() {
        Ok(StoredChecksum {
            algorithm,
            value: actual,
        })
    } else if STANDARD.decode(claimed.trim()).is_err() {
        Err(S3Error::new(
            400,
            "InvalidRequest",
            format!("Value for {} header is invalid.", algorithm.header()),
        ))
    } else {
        Err(S3Error::new(
            400,
            "BadDigest",
            format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.name()
            ),
        ))
    }
}

/// Verifies a `Content-MD5` header: `InvalidDigest` if it is not a base64 MD5,
/// `BadDigest` if it does not match.
pub fn verify_content_md5(claimed: &str, data: &[u8]) -> S3Result<()> {
    let decoded = STANDARD
        .decode(claimed.trim())
        .ok()
        .filter(|d| d.len() == 16);
    let Some(decoded) = decoded else {
        return Err(S3Error::new(
            400,
            "InvalidDigest",
            "The Content-MD5 you specified was invalid.",
        )
        .with("Content-MD5", claimed));
    };
    if decoded.as_slice() == Md5::digest(data).as_slice() {
        Ok(())
    } else {
        Err(S3Error::new(
            400,
            "BadDigest",
            "The Content-MD5 you specified did not match what we received.",
        )
        .with("ExpectedDigest", hex::encode(decoded))
        .with("CalculatedDigest", STANDARD.encode(Md5::digest(data))))
    }
}

/// The quoted hex MD5 ETag of a single-part object.
pub fn etag(data: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(data)))
}

/// The ETag of a multipart object: the MD5 of the concatenated binary part MD5s, then
/// `-<part count>`. Part ETags are quoted hex; an unparseable one contributes nothing
/// (they were produced by [`etag`], so that does not happen).
pub fn multipart_etag<'a>(part_etags: impl Iterator<Item = &'a str>) -> String {
    let mut hasher = Md5::new();
    let mut count = 0usize;
    for e in part_etags {
        count += 1;
        if let Ok(bin) = hex::decode(e.trim_matches('"')) {
            hasher.update(bin);
        }
    }
    format!("\"{}-{count}\"", hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crcs_of_the_standard_check_input_match_the_catalogue() {
        // The CRC catalogue's check values for "123456789": CRC-32 0xCBF43926,
        // CRC-32C 0xE3069283, CRC-64/NVME 0xAE8B14860A799888.
        let b64 = |b: &[u8]| STANDARD.encode(b);
        assert_eq!(
            Algorithm::Crc32.compute(b"123456789"),
            b64(&0xCBF4_3926u32.to_be_bytes())
        );
        assert_eq!(
            Algorithm::Crc32c.compute(b"123456789"),
            b64(&0xE306_9283u32.to_be_bytes())
        );
        assert_eq!(
            Algorithm::Crc64Nvme.compute(b"123456789"),
            b64(&0xAE8B_1486_0A79_9888u64.to_be_bytes())
        );
    }

    #[test]
    fn verify_reports_bad_digest_for_a_wrong_but_well_formed_checksum() {
        let wrong = Algorithm::Sha256.compute(b"other");
        let err = verify(Algorithm::Sha256, &wrong, b"data").unwrap_err();
        assert_eq!((err.status, err.code), (400, "BadDigest"));
    }

    #[test]
    fn content_md5_distinguishes_invalid_from_mismatched() {
        assert_eq!(
            verify_content_md5("zz", b"x").unwrap_err().code,
            "InvalidDigest"
        );
        let other = STANDARD.encode(Md5::digest(b"y"));
        assert_eq!(
            verify_content_md5(&other, b"x").unwrap_err().code,
            "BadDigest"
        );
        let right = STANDARD.encode(Md5::digest(b"x"));
        assert!(verify_content_md5(&right, b"x").is_ok());
    }

    #[test]
    fn multipart_etag_hashes_binary_part_digests_and_counts_parts() {
        let a = etag(b"a");
        let b = etag(b"b");
        let mut h = Md5::new();
        h.update(Md5::digest(b"a"));
        h.update(Md5::digest(b"b"));
        let expected = format!("\"{}-2\"", hex::encode(h.finalize()));
        assert_eq!(
            multipart_etag([a.as_str(), b.as_str()].into_iter()),
            expected
        );
    }
}
