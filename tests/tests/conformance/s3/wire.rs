//! Wire-level behaviour: virtual-hosted style, unimplemented sub-resources, bad methods, broken aws-chunked framing, racing conditional writes.

use super::*;

#[tokio::test]
async fn virtual_hosted_style_requests_address_the_bucket_by_host() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let port = env.authority().rsplit(':').next().unwrap().to_owned();
    let host = format!("{name}.localhost:{port}");
    let r = raw(&env, "PUT", "/vh/key.txt", &[("Host", &host)], b"hello").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get_body(&s3, &name, "vh/key.txt").await, b"hello");
    let r = raw(&env, "GET", "/vh/key.txt", &[("Host", &host)], b"").await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
    let r = raw(&env, "GET", "/?list-type=2", &[("Host", &host)], b"").await;
    assert!(r.text().contains("<Key>vh/key.txt</Key>"), "{}", r.text());
}

#[tokio::test]
async fn unimplemented_sub_resources_are_501_not_implemented() {
    let env = TestEnv::start().await;
    emulator_only!(
        env,
        "the emulator answers NotImplemented for sub-resources it does not model"
    );
    let (_s3, name) = bucket(&env).await;
    let r = raw(&env, "GET", &format!("/{name}?website"), &[], b"").await;
    assert_eq!(r.status, 501);
    assert_eq!(code_of(&r.text()), "NotImplemented");
}

#[tokio::test]
async fn an_unsupported_method_is_405_method_not_allowed() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto answers an unsupported method with a 500");
    let (s3, name) = bucket(&env).await;
    put(&s3, &name, "k", b"v").await;
    let r = raw(&env, "PATCH", &format!("/{name}/k"), &[], b"").await;
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(code_of(&r.text()), "MethodNotAllowed");
}

#[tokio::test]
async fn malformed_aws_chunked_bodies_are_rejected_and_the_server_keeps_serving() {
    let env = TestEnv::start().await;
    emulator_only!(
        env,
        "moto's handling of broken aws-chunked framing is not AWS's"
    );
    let (s3, name) = bucket(&env).await;
    let r = raw(
        &env,
        "PUT",
        &format!("/{name}/k"),
        &[
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-decoded-content-length", "10"),
        ],
        b"zz\r\ngarbage",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    put(&s3, &name, "after", b"ok").await;
    assert_eq!(get_body(&s3, &name, "after").await, b"ok");
}

#[tokio::test]
async fn a_conditional_put_racing_a_delete_of_its_key_is_409_conditional_request_conflict() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto evaluates a conditional write only once its body has arrived, so it never sees the race"
    );
    let (s3, name) = bucket(&env).await;
    put(&s3, &name, "lock", b"held").await;
    // Send the headers and half the body, so the server has started the write while
    // the key still exists; delete the key; then finish the body. AWS: "You can also
    // receive a 409 Conflict response … if a delete request to an object succeeds
    // before a conditional write operation on that object completes."
    let mut stream = tokio::net::TcpStream::connect(env.authority())
        .await
        .unwrap();
    let head = format!(
        "PUT /{name}/lock HTTP/1.1\r\nHost: {}\r\nAuthorization: {FAKE_AUTHORIZATION}\r\n\
         If-None-Match: *\r\nContent-Length: 10\r\nConnection: close\r\n\r\n01234",
        env.authority()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    s3.delete_object()
        .bucket(&name)
        .key("lock")
        .send()
        .await
        .unwrap();
    stream.write_all(b"56789").await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 409"), "{text}");
    assert!(
        text.contains("<Code>ConditionalRequestConflict</Code>"),
        "{text}"
    );
    let err = s3
        .head_object()
        .bucket(&name)
        .key("lock")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        status(&err),
        Some(404),
        "the conflicting write must not land"
    );
}

#[tokio::test]
async fn signed_aws_chunked_uploads_with_chunk_signatures_are_decoded() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let sig = "0".repeat(64);
    let body = format!(
        "5;chunk-signature={sig}\r\nhello\r\n6;chunk-signature={sig}\r\n world\r\n0;chunk-signature={sig}\r\n\r\n"
    );
    let r = raw(
        &env,
        "PUT",
        &format!("/{name}/signed"),
        &[
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-decoded-content-length", "11"),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("etag"), Some(quoted_md5(b"hello world").as_str()));
    assert_eq!(get_body(&s3, &name, "signed").await, b"hello world");
}

#[tokio::test]
async fn a_wrong_crc32_trailer_on_an_aws_chunked_upload_is_bad_digest() {
    let env = TestEnv::start().await;
    skip_on!(env, Moto, "moto does not verify x-amz-checksum-* trailers");
    let (s3, name) = bucket(&env).await;
    let wrong = STANDARD.encode(crc32fast::hash(b"not the body").to_be_bytes());
    let body = format!("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:{wrong}\r\n\r\n");
    let r = raw(
        &env,
        "PUT",
        &format!("/{name}/k"),
        &[
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-decoded-content-length", "5"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(code_of(&r.text()), "BadDigest");
    let err = s3
        .head_object()
        .bucket(&name)
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(404));
}
