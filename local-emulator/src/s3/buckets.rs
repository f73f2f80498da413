//! Bucket operations: CreateBucket, HeadBucket, ListBuckets, DeleteBucket,
//! GetBucketLocation.
//!
//! Re-creating a bucket you own follows AWS's legacy us-east-1 rule: in us-east-1 it
//! succeeds with 200 ("for legacy compatibility … Amazon S3 returns 200 OK"), elsewhere
//! it is 409 `BucketAlreadyOwnedByYou` (CreateBucket API reference, Errors).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::error::{S3Error, S3Result};
use super::store::{Bucket, iso8601};
use super::xml::{self, XmlWriter};
use super::{S3, S3Request, payload};

/// The region whose re-create is idempotent and whose LocationConstraint is empty.
const LEGACY_REGION: &str = "us-east-1";
/// Owner id reported by ListBuckets.
pub const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
/// Owner display name reported by ListBuckets.
pub const OWNER_NAME: &str = "shardwise";

/// An XML response with status 200.
pub fn xml_ok(body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

/// An empty response with `status`.
pub fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn invalid_name(name: &str, why: &str) -> S3Error {
    S3Error::new(
        400,
        "InvalidBucketName",
        format!("The specified bucket is not valid. ({why})"),
    )
    .with("BucketName", name)
}

/// Checks the general-purpose bucket naming rules.
pub fn validate_name(name: &str) -> S3Result<()> {
    let len_ok = (3..=63).contains(&name.len());
    let chars_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let is_ip = name.split('.').count() == 4
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.parse::<u8>().is_ok());
    let reserved = name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3");
    if !len_ok {
        return Err(invalid_name(name, "length must be 3 to 63"));
    }
    if !chars_ok
        || !edge_ok(name.as_bytes().first())
        || !edge_ok(name.as_bytes().last())
        || name.contains("..")
        || name.contains(".-")
        || name.contains("-.")
        || is_ip
        || reserved
    {
        return Err(invalid_name(name, "naming rules"));
    }
    Ok(())
}

/// The bucket the request names, or NoSuchBucket.
pub fn existing(s3: &S3, req: &S3Request) -> S3Result<Arc<Bucket>> {
    let name = req.bucket_name();
    s3.store
        .bucket(name)
        .ok_or_else(|| S3Error::no_such_bucket(name))
}

/// CreateBucket.
pub async fn create_bucket(s3: &S3, mut req: S3Request) -> S3Result<Response> {
    let name = req.bucket_name().to_owned();
    validate_name(&name)?;
    let body = {
        let body = req.take_body();
        payload::receive(&req.headers, body)
    }
    .await?
    .data;
    let mut region = s3.region.clone();
    let mut explicit = false;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let root = xml::parse(&body).ok_or_else(S3Error::malformed_xml)?;
        if root.name != "CreateBucketConfiguration" {
            return Err(S3Error::malformed_xml());
        }
        if let Some(constraint) = root.child_text("LocationConstraint") {
            let constraint = constraint.trim();
            if constraint == LEGACY_REGION || !valid_region(constraint) {
                return Err(S3Error::new(
                    400,
                    "InvalidLocationConstraint",
                    "The specified location-constraint is not valid",
                )
                .with("LocationConstraint", constraint));
            }
            if !constraint.is_empty() {
                region = constraint.to_owned();
                explicit = true;
            }
        }
    }
    let mut map = s3.store.write();
    if let Some(existing) = map.get(&name) {
        if existing.region == LEGACY_REGION && !explicit {
            return Ok(location_response(&name));
        }
        return Err(S3Error::new(
            409,
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
        )
        .with("BucketName", name));
    }
    map.insert(
        name.clone(),
        Arc::new(Bucket::new(&name, &region, s3.now())),
    );
    Ok(location_response(&name))
}

fn valid_region(r: &str) -> bool {
    r.is_empty()
        || (r.len() <= 32
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && r.contains('-'))
}

fn location_response(name: &str) -> Response {
    let mut r = empty(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&format!("/{name}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// HeadBucket: 200 with the region header, or 404 without a body.
pub fn head_bucket(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    let mut r = empty(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&bucket.region) {
        r.headers_mut().insert("x-amz-bucket-region", v);
    }
    Ok(r)
}

/// DeleteBucket: 204, NoSuchBucket, or 409 BucketNotEmpty.
pub fn delete_bucket(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let name = req.bucket_name();
    let mut map = s3.store.write();
    let bucket = map.get(name).ok_or_else(|| S3Error::no_such_bucket(name))?;
    if !bucket.objects().is_empty() {
        return Err(S3Error::new(
            409,
            "BucketNotEmpty",
            "The bucket you tried to delete is not empty",
        )
        .with("BucketName", name));
    }
    map.remove(name);
    Ok(empty(StatusCode::NO_CONTENT))
}

/// ListBuckets, in name order.
pub fn list_buckets(s3: &S3, _req: &S3Request) -> S3Result<Response> {
    let mut w = XmlWriter::new();
    w.open_root("ListAllMyBucketsResult");
    w.open("Owner");
    w.leaf("ID", OWNER_ID);
    w.leaf("DisplayName", OWNER_NAME);
    w.close("Owner");
    w.open("Buckets");
    for bucket in s3.store.read().values() {
        w.open("Bucket");
        w.leaf("Name", &bucket.name);
        w.leaf("CreationDate", &iso8601(bucket.created));
        w.leaf("BucketRegion", &bucket.region);
        w.close("Bucket");
    }
    w.close("Buckets");
    w.close("ListAllMyBucketsResult");
    Ok(xml_ok(w.finish()))
}

/// GetBucketLocation: empty LocationConstraint for us-east-1.
pub fn get_bucket_location(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    let region = if bucket.region == LEGACY_REGION {
        ""
    } else {
        bucket.region.as_str()
    };
    let mut w = XmlWriter::new();
    w.open_root("LocationConstraint");
    let mut doc = w.finish();
    doc.push_str(&quick_xml::escape::escape(region));
    doc.push_str("</LocationConstraint>");
    Ok(xml_ok(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_the_general_purpose_rules() {
        for ok in ["abc", "my-bucket.logs", "a1b", &"a".repeat(63)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Abc",
            "-abc",
            "abc-",
            "a..b",
            "192.168.5.4",
            "xn--abc",
            "a_b",
            "abc-s3alias",
            &"a".repeat(64),
        ] {
            assert_eq!(
                validate_name(bad).unwrap_err().code,
                "InvalidBucketName",
                "{bad}"
            );
        }
    }
}
