//! Decoding the `aws-chunked` content encoding.
//!
//! Current SDKs upload with `Content-Encoding: aws-chunked` and
//! `x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`: the body is a series of
//! chunks `<hex size>\r\n<data>\r\n`, a terminating `0\r\n`, then trailer lines
//! `name:value\r\n` (e.g. `x-amz-checksum-crc32:…`) and a final `\r\n`. The signed
//! variant (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`) adds `;chunk-signature=<hex>`
//! to each size line and may end with an `x-amz-trailer-signature` trailer. This is the
//! framing aws-runtime's `AwsChunkedBody` writes (its tests expect e.g.
//! `"A\r\n1234567890\r\n"` … `"0\r\nx-amz-checksum-crc32:78DeVw==\r\n\r\n"`). The
//! emulator does not check signatures, exactly as it does not check SigV4.

use bytes::{Bytes, BytesMut};

use super::error::{S3Error, S3Result};

/// A decoded aws-chunked body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The payload.
    pub data: Bytes,
    /// Trailer headers, names lower-cased.
    pub trailers: Vec<(String, String)>,
}

/// True when the request body uses aws-chunked framing.
pub fn is_aws_chunked(content_encoding: Option<&str>, content_sha256: Option<&str>) -> bool {
    content_encoding.is_some_and(|e| e.split(',').any(|p| p.trim() == "aws-chunked"))
        || content_sha256.is_some_and(|s| s.starts_with("STREAMING-"))
}

fn incomplete() -> S3Error {
    S3Error::new(
        400,
        "IncompleteBody",
        "The request body terminated unexpectedly",
    )
}

/// Decodes `body`; malformed framing is `IncompleteBody`.
pub fn decode(body: &Bytes) -> S3Result<Decoded> {
    let mut pos = 0usize;
    let mut pieces: Vec<Bytes> = Vec::new();
    loop {
        let line_end = find_crlf(body, pos).ok_or_else(incomplete)?;
        let line = body.get(pos..line_end).ok_or_else(incomplete)?;
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_text = std::str::from_utf8(size_text).map_err(|_| incomplete())?;
        let size = usize::from_str_radix(size_text.trim(), 16).map_err(|_| incomplete())?;
        pos = line_end + 2;
        if size == 0 {
            break;
        }
        let end = pos.checked_add(size).ok_or_else(incomplete)?;
        if end > body.len() || body.get(end..end + 2) != Some(b"\r\n".as_slice()) {
            return Err(incomplete());
        }
        pieces.push(body.slice(pos..end));
        pos = end + 2;
    }
    let mut trailers = Vec::new();
    while pos < body.len() {
        let line_end = find_crlf(body, pos).unwrap_or(body.len());
        let line = body.get(pos..line_end).ok_or_else(incomplete)?;
        pos = line_end + 2;
        if line.is_empty() {
            break;
        }
        let line = std::str::from_utf8(line).map_err(|_| incomplete())?;
        let (name, value) = line.split_once(':').ok_or_else(incomplete)?;
        trailers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let data = match pieces.len() {
        0 => Bytes::new(),
        1 => pieces.pop().unwrap_or_default(),
        _ => {
            let mut all = BytesMut::with_capacity(pieces.iter().map(Bytes::len).sum());
            for p in &pieces {
                all.extend_from_slice(p);
            }
            all.freeze()
        }
    };
    Ok(Decoded { data, trailers })
}

fn find_crlf(body: &[u8], from: usize) -> Option<usize> {
    body.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_joins_chunks_and_reads_the_checksum_trailer() {
        let raw = Bytes::from_static(
            b"A\r\n1234567890\r\n5\r\n12345\r\n0\r\nx-amz-checksum-crc32:78DeVw==\r\n\r\n",
        );
        let d = decode(&raw).unwrap();
        assert_eq!(&d.data[..], b"123456789012345");
        assert_eq!(
            d.trailers,
            vec![("x-amz-checksum-crc32".to_owned(), "78DeVw==".to_owned())]
        );
    }

    #[test]
    fn decode_accepts_signed_chunks_and_a_trailer_signature() {
        let raw = Bytes::from_static(
            b"3;chunk-signature=abcd\r\nabc\r\n0;chunk-signature=ef01\r\nx-amz-checksum-crc32:x==\r\nx-amz-trailer-signature:99\r\n\r\n",
        );
        let d = decode(&raw).unwrap();
        assert_eq!(&d.data[..], b"abc");
        assert_eq!(d.trailers.len(), 2);
    }

    #[test]
    fn decode_of_an_empty_body_terminator_is_empty() {
        let d = decode(&Bytes::from_static(b"0\r\n\r\n")).unwrap();
        assert!(d.data.is_empty() && d.trailers.is_empty());
    }

    #[test]
    fn decode_rejects_truncated_and_garbage_framing() {
        for raw in [
            &b"A\r\n123"[..],
            b"zz\r\nabc\r\n",
            b"3\r\nabcX",
            b"",
            b"3\r\nabc\r\n",
        ] {
            let err = decode(&Bytes::copy_from_slice(raw)).unwrap_err();
            assert_eq!(err.code, "IncompleteBody", "{raw:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics_on_arbitrary_bytes(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode(&Bytes::from(raw));
        }

        #[test]
        fn decode_inverts_the_sdk_framing(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), chunk in 1usize..64) {
            let mut framed = Vec::new();
            for piece in data.chunks(chunk) {
                framed.extend_from_slice(format!("{:X}\r\n", piece.len()).as_bytes());
                framed.extend_from_slice(piece);
                framed.extend_from_slice(b"\r\n");
            }
            framed.extend_from_slice(b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
            let d = decode(&Bytes::from(framed)).unwrap();
            proptest::prop_assert_eq!(&d.data[..], &data[..]);
            proptest::prop_assert_eq!(d.trailers.len(), 1);
        }
    }
}
