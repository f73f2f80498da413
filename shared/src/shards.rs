//! Shard discovery for watermarks: which shards of the source stream are open.
//!
//! An operator's watermark is the minimum over its shards (see [`crate::watermark`]). A
//! shard that has not delivered a batch yet has no entry, so without discovery the first
//! shard to commit would set the operator watermark alone, and the first records of every
//! other shard would be judged late against it — on a fresh deployment, or when a
//! replayed stream's shards start a few batches apart. Flink's Kinesis source avoids this
//! the same way: a discovered shard without data holds the watermark back until it is
//! marked idle.
//!
//! So after a batch commits, the processor asks a [`ShardDirectory`] for the stream's open
//! shards and registers every unseen one at [`EventTime::MIN`](crate::EventTime::MIN)
//! with the current processing time. It then holds the watermark back until its first
//! batch, or until it has been idle for the idle timeout, after which processing time
//! advances it like any other idle shard (so a shard that never receives data does not
//! hold windows open forever). Closed shards (with an ending sequence number, e.g. parents
//! after resharding) are not registered: they have either reported already or are drained
//! before their children by the event source mapping.
//!
//! [`KinesisShardDirectory`] calls `ListShards` with the record's `eventSourceARN` and
//! caches the answer per stream for a configurable time (one call a minute per function
//! instance by default). The action is in the event source mapping's execution role
//! already (`kinesis:ListShards`, as in AWSLambdaKinesisExecutionRole).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::Mutex;

use crate::error::Error;

/// How long a stream's shard list is reused before `ListShards` is called again.
pub const DEFAULT_SHARD_CACHE: Duration = Duration::from_secs(60);

/// Lists the open shards of a stream.
pub trait ShardDirectory: Send + Sync + std::fmt::Debug + 'static {
    /// The ids of `stream_arn`'s open shards.
    fn open_shards<'a>(&'a self, stream_arn: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>>;
}

/// A fixed list of shards (tests, and operators fed by something other than Kinesis).
#[derive(Debug, Clone, Default)]
pub struct StaticShards(pub Vec<String>);

impl ShardDirectory for StaticShards {
    fn open_shards<'a>(
        &'a self,
        _stream_arn: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

/// `ListShards` through the Kinesis client, cached per stream.
#[derive(Debug)]
pub struct KinesisShardDirectory {
    client: aws_sdk_kinesis::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

impl KinesisShardDirectory {
    /// A directory caching each stream's shards for [`DEFAULT_SHARD_CACHE`].
    pub fn new(client: aws_sdk_kinesis::Client) -> Self {
        Self {
            client,
            ttl: DEFAULT_SHARD_CACHE,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how long a shard list is reused.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    async fn list(&self, stream_arn: &str) -> Result<Vec<String>, Error> {
        let mut open = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // NextToken and the stream are mutually exclusive in ListShards.
            let request = match token.take() {
                Some(t) => self.client.list_shards().next_token(t),
                None => self.client.list_shards().stream_arn(stream_arn),
            };
            let page = request
                .send()
                .await
                .map_err(|e| Error::Transient(format!("ListShards: {e:?}")))?;
            open.extend(
                page.shards()
                    .iter()
                    .filter(|s| {
                        s.sequence_number_range()
                            .is_some_and(|r| r.ending_sequence_number().is_none())
                    })
                    .map(|s| s.shard_id().to_owned()),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(open),
            }
        }
    }
}

impl ShardDirectory for KinesisShardDirectory {
    fn open_shards<'a>(&'a self, stream_arn: &'a str) -> BoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(async move {
            let mut cache = self.cache.lock().await;
            if let Some((at, shards)) = cache.get(stream_arn)
                && at.elapsed() < self.ttl
            {
                return Ok(shards.clone());
            }
            let shards = self.list(stream_arn).await?;
            cache.insert(stream_arn.to_owned(), (Instant::now(), shards.clone()));
            Ok(shards)
        })
    }
}
