//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts.
//!
//! Completion validates the client's part list as S3 does — part numbers strictly
//! ascending (`InvalidPartOrder`), each part uploaded with that ETag (`InvalidPart`),
//! every part but the last at least 5 MiB (`EntityTooSmall`) — then stores the
//! concatenation under S3's multipart ETag: the MD5 of the concatenated binary part
//! MD5s followed by `-<part count>`. Completion honours the same write preconditions as
//! PutObject.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::BytesMut;

use super::buckets::{empty, existing, xml_ok};
use super::checksum;
use super::conditional::WriteCondition;
use super::error::{S3Error, S3Result};
use super::objects::{commit, stored_headers, validate_key};
use super::store::{Object, Part, Upload, iso8601, whole_seconds};
use super::xml::{self, XmlWriter};
use super::{S3, S3Request, payload};

/// Smallest allowed size of every part but the last.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

fn upload_id(req: &S3Request) -> &str {
    req.q("uploadId").unwrap_or_default()
}

/// CreateMultipartUpload.
pub fn create(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    let key = req.key_name();
    validate_key(key)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    bucket.uploads().insert(
        id.clone(),
        Upload {
            key: key.to_owned(),
            content_type: req
                .header("content-type")
                .unwrap_or(super::objects::DEFAULT_CONTENT_TYPE)
                .to_owned(),
            headers: stored_headers(req),
            initiated: s3.now(),
            parts: Default::default(),
        },
    );
    let mut w = XmlWriter::new();
    w.open_root("InitiateMultipartUploadResult");
    w.leaf("Bucket", &bucket.name);
    w.leaf("Key", key);
    w.leaf("UploadId", &id);
    w.close("InitiateMultipartUploadResult");
    Ok(xml_ok(w.finish()))
}

/// UploadPart.
pub async fn upload_part(s3: &S3, mut req: S3Request) -> S3Result<Response> {
    let bucket = existing(s3, &req)?;
    let raw = req.q("partNumber").unwrap_or_default().to_owned();
    let number = raw
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                &raw,
            )
        })?;
    let id = upload_id(&req).to_owned();
    let key = req.key_name().to_owned();
    let known = |uploads: &std::collections::HashMap<String, Upload>| {
        uploads.get(&id).is_some_and(|u| u.key == key)
    };
    if !known(&bucket.uploads()) {
        return Err(S3Error::no_such_upload(&id));
    }
    let payload = {
        let body = req.take_body();
        payload::receive(&req.headers, body)
    }
    .await?;
    let part = Part {
        etag: checksum::etag(&payload.data),
        body: payload.data,
        last_modified: whole_seconds(s3.now()),
    };
    let mut response = empty(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&part.etag) {
        response.headers_mut().insert("etag", v);
    }
    if let Some(c) = &payload.checksum
        && let Ok(v) = HeaderValue::from_str(&c.value)
    {
        response.headers_mut().insert(c.algorithm.header(), v);
    }
    let mut uploads = bucket.uploads();
    let upload = uploads
        .get_mut(&id)
        .filter(|u| u.key == key)
        .ok_or_else(|| S3Error::no_such_upload(&id))?;
    upload.parts.insert(number, part);
    Ok(response)
}

fn invalid_part(id: &str, number: u32, etag: &str) -> S3Error {
    S3Error::new(
        400,
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .with("UploadId", id)
    .with("PartNumber", number.to_string())
    .with("ETag", etag)
}

/// CompleteMultipartUpload.
pub async fn complete(s3: &S3, mut req: S3Request) -> S3Result<Response> {
    let bucket = existing(s3, &req)?;
    let id = upload_id(&req).to_owned();
    let key = req.key_name().to_owned();
    let condition = WriteCondition::from_headers(&req.headers, bucket.get(&key).as_deref())?;
    let body = {
        let body = req.take_body();
        payload::receive(&req.headers, body)
    }
    .await?
    .data;
    let root = xml::parse(&body).ok_or_else(S3Error::malformed_xml)?;
    if root.name != "CompleteMultipartUpload" {
        return Err(S3Error::malformed_xml());
    }
    let mut requested = Vec::new();
    for part in root.all("Part") {
        let number = part
            .child_text("PartNumber")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .ok_or_else(S3Error::malformed_xml)?;
        let etag = part
            .child_text("ETag")
            .unwrap_or_default()
            .trim()
            .to_owned();
        requested.push((number, etag));
    }
    if requested.is_empty() {
        return Err(S3Error::malformed_xml());
    }
    if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(S3Error::new(
            400,
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        )
        .with("UploadId", id.as_str()));
    }
    let upload = {
        let mut uploads = bucket.uploads();
        let upload = uploads
            .get(&id)
            .filter(|u| u.key == key)
            .ok_or_else(|| S3Error::no_such_upload(&id))?;
        let last = requested.len() - 1;
        for (i, (number, etag)) in requested.iter().enumerate() {
            let part = upload
                .parts
                .get(number)
                .filter(|p| p.etag.trim_matches('"') == etag.trim_matches('"'))
                .ok_or_else(|| invalid_part(&id, *number, etag))?;
            if i != last && part.body.len() < MIN_PART_SIZE {
                return Err(S3Error::new(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size",
                )
                .with("ProposedSize", part.body.len().to_string())
                .with("MinSizeAllowed", MIN_PART_SIZE.to_string())
                .with("PartNumber", number.to_string())
                .with("ETag", etag.as_str()));
            }
        }
        uploads
            .remove(&id)
            .ok_or_else(|| S3Error::no_such_upload(&id))?
    };
    let chosen: Vec<&Part> = requested
        .iter()
        .filter_map(|(n, _)| upload.parts.get(n))
        .collect();
    let mut all = BytesMut::with_capacity(chosen.iter().map(|p| p.body.len()).sum());
    for p in &chosen {
        all.extend_from_slice(&p.body);
    }
    let etag = checksum::multipart_etag(chosen.iter().map(|p| p.etag.as_str()));
    let object = Object {
        body: all.freeze(),
        etag: etag.clone(),
        last_modified: whole_seconds(s3.now()),
        content_type: upload.content_type,
        headers: upload.headers,
        checksum: None,
        version: bucket.next_version(),
    };
    commit(&bucket, &key, object, &condition)?;
    let mut w = XmlWriter::new();
    w.open_root("CompleteMultipartUploadResult");
    w.leaf("Location", &format!("/{}/{key}", bucket.name));
    w.leaf("Bucket", &bucket.name);
    w.leaf("Key", &key);
    w.leaf("ETag", &etag);
    w.close("CompleteMultipartUploadResult");
    Ok(xml_ok(w.finish()))
}

/// AbortMultipartUpload: 204, or NoSuchUpload.
pub fn abort(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    let id = upload_id(req);
    let mut uploads = bucket.uploads();
    match uploads.get(id) {
        Some(u) if u.key == req.key_name() => {
            uploads.remove(id);
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Err(S3Error::no_such_upload(id)),
    }
}

/// ListParts (one page of up to 1000 parts).
pub fn list_parts(s3: &S3, req: &S3Request) -> S3Result<Response> {
    let bucket = existing(s3, req)?;
    let id = upload_id(req);
    let uploads = bucket.uploads();
    let upload = uploads
        .get(id)
        .filter(|u| u.key == req.key_name())
        .ok_or_else(|| S3Error::no_such_upload(id))?;
    let marker: u32 = req
        .q("part-number-marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let max: usize = req
        .q("max-parts")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000)
        .min(1000);
    let parts: Vec<(&u32, &Part)> = upload
        .parts
        .range(marker.saturating_add(1)..)
        .take(max + 1)
        .collect();
    let truncated = parts.len() > max;
    let mut w = XmlWriter::new();
    w.open_root("ListPartsResult");
    w.leaf("Bucket", &bucket.name);
    w.leaf("Key", &upload.key);
    w.leaf("UploadId", id);
    w.leaf("PartNumberMarker", &marker.to_string());
    w.leaf("MaxParts", &max.to_string());
    w.leaf("IsTruncated", if truncated { "true" } else { "false" });
    w.leaf("StorageClass", "STANDARD");
    w.leaf("Initiated", &iso8601(upload.initiated));
    let mut next = marker;
    for (number, part) in parts.into_iter().take(max) {
        w.open("Part");
        w.leaf("PartNumber", &number.to_string());
        w.leaf("LastModified", &iso8601(part.last_modified));
        w.leaf("ETag", &part.etag);
        w.leaf("Size", &part.body.len().to_string());
        w.close("Part");
        next = *number;
    }
    w.leaf("NextPartNumberMarker", &next.to_string());
    w.close("ListPartsResult");
    Ok(xml_ok(w.finish()))
}
