//! Conditional writes (If-None-Match / If-Match) and read preconditions (412 / 304).

use super::*;

#[tokio::test]
async fn put_object_with_if_none_match_star_fails_412_when_the_key_exists() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let first = s3
        .put_object()
        .bucket(&name)
        .key("once")
        .if_none_match("*")
        .body(ByteStream::from_static(b"first"))
        .send()
        .await;
    assert!(first.is_ok(), "{first:?}");
    let err = s3
        .put_object()
        .bucket(&name)
        .key("once")
        .if_none_match("*")
        .body(ByteStream::from_static(b"second"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(412));
    assert_eq!(err.code(), Some("PreconditionFailed"));
    assert_eq!(get_body(&s3, &name, "once").await, b"first");
}

#[tokio::test]
async fn put_object_with_if_match_writes_only_over_the_matching_etag() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let etag = put(&s3, &name, "k", b"v1").await;
    let put_if = |tag: &str, body: &'static [u8]| {
        s3.put_object()
            .bucket(&name)
            .key("k")
            .if_match(tag)
            .body(ByteStream::from_static(body))
            .send()
    };
    let err = put_if(&quoted_md5(b"other"), b"x").await.unwrap_err();
    assert_eq!(status(&err), Some(412));
    assert_eq!(err.code(), Some("PreconditionFailed"));
    put_if(&etag, b"v2").await.unwrap();
    assert_eq!(get_body(&s3, &name, "k").await, b"v2");
}

#[tokio::test]
async fn put_object_with_if_match_on_a_missing_key_is_404_no_such_key() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let err = s3
        .put_object()
        .bucket(&name)
        .key("absent")
        .if_match(quoted_md5(b"x"))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    // AWS user guide, conditional writes: "If there's no current object version with
    // the same name … the operation fails with a 404 Not Found error."
    assert_eq!(status(&err), Some(404));
    assert_eq!(err.code(), Some("NoSuchKey"));
}

#[tokio::test]
async fn get_object_preconditions_answer_412_and_304() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let etag = put(&s3, &name, "k", b"v").await;
    let get = || s3.get_object().bucket(&name).key("k");
    let err = get().if_match(quoted_md5(b"x")).send().await.unwrap_err();
    assert_eq!(status(&err), Some(412));
    let err = get().if_none_match(&etag).send().await.unwrap_err();
    assert_eq!(status(&err), Some(304));
    get().if_match(&etag).send().await.unwrap();
    let future = DateTime::from_secs(4_000_000_000);
    let past = DateTime::from_secs(1_000_000_000);
    let err = get().if_modified_since(future).send().await.unwrap_err();
    assert_eq!(status(&err), Some(304));
    get().if_modified_since(past).send().await.unwrap();
    let err = get().if_unmodified_since(past).send().await.unwrap_err();
    assert_eq!(status(&err), Some(412));
    let err = s3
        .head_object()
        .bucket(&name)
        .key("k")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(304));
}
