//! S3 workloads for the emulator-vs-moto benchmark: PutObject and GetObject of a
//! 64 KiB object, and ListObjectsV2 of a small bucket. Each setup creates its own bucket
//! (unique name, so runs against a shared moto do not collide); the GetObject setup
//! uploads its object once and every operation then reads it whole.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{Op, Workload, payload};
use crate::TestEnv;

/// Size of the objects PutObject and GetObject move.
pub const OBJECT_SIZE: usize = 64 * 1024;
/// Objects in the ListObjectsV2 bucket.
pub const LIST_OBJECTS: usize = 100;

/// This service's workloads.
pub fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "S3 PutObject (64 KiB)",
            setup: |env| Box::pin(put_object(env)),
        },
        Workload {
            name: "S3 GetObject (64 KiB)",
            setup: |env| Box::pin(get_object(env)),
        },
        Workload {
            name: "S3 ListObjectsV2",
            setup: |env| Box::pin(list_objects(env)),
        },
    ]
}

async fn new_bucket(env: &TestEnv) -> anyhow::Result<(aws_sdk_s3::Client, Arc<str>)> {
    let s3 = env.s3();
    let name = env.unique_name("bench");
    s3.create_bucket().bucket(&name).send().await?;
    Ok((s3, Arc::from(name)))
}

async fn put_object(env: &TestEnv) -> anyhow::Result<Op> {
    let (s3, bucket) = new_bucket(env).await?;
    let body = Bytes::from(payload(OBJECT_SIZE, 1));
    Ok(Arc::new(move |n| {
        let (s3, bucket, body) = (s3.clone(), bucket.clone(), body.clone());
        Box::pin(async move {
            s3.put_object()
                .bucket(&*bucket)
                .key(format!("obj-{}", n % 1024))
                .body(ByteStream::from(body))
                .send()
                .await?;
            Ok(())
        })
    }))
}

async fn get_object(env: &TestEnv) -> anyhow::Result<Op> {
    let (s3, bucket) = new_bucket(env).await?;
    s3.put_object()
        .bucket(&*bucket)
        .key("object")
        .body(ByteStream::from(payload(OBJECT_SIZE, 2)))
        .send()
        .await?;
    Ok(Arc::new(move |_| {
        let (s3, bucket) = (s3.clone(), bucket.clone());
        Box::pin(async move {
            let out = s3
                .get_object()
                .bucket(&*bucket)
                .key("object")
                .send()
                .await?;
            let body = out.body.collect().await?.into_bytes();
            anyhow::ensure!(body.len() == OBJECT_SIZE, "short read: {}", body.len());
            Ok(())
        })
    }))
}

async fn list_objects(env: &TestEnv) -> anyhow::Result<Op> {
    let (s3, bucket) = new_bucket(env).await?;
    for i in 0..LIST_OBJECTS {
        s3.put_object()
            .bucket(&*bucket)
            .key(format!("prefix/{i:04}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await?;
    }
    Ok(Arc::new(move |_| {
        let (s3, bucket) = (s3.clone(), bucket.clone());
        Box::pin(async move {
            let out = s3
                .list_objects_v2()
                .bucket(&*bucket)
                .prefix("prefix/")
                .send()
                .await?;
            anyhow::ensure!(out.key_count() == Some(LIST_OBJECTS as i32), "wrong count");
            Ok(())
        })
    }))
}
