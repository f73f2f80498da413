//! Reading a day's raw archive from S3: list `raw/dt=<day>/` page by page
//! (ListObjectsV2 continuation tokens, via the SDK paginator), fetch the objects with
//! bounded concurrency and collect their lines into a [`RecordSet`].

use archiver::format::{day_prefix, decode_object};
use aws_sdk_s3::Client;
use futures::StreamExt;

use crate::Error;
use crate::batch::RecordSet;

/// At most this many GetObject calls in flight.
const MAX_CONCURRENT_GETS: usize = 16;

/// What reading the archive found.
#[derive(Debug, Default)]
pub struct ArchiveRead {
    /// The distinct records.
    pub records: RecordSet,
    /// Objects listed and read.
    pub objects: u64,
    /// Objects that were not valid gzip JSON Lines.
    pub unreadable_objects: u64,
}

/// Every key under `prefix` in `bucket`, in listing order.
pub async fn list_keys(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, Error> {
    list_keys_paged(client, bucket, prefix, None).await
}

/// Like [`list_keys`] with at most `page_size` keys per ListObjectsV2 call (S3's
/// default and maximum is 1,000); the paginator follows `NextContinuationToken`.
pub async fn list_keys_paged(
    client: &Client,
    bucket: &str,
    prefix: &str,
    page_size: Option<i32>,
) -> Result<Vec<String>, Error> {
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .set_max_keys(page_size)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::S3(format!("list {prefix}: {e:?}")))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// The bytes of one object.
pub async fn get_bytes(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, Error> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| Error::S3(format!("get {key}: {e:?}")))?;
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| Error::S3(format!("read {key}: {e}")))?;
    Ok(body.into_bytes().to_vec())
}

/// Reads every raw object of `day`.
pub async fn read_day(client: &Client, bucket: &str, day: &str) -> Result<ArchiveRead, Error> {
    let keys = list_keys(client, bucket, &day_prefix(day)).await?;
    let mut read = ArchiveRead {
        objects: keys.len() as u64,
        ..ArchiveRead::default()
    };
    let mut bodies = futures::stream::iter(keys)
        .map(|key| async move { get_bytes(client, bucket, &key).await.map(|b| (key, b)) })
        .buffer_unordered(MAX_CONCURRENT_GETS);
    while let Some(result) = bodies.next().await {
        let (key, bytes) = result?;
        match decode_object(&bytes) {
            Ok(lines) => read.records.extend(lines),
            Err(e) => {
                tracing::warn!(%key, error = %e, "unreadable archive object");
                read.unreadable_objects += 1;
            }
        }
    }
    Ok(read)
}
