//! Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects,
//! CopyObject.
//!
//! Reads clone the object's `Arc` under the bucket's read lock and then build the
//! response from `Bytes` slices, so a GetObject never copies the body. Writes receive
//! and verify the whole body before taking the bucket's write lock, and evaluate any
//! precondition under that lock, so a conditional write is atomic with respect to
//! other writes of the same bucket.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use percent_encoding::percent_decode_str;

use super::buckets::{empty, existing, xml_ok};
use super::checksum::{self, StoredChecksum};
use super::conditional::{ReadOutcome, WriteCondition, evaluate_read};
use super::error::{S3Error, S3Result};
use super::range::{self, Resolved};
use super::store::{Bucket, Object, iso8601, whole_seconds};
use super::xml::{self, XmlWriter};
use super::{S3, S3Request, payload};

/// Longest key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Content-Type S3 stores when the upload names none.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// Most keys one DeleteObjects request may name.
pub const MAX_DELETE_KEYS: usize = 1000;
/// Request headers stored with an object and returned on reads.
const STORED_HEADERS: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-language",
    "expires",
];
/// User metadata header prefix.
const META_PREFIX: &str = "x-amz-meta-";
/// Query parameters that override response headers on GetObject.
const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// Checks a key's length.
pub fn validate_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::new(400, "KeyTooLongError", "Your key is too long")
            .with("MaxSizeAllowed", MAX_KEY_BYTES.to_string())
            .with("Size", key.len().to_string()));
    }
    Ok(())
}

/// Builds an object (not yet stored) with a fresh write sequence number.
pub fn new_object(
    bucket: &Bucket,
    body: Bytes,
    content_type: Option<String>,
    headers: Vec<(String, String)>,
    checksum: Option<StoredChecksum>,
    now: SystemTime,
) -> Object {
    Object {
        etag: checksum::etag(&body),
        body,
        last_modified: whole_seconds(now),
        content_type: content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        headers,
        checksum,
        version: bucket.next_version(),
    }
}

/// The metadata and stored headers of a write request. `Content-Encoding` is kept
/// minus the transport-only `aws-chunked`.
pub fn stored_headers(req: &S3Request) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in &req.headers {
        let name = name.as_str();
        let Ok(value) = value.to_str() else { continue };
        if name.starts_with(META_PREFIX) || STORED_HEADERS.contains(&name) {
            out.push((name.to_owned(), value.to_owned()));
        }
    }
    if let Some(enc) = req.header("content-encoding") {
        let kept: Vec<&str> = enc
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty() && *e != "aws-chunked")
            .collect();
        if !kept.is_empty() {
            out.push(("content-encoding".to_owned(), kept.join(",")));
        }
    }
    out
}

fn insert(h: &mut axum::http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

fn checksum_headers(h: &mut axum::http::HeaderMap, checksum: Option<&StoredChecksum>) {
    if let Some(c) = checksum {
        insert(h, c.algorithm.header(), &c.value);
        insert(h, "x-amz-checksum-type", "FULL_OBJECT");
    }
}

/// PutObject.
pub async fn put_object(s3: &S3, mut req: S3Request) -> S3Result<Response> {
    let bucket = existing(s3, &req)?;
    let key = req.key_name().to_owned();
    validate_key(&key)?;
    let condition = WriteCondition::from_headers(&req.headers, bucket.get(&key).as_deref())?;
    let payload = {
        let body = req.take_body();
        payload::receive(&req.headers, body)
    }
    .await?;
    let object = new_object(
        &bucket,
        payload.data,
        req.header("content-type").map(str::to_owned),
        stored_headers(&req),
        payload.checksum,
        s3.now(),
    );
    let mut response = empty(StatusCode::OK);
    let h = response.headers_mut();
    insert(h, "etag", &object.etag);
    checksum_headers(h, object.checksum.as_ref());
    commit(&bucket, &key, object, &condition)?;
    Ok(response)
}

/// Stores `object` at `key` if `condition` holds at this instant.
pub fn commit(
    bucket: &Bucket,
    key: &str,
    object: Object,
    condition: &WriteCondition,
) -> S3Result<()> {
    let mut objects = bucket.objects_mut();
    if !condition.is_unconditional() {
        condition.check(key, objects.get(key).map(Arc::as_ref))?;
    }
    objects.insert(key.to_owned(), Arc::new(object));
    Ok(())
}

/// GetObject (`head == false`) and HeadObject (`head == true`).
pub fn get_object(s3: &S3, req: &S3Request, head: bool) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    let key = req.key_name();
    let object = bucket.get(key).ok_or_else(|| S3Error::no_such_key(key))?;
    let last_modified = httpdate::fmt_http_date(object.last_modified);
    match evaluate_read(&req.headers, &object) {
        ReadOutcome::Proceed => {}
        ReadOutcome::Failed(condition) => {
            return Err(S3Error::precondition_failed(condition));
        }
        ReadOutcome::NotModified => {
            let mut r = empty(StatusCode::NOT_MODIFIED);
            insert(r.headers_mut(), "etag", &object.etag);
            insert(r.headers_mut(), "last-modified", &last_modified);
            return Ok(r);
        }
    }
    let len = object.body.len() as u64;
    let resolved = range::resolve(req.header("range"), len);
    let (status, body) = match resolved {
        Resolved::Full => (StatusCode::OK, object.body.clone()),
        Resolved::Partial { start, end } => {
            let (s, e) = (start as usize, end as usize + 1);
            (StatusCode::PARTIAL_CONTENT, object.body.slice(s..e))
        }
        Resolved::Unsatisfiable => {
            return Err(S3Error::new(
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
            )
            .with("RangeRequested", req.header("range").unwrap_or_default())
            .with("ActualObjectSize", len.to_string()));
        }
    };
    let body_len = body.len();
    let mut r = if head {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(body))
    };
    *r.status_mut() = status;
    let h = r.headers_mut();
    insert(h, "etag", &object.etag);
    insert(h, "last-modified", &last_modified);
    insert(h, "accept-ranges", "bytes");
    insert(h, "content-type", &object.content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    if let Resolved::Partial { start, end } = resolved {
        insert(h, "content-range", &format!("bytes {start}-{end}/{len}"));
    }
    for (name, value) in &object.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    let checksum_mode = req
        .header("x-amz-checksum-mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
    if checksum_mode && resolved == Resolved::Full {
        checksum_headers(h, object.checksum.as_ref());
    }
    for (param, name) in RESPONSE_OVERRIDES {
        if let Some(v) = req.q(param)
            && let (Ok(n), Ok(v)) = (
                header::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(v),
            )
        {
            h.insert(n, v);
        }
    }
    Ok(r)
}

/// DeleteObject: 204 whether or not the key existed.
pub fn delete_object(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    bucket.objects_mut().remove(req.key_name());
    Ok(empty(StatusCode::NO_CONTENT))
}

/// DeleteObjects: per-key `Deleted` / `Error`; Quiet mode reports only errors.
pub async fn delete_objects(s3: &S3, mut req: S3Request) -> S3Result<Response> {
    let bucket = existing(s3, &req)?;
    let payload = {
        let body = req.take_body();
        payload::receive(&req.headers, body)
    }
    .await?;
    if payload.checksum.is_none() && req.header("content-md5").is_none() {
        return Err(S3Error::new(
            400,
            "InvalidRequest",
            "Missing required header for this request: Content-MD5",
        ));
    }
    let root = xml::parse(&payload.data).ok_or_else(S3Error::malformed_xml)?;
    if root.name != "Delete" {
        return Err(S3Error::malformed_xml());
    }
    let quiet = root
        .child_text("Quiet")
        .is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    let mut keys = Vec::new();
    for object in root.all("Object") {
        keys.push(
            object
                .child_text("Key")
                .ok_or_else(S3Error::malformed_xml)?,
        );
    }
    if keys.is_empty() || keys.len() > MAX_DELETE_KEYS {
        return Err(S3Error::malformed_xml());
    }
    let mut w = XmlWriter::new();
    w.open_root("DeleteResult");
    {
        let mut objects = bucket.objects_mut();
        for key in keys {
            match validate_key(key) {
                Ok(()) => {
                    objects.remove(key);
                    if !quiet {
                        w.open("Deleted");
                        w.leaf("Key", key);
                        w.close("Deleted");
                    }
                }
                Err(e) => {
                    w.open("Error");
                    w.leaf("Key", key);
                    w.leaf("Code", e.code);
                    w.leaf("Message", &e.message);
                    w.close("Error");
                }
            }
        }
    }
    w.close("DeleteResult");
    Ok(xml_ok(w.finish()))
}

/// CopyObject within the emulator (metadata copied unless the directive is REPLACE).
pub fn copy_object(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let dest = existing(s3, req)?;
    let key = req.key_name();
    validate_key(key)?;
    let source = req.header("x-amz-copy-source").unwrap_or_default();
    let source = source.split('?').next().unwrap_or_default();
    let source = percent_decode_str(source.trim_start_matches('/'))
        .decode_utf8()
        .map_err(|_| invalid_copy_source())?;
    let (src_bucket, src_key) = source.split_once('/').ok_or_else(invalid_copy_source)?;
    let src = s3
        .store
        .bucket(src_bucket)
        .ok_or_else(|| S3Error::no_such_bucket(src_bucket))?;
    let original = src
        .get(src_key)
        .ok_or_else(|| S3Error::no_such_key(src_key))?;
    let replace = req
        .header("x-amz-metadata-directive")
        .is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
    if src_bucket == dest.name && src_key == key && !replace {
        return Err(S3Error::new(
            400,
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let (content_type, headers) = if replace {
        (
            req.header("content-type").map(str::to_owned),
            stored_headers(req),
        )
    } else {
        (
            Some(original.content_type.clone()),
            original.headers.clone(),
        )
    };
    let object = new_object(
        &dest,
        original.body.clone(),
        content_type,
        headers,
        original.checksum.clone(),
        s3.now(),
    );
    let mut w = XmlWriter::new();
    w.open_root("CopyObjectResult");
    w.leaf("ETag", &object.etag);
    w.leaf("LastModified", &iso8601(object.last_modified));
    w.close("CopyObjectResult");
    dest.objects_mut().insert(key.to_owned(), Arc::new(object));
    Ok(xml_ok(w.finish()))
}

fn invalid_copy_source() -> S3Error {
    S3Error::new(
        400,
        "InvalidArgument",
        "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
    )
    .with("ArgumentName", "x-amz-copy-source")
}
