//! HTTP preconditions on reads (GetObject/HeadObject) and writes (PutObject,
//! CompleteMultipartUpload).
//!
//! Reads follow RFC 9110 §13.2.2 as S3 documents it: `If-Match` failing is 412 (and when
//! present, `If-Unmodified-Since` is not consulted); otherwise `If-Unmodified-Since`
//! failing is 412; then `If-None-Match` matching is 304 (and when present,
//! `If-Modified-Since` is not consulted); otherwise `If-Modified-Since` not satisfied
//! is 304.
//!
//! Writes follow the conditional-writes guide: `If-None-Match: *` fails with 412 if the
//! key exists; `If-Match: <etag>` fails with 412 on mismatch and 404 `NoSuchKey` if the
//! key is absent ("If there's no current object version with the same name … the
//! operation fails with a 404 Not Found error"). A write whose precondition held when
//! it started but whose key changed while its body was uploading gets 409
//! `ConditionalRequestConflict`, which tells the client to retry.

use std::time::SystemTime;

use axum::http::HeaderMap;

use super::error::S3Error;
use super::store::Object;

/// Outcome of a read's preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Serve the object.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412, naming the failed header.
    Failed(&'static str),
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// True when an `If-Match`/`If-None-Match` list names `etag` (or is `*`).
pub fn etag_listed(list: &str, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.trim_start_matches("W/").trim_matches('"') == bare
    })
}

fn date(headers: &HeaderMap, name: &str) -> Option<SystemTime> {
    header(headers, name).and_then(|v| httpdate::parse_http_date(v.trim()).ok())
}

/// Evaluates a read's preconditions against `object`.
pub fn evaluate_read(headers: &HeaderMap, object: &Object) -> ReadOutcome {
    if let Some(list) = header(headers, "if-match") {
        if !etag_listed(list, &object.etag) {
            return ReadOutcome::Failed("If-Match");
        }
    } else if let Some(since) = date(headers, "if-unmodified-since")
        && object.last_modified > since
    {
        return ReadOutcome::Failed("If-Unmodified-Since");
    }
    if let Some(list) = header(headers, "if-none-match") {
        if etag_listed(list, &object.etag) {
            return ReadOutcome::NotModified;
        }
    } else if let Some(since) = date(headers, "if-modified-since")
        && object.last_modified <= since
    {
        return ReadOutcome::NotModified;
    }
    ReadOutcome::Proceed
}

/// A write's preconditions, captured when the request arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCondition {
    /// `If-None-Match: *` was sent.
    pub if_none_match: bool,
    /// The `If-Match` value, if sent.
    pub if_match: Option<String>,
    /// The key's write sequence number when the request arrived.
    pub seen_version: Option<u64>,
}

impl WriteCondition {
    /// Reads the headers; `If-None-Match` with anything but `*` is not implemented by
    /// S3 on writes.
    pub fn from_headers(headers: &HeaderMap, current: Option<&Object>) -> Result<Self, S3Error> {
        let if_none_match = match header(headers, "if-none-match").map(str::trim) {
            None => false,
            Some("*") => true,
            Some(_) => return Err(S3Error::not_implemented("If-None-Match")),
        };
        Ok(Self {
            if_none_match,
            if_match: header(headers, "if-match").map(str::to_owned),
            seen_version: current.map(|o| o.version),
        })
    }

    /// True when no precondition was sent.
    pub fn is_unconditional(&self) -> bool {
        !self.if_none_match && self.if_match.is_none()
    }

    /// Checks the preconditions against the key's state at commit time.
    pub fn check(&self, key: &str, current: Option<&Object>) -> Result<(), S3Error> {
        let changed = self.seen_version != current.map(|o| o.version);
        if self.if_none_match {
            if current.is_some() {
                return Err(S3Error::precondition_failed("If-None-Match"));
            }
            if changed {
                return Err(conflict());
            }
        }
        if let Some(list) = &self.if_match {
            let Some(current) = current else {
                return Err(S3Error::no_such_key(key));
            };
            if !etag_listed(list, &current.etag) {
                return Err(S3Error::precondition_failed("If-Match"));
            }
            if changed {
                return Err(conflict());
            }
        }
        Ok(())
    }
}

fn conflict() -> S3Error {
    S3Error::new(
        409,
        "ConditionalRequestConflict",
        "A conflicting conditional action is currently in progress against this resource.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn object(version: u64) -> Object {
        Object {
            body: Bytes::new(),
            etag: "\"abc\"".to_owned(),
            last_modified: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000),
            content_type: String::new(),
            headers: Vec::new(),
            checksum: None,
            version,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn read_preconditions_follow_rfc_precedence() {
        let o = object(1);
        let eval = |p: &[(&'static str, &str)]| evaluate_read(&headers(p), &o);
        assert_eq!(eval(&[("if-match", "\"abc\"")]), ReadOutcome::Proceed);
        assert_eq!(
            eval(&[("if-match", "\"x\"")]),
            ReadOutcome::Failed("If-Match")
        );
        assert_eq!(
            eval(&[("if-none-match", "\"abc\"")]),
            ReadOutcome::NotModified
        );
        let later = httpdate::fmt_http_date(o.last_modified + std::time::Duration::from_secs(5));
        let earlier = httpdate::fmt_http_date(o.last_modified - std::time::Duration::from_secs(5));
        assert_eq!(
            eval(&[("if-modified-since", &later)]),
            ReadOutcome::NotModified
        );
        assert_eq!(
            eval(&[("if-modified-since", &earlier)]),
            ReadOutcome::Proceed
        );
        assert_eq!(
            eval(&[("if-unmodified-since", &earlier)]),
            ReadOutcome::Failed("If-Unmodified-Since")
        );
        // If-Match holding overrides a failing If-Unmodified-Since.
        assert_eq!(
            eval(&[("if-match", "\"abc\""), ("if-unmodified-since", &earlier)]),
            ReadOutcome::Proceed
        );
    }

    #[test]
    fn a_conditional_write_racing_a_delete_is_a_conflict_not_a_success() {
        let o = object(7);
        let cond =
            WriteCondition::from_headers(&headers(&[("if-none-match", "*")]), Some(&o)).unwrap();
        // Key deleted while the body was uploading.
        assert_eq!(
            cond.check("k", None).unwrap_err().code,
            "ConditionalRequestConflict"
        );
    }

    #[test]
    fn if_match_on_a_replaced_object_with_the_same_etag_is_a_conflict() {
        let cond =
            WriteCondition::from_headers(&headers(&[("if-match", "\"abc\"")]), Some(&object(1)))
                .unwrap();
        assert!(cond.check("k", Some(&object(1))).is_ok());
        assert_eq!(
            cond.check("k", Some(&object(2))).unwrap_err().code,
            "ConditionalRequestConflict"
        );
        assert_eq!(cond.check("k", None).unwrap_err().code, "NoSuchKey");
    }
}
