//! Bucket operations: create (with/without configuration, legacy re-create), head, list, delete, names.

use super::*;

#[tokio::test]
async fn create_bucket_then_head_bucket_and_list_buckets_show_it() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    s3.head_bucket().bucket(&name).send().await.unwrap();
    let listed = s3.list_buckets().send().await.unwrap();
    let names: Vec<&str> = listed.buckets().iter().filter_map(|b| b.name()).collect();
    assert!(names.contains(&name.as_str()), "{names:?}");
    let created = listed
        .buckets()
        .iter()
        .find(|b| b.name() == Some(name.as_str()))
        .and_then(|b| b.creation_date());
    assert!(created.is_some());
}

#[tokio::test]
async fn create_bucket_with_a_location_constraint_records_that_region() {
    let env = TestEnv::start().await;
    let s3 = env.s3();
    let name = env.unique_name("bkt");
    let conf = CreateBucketConfiguration::builder()
        .location_constraint(BucketLocationConstraint::EuWest1)
        .build();
    s3.create_bucket()
        .bucket(&name)
        .create_bucket_configuration(conf)
        .send()
        .await
        .unwrap();
    let loc = s3.get_bucket_location().bucket(&name).send().await.unwrap();
    assert_eq!(
        loc.location_constraint(),
        Some(&BucketLocationConstraint::EuWest1)
    );
}

#[tokio::test]
async fn recreating_an_owned_bucket_in_us_east_1_succeeds_for_legacy_compatibility() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    s3.create_bucket().bucket(&name).send().await.unwrap();
}

#[tokio::test]
async fn recreating_an_owned_bucket_outside_us_east_1_is_bucket_already_owned_by_you() {
    let env = TestEnv::start().await;
    let s3 = env.s3();
    let name = env.unique_name("bkt");
    let conf = || {
        CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::EuWest1)
            .build()
    };
    let create = || {
        s3.create_bucket()
            .bucket(&name)
            .create_bucket_configuration(conf())
    };
    create().send().await.unwrap();
    let err = create().send().await.unwrap_err();
    assert_eq!(err.code(), Some("BucketAlreadyOwnedByYou"));
    assert_eq!(status(&err), Some(409));
}

#[tokio::test]
async fn create_bucket_with_an_invalid_name_is_invalid_bucket_name() {
    let env = TestEnv::start().await;
    skip_on!(
        env,
        Moto,
        "moto accepts bucket names with upper case and underscores"
    );
    for bad in ["Upper_Case", "ab", "-starts-with-dash"] {
        let r = raw(&env, "PUT", &format!("/{bad}"), &[], b"").await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(code_of(&r.text()), "InvalidBucketName", "{bad}");
    }
}

#[tokio::test]
async fn head_bucket_of_a_missing_bucket_is_404_without_a_body() {
    let env = TestEnv::start().await;
    let name = env.unique_name("missing");
    let r = raw(&env, "HEAD", &format!("/{name}"), &[], b"").await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    let err = env
        .s3()
        .head_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), Some(404));
}

#[tokio::test]
async fn delete_bucket_refuses_a_non_empty_bucket_then_deletes_it_when_empty() {
    let env = TestEnv::start().await;
    let (s3, name) = bucket(&env).await;
    put(&s3, &name, "k", b"v").await;
    let err = s3.delete_bucket().bucket(&name).send().await.unwrap_err();
    assert_eq!(err.code(), Some("BucketNotEmpty"));
    assert_eq!(status(&err), Some(409));
    s3.delete_object()
        .bucket(&name)
        .key("k")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(&name).send().await.unwrap();
    let err = s3.head_bucket().bucket(&name).send().await.unwrap_err();
    assert_eq!(status(&err), Some(404));
}

#[tokio::test]
async fn operations_on_a_missing_bucket_are_no_such_bucket() {
    let env = TestEnv::start().await;
    let s3 = env.s3();
    let name = env.unique_name("missing");
    let err = s3
        .put_object()
        .bucket(&name)
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"));
    assert_eq!(status(&err), Some(404));
}
