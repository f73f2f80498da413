//! Amazon S3 (REST-XML): buckets, objects, listing, multipart uploads.
//!
//! S3 is the one protocol on the emulator's port addressed by host and path instead of
//! by header. This module turns a request into an operation: the bucket comes from a
//! virtual-hosted `Host` (`<bucket>.localhost[:port]`, `<bucket>.s3.localhost`,
//! `<bucket>.s3[.<region>].amazonaws.com`) or else from the first path segment
//! (path-style, what `force_path_style(true)` clients send); the key is the rest of the
//! percent-decoded path; method plus sub-resource query parameters pick the operation.
//! Sub-resources the emulator does not implement answer `NotImplemented` (501), as AWS
//! does for unsupported functionality, rather than being mistaken for plain operations.
//!
//! ## Layout
//! - [`store`] — buckets, objects and uploads, locked per bucket.
//! - [`buckets`], [`objects`], [`list`], [`multipart`] — the operations.
//! - [`conditional`] and [`range`] — HTTP preconditions and byte ranges for reads.
//! - [`payload`], [`chunked`], [`checksum`] — receiving and verifying upload bodies.
//! - [`xml`] and [`error`] — the wire format.

pub mod buckets;
pub mod checksum;
pub mod chunked;
pub mod conditional;
pub mod error;
pub mod list;
pub mod multipart;
pub mod objects;
pub mod payload;
pub mod range;
pub mod store;
pub mod xml;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;
use bytes::Bytes;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::{Clock, Config};
use error::{HOST_ID, S3Error, S3Result};
use store::Store;

/// Query parameters naming sub-resources the emulator does not implement.
const UNSUPPORTED_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "attributes",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "versioning",
    "versions",
    "website",
];

/// The S3 service.
#[derive(Debug)]
pub struct S3 {
    clock: Clock,
    region: String,
    store: Store,
}

/// One parsed S3 request.
#[derive(Debug)]
pub struct S3Request {
    /// HTTP method.
    pub method: Method,
    /// Bucket, from the host or the path.
    pub bucket: Option<String>,
    /// Object key (never empty).
    pub key: Option<String>,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The unread body.
    pub body: Body,
}

impl S3Request {
    /// The first query parameter `name`.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when the query has parameter `name` (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.query.iter().any(|(n, _)| n == name)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Takes the body out of the request.
    pub fn take_body(&mut self) -> Body {
        std::mem::replace(&mut self.body, Body::empty())
    }

    fn bucket_name(&self) -> &str {
        self.bucket.as_deref().unwrap_or_default()
    }

    fn key_name(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }
}

impl S3 {
    /// Creates the service with no buckets.
    pub fn new(config: &Config, clock: Clock) -> Self {
        Self {
            clock,
            region: config.region.clone(),
            store: Store::default(),
        }
    }

    /// Handles one REST request; returns the operation name (for metrics) and response.
    pub async fn handle(&self, request: Request) -> (&'static str, Response) {
        let request_id = new_request_id();
        let head = request.method() == Method::HEAD;
        let (operation, result) = match parse(request) {
            Ok(req) => self.dispatch(req).await,
            Err(e) => ("Unknown", Err(e)),
        };
        let mut response = result.unwrap_or_else(|e| e.into_response(&request_id, head));
        let h = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("x-amz-request-id", v);
        }
        h.insert("x-amz-id-2", HeaderValue::from_static(HOST_ID));
        h.insert("server", HeaderValue::from_static("AmazonS3"));
        (operation, response)
    }

    async fn dispatch(&self, req: S3Request) -> (&'static str, S3Result<Response>) {
        let method = req.method.clone();
        if let Some(sub) = UNSUPPORTED_SUBRESOURCES.iter().find(|s| req.has(s)) {
            return ("Unknown", Err(S3Error::not_implemented(sub)));
        }
        match (req.bucket.is_some(), req.key.is_some()) {
            (false, _) if method == Method::GET => {
                ("ListBuckets", buckets::list_buckets(self, &req))
            }
            (false, _) => ("Unknown", Err(method_not_allowed(&method, "SERVICE"))),
            (true, false) => match method {
                Method::PUT => ("CreateBucket", buckets::create_bucket(self, req).await),
                Method::HEAD => ("HeadBucket", buckets::head_bucket(self, &req)),
                Method::DELETE => ("DeleteBucket", buckets::delete_bucket(self, &req)),
                Method::GET if req.has("location") => (
                    "GetBucketLocation",
                    buckets::get_bucket_location(self, &req),
                ),
                Method::GET if req.has("uploads") => (
                    "ListMultipartUploads",
                    Err(S3Error::not_implemented("uploads")),
                ),
                Method::GET if req.q("list-type") == Some("2") => {
                    ("ListObjectsV2", list::list_objects_v2(self, &req))
                }
                Method::GET if req.has("list-type") => (
                    "ListObjectsV2",
                    Err(S3Error::invalid_argument(
                        "Invalid List Type specified in Request",
                        "list-type",
                        req.q("list-type").unwrap_or_default(),
                    )),
                ),
                Method::GET => ("ListObjects", list::list_objects_v1(self, &req)),
                Method::POST if req.has("delete") => {
                    ("DeleteObjects", objects::delete_objects(self, req).await)
                }
                _ => ("Unknown", Err(method_not_allowed(&method, "BUCKET"))),
            },
            (true, true) => match method {
                Method::PUT if req.has("uploadId") => {
                    ("UploadPart", multipart::upload_part(self, req).await)
                }
                Method::PUT if req.headers.contains_key("x-amz-copy-source") => {
                    ("CopyObject", objects::copy_object(self, &req))
                }
                Method::PUT => ("PutObject", objects::put_object(self, req).await),
                Method::GET if req.has("uploadId") => {
                    ("ListParts", multipart::list_parts(self, &req))
                }
                Method::GET => ("GetObject", objects::get_object(self, &req, false)),
                Method::HEAD => ("HeadObject", objects::get_object(self, &req, true)),
                Method::DELETE if req.has("uploadId") => {
                    ("AbortMultipartUpload", multipart::abort(self, &req))
                }
                Method::DELETE => ("DeleteObject", objects::delete_object(self, &req)),
                Method::POST if req.has("uploads") => {
                    ("CreateMultipartUpload", multipart::create(self, &req))
                }
                Method::POST if req.has("uploadId") => (
                    "CompleteMultipartUpload",
                    multipart::complete(self, req).await,
                ),
                _ => ("Unknown", Err(method_not_allowed(&method, "OBJECT"))),
            },
        }
    }

    /// Drops every bucket.
    pub fn reset(&self) {
        self.store.write().clear();
    }

    /// Service-specific metrics: bucket, object, byte and upload counts.
    pub fn metrics(&self) -> Value {
        let buckets = self.store.read();
        let (mut objects, mut bytes, mut uploads) = (0usize, 0usize, 0usize);
        for b in buckets.values() {
            let map = b.objects();
            objects += map.len();
            bytes += map.values().map(|o| o.body.len()).sum::<usize>();
            uploads += b.uploads().len();
        }
        json!({
            "buckets": buckets.len(),
            "objects": objects,
            "bytes": bytes,
            "multipart_uploads": uploads,
        })
    }

    /// Creates a bucket in the emulator's region; succeeds if it already exists. For the
    /// emulator's own layers (Lambda OnFailure destinations, template buckets).
    pub fn create_bucket_internal(&self, name: &str) -> Result<(), String> {
        buckets::validate_name(name).map_err(|e| e.message)?;
        let mut map = self.store.write();
        map.entry(name.to_owned()).or_insert_with(|| {
            std::sync::Arc::new(store::Bucket::new(name, &self.region, self.now()))
        });
        Ok(())
    }

    /// Stores an object (no checksum, no metadata) and returns its quoted ETag. For the
    /// emulator's own layers; the bucket must exist.
    pub fn put_object_internal(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<String, String> {
        let bucket = self
            .store
            .bucket(bucket)
            .ok_or_else(|| format!("NoSuchBucket: {bucket}"))?;
        objects::validate_key(key).map_err(|e| e.message)?;
        let object = objects::new_object(
            &bucket,
            body,
            content_type.map(str::to_owned),
            Vec::new(),
            None,
            self.now(),
        );
        let etag = object.etag.clone();
        bucket
            .objects_mut()
            .insert(key.to_owned(), std::sync::Arc::new(object));
        Ok(etag)
    }

    /// Emulated "now".
    fn now(&self) -> std::time::SystemTime {
        self.clock.now()
    }
}

fn new_request_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id.get(..16).unwrap_or(&id).to_ascii_uppercase()
}

/// 405 MethodNotAllowed for `method` on a resource of `resource_type`.
fn method_not_allowed(method: &Method, resource_type: &str) -> S3Error {
    S3Error::new(
        405,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    )
    .with("Method", method.as_str())
    .with("ResourceType", resource_type)
}

fn invalid_uri() -> S3Error {
    S3Error::new(400, "InvalidURI", "Couldn't parse the specified URI.")
}

/// The bucket named by a virtual-hosted-style `Host`, if it is one.
pub fn bucket_from_host(host: &str) -> Option<String> {
    // Strip the port (IPv6 literals contain ':' but never name a bucket).
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let host = host.to_ascii_lowercase();
    let prefix = if let Some(p) = host.strip_suffix(".localhost") {
        p.strip_suffix(".s3").unwrap_or(p)
    } else if host.ends_with(".amazonaws.com") {
        let idx = host.find(".s3.").or_else(|| host.find(".s3-"))?;
        host.get(..idx)?
    } else {
        return None;
    };
    if prefix.is_empty() || prefix == "s3" {
        None
    } else {
        Some(prefix.to_owned())
    }
}

fn decode(s: &str) -> S3Result<String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| invalid_uri())
}

/// Splits a request into bucket, key and query.
fn parse(request: Request) -> S3Result<S3Request> {
    let (parts, body) = request.into_parts();
    let host = parts
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let path = parts.uri.path();
    let (bucket, raw_key) = match bucket_from_host(host) {
        Some(bucket) => (Some(bucket), path.strip_prefix('/').unwrap_or(path)),
        None => {
            let rest = path.strip_prefix('/').unwrap_or(path);
            let (b, k) = rest.split_once('/').unwrap_or((rest, ""));
            let b = decode(b)?;
            ((!b.is_empty()).then_some(b), k)
        }
    };
    let key = decode(raw_key)?;
    let mut query = Vec::new();
    for pair in parts.uri.query().unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.push((decode(n)?, decode(v)?));
    }
    Ok(S3Request {
        method: parts.method,
        bucket,
        key: (!key.is_empty()).then_some(key),
        query,
        headers: parts.headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosted_hosts_name_their_bucket_and_others_do_not() {
        let b = |h: &str| bucket_from_host(h);
        assert_eq!(b("my-bucket.localhost:4566").as_deref(), Some("my-bucket"));
        assert_eq!(b("my.bucket.s3.localhost").as_deref(), Some("my.bucket"));
        assert_eq!(
            b("logs.s3.us-east-1.amazonaws.com").as_deref(),
            Some("logs")
        );
        assert_eq!(b("localhost:4566"), None);
        assert_eq!(b("s3.localhost"), None);
        assert_eq!(b("127.0.0.1:4566"), None);
        assert_eq!(b("s3.amazonaws.com"), None);
    }

    #[test]
    fn parse_decodes_path_style_keys_and_query() {
        let req = Request::builder()
            .uri("/bkt/a%20b/c%2Bd?list-type=2&prefix=x%2Fy&delete")
            .header("host", "127.0.0.1:1")
            .body(Body::empty())
            .unwrap();
        let r = parse(req).unwrap();
        assert_eq!(r.bucket.as_deref(), Some("bkt"));
        assert_eq!(r.key.as_deref(), Some("a b/c+d"));
        assert_eq!(r.q("prefix"), Some("x/y"));
        assert!(r.has("delete"));
    }

    #[test]
    fn parse_rejects_keys_that_are_not_utf8() {
        let req = Request::builder()
            .uri("/bkt/%FF%FE")
            .body(Body::empty())
            .unwrap();
        assert_eq!(parse(req).unwrap_err().code, "InvalidURI");
    }

    #[test]
    fn internal_helpers_create_buckets_idempotently_and_store_objects() {
        let s3 = S3::new(&Config::default(), Clock::real());
        s3.create_bucket_internal("onfailure-dest").unwrap();
        s3.create_bucket_internal("onfailure-dest").unwrap();
        assert!(s3.create_bucket_internal("Bad_Name").is_err());
        let etag = s3
            .put_object_internal(
                "onfailure-dest",
                "a/b.json",
                Bytes::from_static(b"{}"),
                Some("application/json"),
            )
            .unwrap();
        assert_eq!(etag, checksum::etag(b"{}"));
        let bucket = s3.store.bucket("onfailure-dest").unwrap();
        let object = bucket.get("a/b.json").unwrap();
        assert_eq!(object.content_type, "application/json");
        assert!(
            s3.put_object_internal("missing-bucket", "k", Bytes::new(), None)
                .is_err()
        );
        assert_eq!(s3.metrics()["objects"], 1);
        s3.reset();
        assert_eq!(s3.metrics()["buckets"], 0);
    }
}
