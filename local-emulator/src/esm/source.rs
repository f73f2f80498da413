//! Where a mapping reads records from.
//!
//! In `up`, always the emulator's own Kinesis service ([`KinesisSource`]): ListShards and
//! GetShardIterator through the same JSON entry point SDK calls reach, GetRecords through
//! the typed page that entry point renders (same checks, throttles and counters, without
//! a JSON value per record). The trait exists so the mapping's delivery
//! semantics — the hard part — can also be exercised against
//! [`MemoryStream`](super::memory::MemoryStream), a small in-memory shard log, while or
//! wherever the Kinesis service is not available.

use std::fmt::Debug;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::client::{self, IteratorStart, Page, ShardInfo};
use crate::Emulator;
use crate::error::AwsJsonError;

/// The three reads a poller needs.
pub trait ShardSource: Send + Sync + Debug {
    /// Every shard of `stream` (open and closed) with its parents.
    fn list_shards<'a>(
        &'a self,
        stream: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ShardInfo>, AwsJsonError>>;
    /// An iterator for `shard` starting at `start`.
    fn iterator<'a>(
        &'a self,
        stream: &'a str,
        shard: &'a str,
        start: &'a IteratorStart,
    ) -> BoxFuture<'a, Result<String, AwsJsonError>>;
    /// Up to `limit` records from `iterator`.
    fn get_records<'a>(
        &'a self,
        iterator: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Page, AwsJsonError>>;
}

/// The emulator's Kinesis service.
#[derive(Debug, Clone)]
pub struct KinesisSource(pub Arc<Emulator>);

impl ShardSource for KinesisSource {
    fn list_shards<'a>(
        &'a self,
        stream: &'a str,
    ) -> BoxFuture<'a, Result<Vec<ShardInfo>, AwsJsonError>> {
        Box::pin(client::list_shards(&self.0, stream))
    }

    fn iterator<'a>(
        &'a self,
        stream: &'a str,
        shard: &'a str,
        start: &'a IteratorStart,
    ) -> BoxFuture<'a, Result<String, AwsJsonError>> {
        Box::pin(client::iterator(&self.0, stream, shard, start))
    }

    fn get_records<'a>(
        &'a self,
        iterator: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Page, AwsJsonError>> {
        Box::pin(client::get_records(&self.0, iterator, limit))
    }
}
