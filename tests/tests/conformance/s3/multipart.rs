//! Multipart uploads: ETag rule, part-list validation, abort, ListParts, malformed XML.

use super::*;

async fn upload_parts(
    s3: &Client,
    bucket: &str,
    key: &str,
    parts: &[Vec<u8>],
) -> (String, Vec<CompletedPart>) {
    let id = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut done = Vec::new();
    for (i, body) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    (id, done)
}

#[tokio::test]
async fn multipart_upload_completes_with_the_md5_of_part_md5s_etag() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let parts = vec![vec![b'a'; 5 * MIB], b"tail".to_vec()];
    let (id, done) = upload_parts(&s3, &name, "big", &parts).await;
    let out = s3
        .complete_multipart_upload()
        .bucket(&name)
        .key("big")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut h = Md5::new();
    for p in &parts {
        h.update(Md5::digest(p));
    }
    let expected = format!("\"{}-2\"", hex_lower(&h.finalize()));
    assert_eq!(out.e_tag(), Some(expected.as_str()));
    let body = get_body(&s3, &name, "big").await;
    assert_eq!(body.len(), 5 * MIB + 4);
    assert!(body.ends_with(b"tail"));
}

#[tokio::test]
async fn complete_multipart_rejects_unknown_parts_and_descending_order() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let parts = [vec![b'a'; 5 * MIB], vec![b'b'; 5 * MIB]];
    let (id, done) = upload_parts(&s3, &name, "k", &parts).await;
    let complete = |parts: Vec<CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket(&name)
            .key("k")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
    };
    let wrong_etag = vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag(quoted_md5(b"nope"))
            .build(),
    ];
    let err = complete(wrong_etag).await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidPart"));
    assert_eq!(status(&err), Some(400));
    skip_on!(
        env,
        Moto,
        "moto completes an upload whose part list is in descending order"
    );
    let reversed = vec![done[1].clone(), done[0].clone()];
    let err = complete(reversed).await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidPartOrder"));
    assert_eq!(status(&err), Some(400));
}

#[tokio::test]
async fn complete_multipart_rejects_small_non_last_parts_and_abort_forgets_the_upload() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    let (id, done) = upload_parts(&s3, &name, "k", &[b"small".to_vec(), b"x".to_vec()]).await;
    let complete = |parts: Vec<CompletedPart>| {
        s3.complete_multipart_upload()
            .bucket(&name)
            .key("k")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
    };
    let err = complete(done.clone()).await.unwrap_err();
    assert_eq!(err.code(), Some("EntityTooSmall"));
    s3.abort_multipart_upload()
        .bucket(&name)
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    skip_on!(
        env,
        Moto,
        "moto's answer to completing an aborted upload has no NoSuchUpload code"
    );
    let err = complete(done).await.unwrap_err();
    assert_eq!(err.code(), Some("NoSuchUpload"));
    assert_eq!(status(&err), Some(404));
}

#[tokio::test]
async fn list_parts_shows_uploaded_parts() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto's ListParts document has root ListPartsResponse, which the SDK rejects"
    );
    let (s3, name) = bucket(&env).await;
    let (id, _done) = upload_parts(&s3, &name, "k", &[b"one".to_vec(), b"two!".to_vec()]).await;
    let out = s3
        .list_parts()
        .bucket(&name)
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    let sizes: Vec<(Option<i32>, Option<i64>)> = out
        .parts()
        .iter()
        .map(|p| (p.part_number(), p.size()))
        .collect();
    assert_eq!(sizes, vec![(Some(1), Some(3)), (Some(2), Some(4))]);
}

#[tokio::test]
async fn complete_multipart_with_malformed_xml_is_malformed_xml() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto answers malformed CompleteMultipartUpload XML with a 500"
    );
    let (s3, name) = bucket(&env).await;
    let (id, _) = upload_parts(&s3, &name, "k", &[b"x".to_vec()]).await;
    let r = raw(
        &env,
        "POST",
        &format!("/{name}/k?uploadId={id}"),
        &[],
        b"<CompleteMultipartUpload><Part><PartNumber>1",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(code_of(&r.text()), "MalformedXML");
}
