//! Reading the alerts stream as a downstream blocking service would: one GetRecords
//! loop per shard, from iterators taken at LATEST before any trigger is put, noting the
//! wall-clock time each alert is read.
//!
//! Records are the framework's publish envelope `{"id", "payload"}` (shared/src/sinks.rs)
//! whose payload is fraud-detector's `Alert`; its `transaction_id` names the transaction
//! that triggered it. An empty read sleeps [`EMPTY_POLL`] — short, so the consumer's own
//! polling adds at most a few ms to the measured latency (AWS allows 5 GetRecords calls
//! per second per shard; this is an emulator benchmark, the figure it isolates is the
//! pipeline's, not a polite consumer's).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::types::ShardIteratorType;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::book::LatencyBook;

/// Sleep after an empty GetRecords.
pub const EMPTY_POLL: Duration = Duration::from_millis(2);

/// The running consumer: stop it with [`AlertReader::stop`].
#[derive(Debug)]
pub struct AlertReader {
    stop: watch::Sender<bool>,
    tasks: JoinSet<anyhow::Result<u64>>,
}

impl AlertReader {
    /// Takes LATEST iterators on every shard of `stream` and starts reading; sightings
    /// go to `book`.
    pub async fn start(
        kinesis: &aws_sdk_kinesis::Client,
        stream: &str,
        book: Arc<Mutex<LatencyBook>>,
    ) -> anyhow::Result<Self> {
        let shards = kinesis.list_shards().stream_name(stream).send().await?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for shard in shards.shards() {
            let iterator = kinesis
                .get_shard_iterator()
                .stream_name(stream)
                .shard_id(shard.shard_id())
                .shard_iterator_type(ShardIteratorType::Latest)
                .send()
                .await?
                .shard_iterator()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("no iterator for {}", shard.shard_id()))?;
            tasks.spawn(read_shard(
                kinesis.clone(),
                iterator,
                Arc::clone(&book),
                stopped.clone(),
            ));
        }
        Ok(Self { stop, tasks })
    }

    /// Stops reading; returns the alert records read.
    pub async fn stop(mut self) -> anyhow::Result<u64> {
        let _ = self.stop.send(true);
        let mut read = 0;
        while let Some(done) = self.tasks.join_next().await {
            read += done??;
        }
        Ok(read)
    }
}

async fn read_shard(
    kinesis: aws_sdk_kinesis::Client,
    mut iterator: String,
    book: Arc<Mutex<LatencyBook>>,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<u64> {
    let mut read = 0;
    while !*stopped.borrow() {
        let page = kinesis
            .get_records()
            .shard_iterator(&iterator)
            .send()
            .await?;
        let now = Instant::now();
        if !page.records().is_empty() {
            let mut book = book.lock().unwrap_or_else(|e| e.into_inner());
            for r in page.records() {
                read += 1;
                if let Some(id) = triggering_transaction(r.data().as_ref()) {
                    book.alert_seen(&id, now);
                }
            }
        }
        match page.next_shard_iterator() {
            Some(next) => iterator = next.to_owned(),
            None => break,
        }
        if page.records().is_empty() {
            tokio::time::sleep(EMPTY_POLL).await;
        }
    }
    Ok(read)
}

/// The `payload.transaction_id` of a published alert.
pub fn triggering_transaction(data: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    v["payload"]["transaction_id"].as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_triggering_transaction_is_read_from_the_publish_envelope() {
        let data = br#"{"id":"alert-tx-9","payload":{"alert_id":"alert-tx-9","transaction_id":"tx-9","score":0.9}}"#;
        assert_eq!(triggering_transaction(data).as_deref(), Some("tx-9"));
        assert_eq!(
            triggering_transaction(br#"{"transaction_id":"tx-9"}"#),
            None
        );
        assert_eq!(triggering_transaction(b"not json"), None);
    }
}
