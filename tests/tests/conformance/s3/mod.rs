//! S3 conformance cases: one per behaviour of the emulator's S3 subset, through the
//! official SDK (path-style, as `TestEnv::s3()` configures it) where the SDK can express
//! the request, and through raw HTTP for virtual-hosted `Host` headers, wrong digests,
//! malformed XML and garbage ranges. The SDK's default PutObject already exercises the
//! aws-chunked framing with a CRC32 trailer.

mod buckets;
mod conditional;
mod list;
mod multipart;
mod objects;
mod wire;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload,
    CompletedPart, CreateBucketConfiguration, Delete, EncodingType, ObjectIdentifier,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use shardwise_tests::{TestEnv, emulator_only, raw_http, skip_on};

const MIB: usize = 1024 * 1024;

async fn bucket(env: &TestEnv) -> (Client, String) {
    let s3 = env.s3();
    let name = env.unique_name("bkt");
    s3.create_bucket().bucket(&name).send().await.unwrap();
    (s3, name)
}

async fn put(s3: &Client, bucket: &str, key: &str, body: &[u8]) -> String {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned()
}

async fn get_body(s3: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// A raw request carrying a (syntactically valid, unchecked) SigV4 Authorization
/// header, so that targets which enforce ACLs treat it as the bucket owner's request
/// rather than an anonymous one — as AWS would.
async fn raw(
    env: &TestEnv,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> raw_http::RawResponse {
    let defaults = [
        ("Authorization", FAKE_AUTHORIZATION),
        ("x-amz-date", "20261121T000000Z"),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ];
    let mut all: Vec<(&str, &str)> = defaults
        .into_iter()
        .filter(|(n, _)| !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(n)))
        .collect();
    all.extend_from_slice(headers);
    raw_http::request(&env.authority(), method, path, &all, body)
        .await
        .unwrap()
}

const FAKE_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=test/20261121/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000";

fn quoted_md5(data: &[u8]) -> String {
    format!("\"{}\"", hex_lower(&Md5::digest(data)))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn code_of(body: &str) -> String {
    body.split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .unwrap_or_default()
        .to_owned()
}
