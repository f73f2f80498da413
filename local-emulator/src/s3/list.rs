//! ListObjectsV2 (and the legacy ListObjects): prefix, delimiter → CommonPrefixes,
//! max-keys (default and ceiling 1000), continuation tokens, start-after and
//! `encoding-type=url`.
//!
//! Keys live in a `BTreeMap<String, _>`, whose order is UTF-8 byte order — S3's order —
//! so a page is a range scan starting at the prefix (or just after the resume point)
//! that stops at the first key outside the prefix. A page's entries are its keys plus
//! its distinct common prefixes, together at most `max-keys`. The continuation token
//! is opaque (base64url of the last entry returned, marked as key or common prefix) so
//! a page that ended on a common prefix resumes after every key under it.

use std::ops::Bound;
use std::sync::Arc;

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::buckets::{existing, xml_ok};
use super::error::{S3Error, S3Result};
use super::store::{Bucket, Object, iso8601};
use super::xml::XmlWriter;
use super::{S3, S3Request};

/// Default and maximum page size.
pub const MAX_KEYS: usize = 1000;
/// Characters left as-is by `encoding-type=url` (unreserved plus `/`).
const URL_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Where a page resumes: strictly after a key, or after every key under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// After this key.
    Key(String),
    /// After every key starting with this common prefix.
    Prefix(String),
}

impl Marker {
    /// The opaque continuation token for this marker.
    pub fn token(&self) -> String {
        let raw = match self {
            Self::Key(k) => format!("K{k}"),
            Self::Prefix(p) => format!("P{p}"),
        };
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Parses a continuation token.
    pub fn from_token(token: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(token.trim()).ok()?).ok()?;
        let rest = raw.get(1..)?.to_owned();
        match raw.as_bytes().first()? {
            b'K' => Some(Self::Key(rest)),
            b'P' => Some(Self::Prefix(rest)),
            _ => None,
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Key(s) | Self::Prefix(s) => s,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Page {
    /// Keys and their objects.
    pub contents: Vec<(String, Arc<Object>)>,
    /// Distinct common prefixes.
    pub prefixes: Vec<String>,
    /// More entries follow.
    pub truncated: bool,
    /// The last entry returned.
    pub last: Option<Marker>,
}

/// Collects one page.
pub fn page(
    bucket: &Bucket,
    prefix: &str,
    delimiter: &str,
    after: Option<&Marker>,
    max_keys: usize,
) -> Page {
    let mut page = Page::default();
    if max_keys == 0 {
        return page;
    }
    let objects = bucket.objects();
    let lower = match after {
        Some(m) if m.as_str() >= prefix => Bound::Excluded(m.as_str()),
        _ => Bound::Included(prefix),
    };
    let mut count = 0usize;
    for (key, object) in objects.range::<str, _>((lower, Bound::Unbounded)) {
        if !key.starts_with(prefix) {
            break;
        }
        if let Some(Marker::Prefix(p)) = after
            && key.starts_with(p.as_str())
        {
            continue;
        }
        let common = (!delimiter.is_empty())
            .then(|| key.get(prefix.len()..))
            .flatten()
            .and_then(|rest| rest.find(delimiter))
            .and_then(|i| key.get(..prefix.len() + i + delimiter.len()));
        if let Some(cp) = common {
            if page.prefixes.last().map(String::as_str) == Some(cp) {
                continue;
            }
            if count == max_keys {
                page.truncated = true;
                break;
            }
            page.prefixes.push(cp.to_owned());
            page.last = Some(Marker::Prefix(cp.to_owned()));
        } else {
            if count == max_keys {
                page.truncated = true;
                break;
            }
            page.contents.push((key.clone(), Arc::clone(object)));
            page.last = Some(Marker::Key(key.clone()));
        }
        count += 1;
    }
    page
}

/// Common request parameters of both list versions.
struct Params {
    prefix: String,
    delimiter: String,
    max_keys: usize,
    url: bool,
}

fn params(req: &S3Request) -> S3Result<Params> {
    let max_keys = match req.q("max-keys") {
        None => MAX_KEYS,
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| usize::try_from(n).unwrap_or(MAX_KEYS).min(MAX_KEYS))
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                    "max-keys",
                    v,
                )
            })?,
    };
    let url = match req.q("encoding-type") {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("url") => true,
        Some(e) => {
            return Err(S3Error::invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                e,
            ));
        }
    };
    Ok(Params {
        prefix: req.q("prefix").unwrap_or_default().to_owned(),
        delimiter: req.q("delimiter").unwrap_or_default().to_owned(),
        max_keys,
        url,
    })
}

fn encoder(url: bool) -> impl Fn(&str) -> String {
    move |s: &str| {
        if url {
            utf8_percent_encode(s, URL_ENCODE_SET).to_string()
        } else {
            s.to_owned()
        }
    }
}

fn write_entries(w: &mut XmlWriter, page: &Page, enc: &dyn Fn(&str) -> String, owner: bool) {
    for (key, object) in &page.contents {
        w.open("Contents");
        w.leaf("Key", &enc(key));
        w.leaf("LastModified", &iso8601(object.last_modified));
        w.leaf("ETag", &object.etag);
        if let Some(c) = &object.checksum {
            w.leaf("ChecksumAlgorithm", c.algorithm.name());
            w.leaf("ChecksumType", "FULL_OBJECT");
        }
        w.leaf("Size", &object.body.len().to_string());
        if owner {
            w.open("Owner");
            w.leaf("ID", super::buckets::OWNER_ID);
            w.leaf("DisplayName", super::buckets::OWNER_NAME);
            w.close("Owner");
        }
        w.leaf("StorageClass", "STANDARD");
        w.close("Contents");
    }
    for p in &page.prefixes {
        w.open("CommonPrefixes");
        w.leaf("Prefix", &enc(p));
        w.close("CommonPrefixes");
    }
}

fn invalid_token(token: &str) -> S3Error {
    S3Error::invalid_argument(
        "The continuation token provided is incorrect",
        "continuation-token",
        token,
    )
}

/// ListObjectsV2.
pub fn list_objects_v2(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    let p = params(req)?;
    let token = req.q("continuation-token");
    let start_after = req.q("start-after");
    let after = match (token, start_after) {
        (Some(t), _) => Some(Marker::from_token(t).ok_or_else(|| invalid_token(t))?),
        (None, Some(s)) if !s.is_empty() => Some(Marker::Key(s.to_owned())),
        _ => None,
    };
    let page = page(&bucket, &p.prefix, &p.delimiter, after.as_ref(), p.max_keys);
    let enc = encoder(p.url);
    let mut w = XmlWriter::new();
    w.open_root("ListBucketResult");
    w.leaf("Name", &bucket.name);
    w.leaf("Prefix", &enc(&p.prefix));
    if !p.delimiter.is_empty() {
        w.leaf("Delimiter", &enc(&p.delimiter));
    }
    w.leaf("MaxKeys", &p.max_keys.to_string());
    if p.url {
        w.leaf("EncodingType", "url");
    }
    w.leaf(
        "KeyCount",
        &(page.contents.len() + page.prefixes.len()).to_string(),
    );
    w.leaf("IsTruncated", if page.truncated { "true" } else { "false" });
    if let Some(t) = token {
        w.leaf("ContinuationToken", t);
    }
    if let (true, Some(last)) = (page.truncated, &page.last) {
        w.leaf("NextContinuationToken", &last.token());
    }
    if let Some(s) = start_after {
        w.leaf("StartAfter", &enc(s));
    }
    let owner = req.q("fetch-owner") == Some("true");
    write_entries(&mut w, &page, &enc, owner);
    w.close("ListBucketResult");
    Ok(xml_ok(w.finish()))
}

/// ListObjects (version 1): `marker` / `NextMarker` instead of tokens.
pub fn list_objects_v1(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    let p = params(req)?;
    let marker = req.q("marker").unwrap_or_default();
    let after = (!marker.is_empty()).then(|| Marker::Key(marker.to_owned()));
    let page = page(&bucket, &p.prefix, &p.delimiter, after.as_ref(), p.max_keys);
    let enc = encoder(p.url);
    let mut w = XmlWriter::new();
    w.open_root("ListBucketResult");
    w.leaf("Name", &bucket.name);
    w.leaf("Prefix", &enc(&p.prefix));
    w.leaf("Marker", &enc(marker));
    if !p.delimiter.is_empty() {
        w.leaf("Delimiter", &enc(&p.delimiter));
    }
    w.leaf("MaxKeys", &p.max_keys.to_string());
    if p.url {
        w.leaf("EncodingType", "url");
    }
    w.leaf("IsTruncated", if page.truncated { "true" } else { "false" });
    if let (true, Some(last)) = (page.truncated, &page.last) {
        w.leaf("NextMarker", &enc(last.as_str()));
    }
    write_entries(&mut w, &page, &enc, true);
    w.close("ListBucketResult");
    Ok(xml_ok(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::objects::new_object;
    use bytes::Bytes;
    use std::time::SystemTime;

    fn bucket(keys: &[&str]) -> Bucket {
        let b = Bucket::new("b", "us-east-1", SystemTime::UNIX_EPOCH);
        for k in keys {
            let o = new_object(
                &b,
                Bytes::new(),
                None,
                Vec::new(),
                None,
                SystemTime::UNIX_EPOCH,
            );
            b.objects_mut().insert((*k).to_owned(), Arc::new(o));
        }
        b
    }

    fn names(p: &Page) -> Vec<String> {
        let mut v: Vec<String> = p.contents.iter().map(|(k, _)| k.clone()).collect();
        v.extend(p.prefixes.iter().cloned());
        v
    }

    #[test]
    fn pages_walk_every_entry_once_across_common_prefixes() {
        let b = bucket(&["a/1", "a/2", "a/3", "b", "c/1", "d"]);
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = page(&b, "", "/", after.as_ref(), 1);
            seen.extend(names(&p));
            if !p.truncated {
                break;
            }
            after = p.last.clone();
        }
        assert_eq!(seen, vec!["a/", "b", "c/", "d"]);
    }

    #[test]
    fn keys_sort_in_utf8_byte_order() {
        let b = bucket(&["é", "z", "Z", "a"]);
        let p = page(&b, "", "", None, 10);
        assert_eq!(names(&p), vec!["Z", "a", "z", "é"]);
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_rejected() {
        let m = Marker::Prefix("x/ y".to_owned());
        assert_eq!(Marker::from_token(&m.token()), Some(m));
        assert_eq!(Marker::from_token("!!!"), None);
    }
}
