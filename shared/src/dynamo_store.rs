//! `DynamoStateStore`: the [`StateStore`] over `aws-sdk-dynamodb`.
//!
//! The item layout lives in [`dynamo_item`](crate::dynamo_item).
//!
//! Commits use `UpdateItem` with `SET` on these attributes only, so attributes that other
//! writers own (the time issue's timer references) survive. The guard is
//! `version = :read` or `attribute_not_exists(pk)` for a new key. With outputs, the update
//! and the output `Put`s go in one `TransactWriteItems` (≤ 100 actions); outputs beyond
//! that are put first under their deterministic ids (idempotent), then the transaction.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use futures::{StreamExt, TryStreamExt};

use crate::deadletter::{self, DeadLetter};
use crate::dynamo_group::{GroupScope, Grouper};
use crate::dynamo_item::{
    ATTR_FAILING, ATTR_HWM, ATTR_OUT_BODY, ATTR_OUT_KEY, ATTR_OUT_OPERATOR, ATTR_OUT_VERSION,
    ATTR_PK, ATTR_SK, ATTR_STATE, ATTR_TIMERS, ATTR_TTL, ATTR_UPDATED_AT, ATTR_VERSION,
    attribute_values, decode_item, flattened_fields, state_key,
};
use crate::dynamo_timers;
use crate::error::Error;
use crate::retry::backoff;
use crate::store::{CommitResult, KeyCommit, OutputItem, OutputTable, StateStore, StoredState};
use crate::timer_store::TimerEntry;

/// BatchGetItem's per-call key limit.
const BATCH_GET_LIMIT: usize = 100;
/// TransactWriteItems' action limit.
const TRANSACT_LIMIT: usize = 100;
/// Rounds of UnprocessedKeys retries before reporting throttling.
const UNPROCESSED_ROUNDS: u32 = 10;
/// BatchGetItem calls in flight at once for one batch.
const READ_CONCURRENCY: usize = 16;
/// Outputs published at once by `put_outputs`.
const OUTPUT_CONCURRENCY: usize = 32;

/// Request counters, for metrics and the benchmark.
#[derive(Debug, Default)]
pub struct StoreStats {
    /// BatchGetItem calls.
    pub batch_gets: AtomicU64,
    /// UpdateItem/PutItem calls.
    pub writes: AtomicU64,
    /// TransactWriteItems calls.
    pub transactions: AtomicU64,
    /// TransactWriteItems calls carrying grouped commits (several keys each).
    pub grouped_transactions: Arc<AtomicU64>,
}

/// The DynamoDB state store.
#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: Client,
    state_table: String,
    output_table: Option<String>,
    late_events_table: Option<String>,
    dead_letter_table: String,
    stats: Arc<StoreStats>,
    timers_table: Option<String>,
    grouper: Option<Arc<Grouper>>,
    group_scope: GroupScope,
}

impl DynamoStateStore {
    /// A store over the given tables.
    pub fn new(
        client: Client,
        state_table: &str,
        output_table: Option<&str>,
        dead_letter_table: &str,
    ) -> Self {
        Self {
            client,
            state_table: state_table.to_owned(),
            output_table: output_table.map(str::to_owned),
            late_events_table: None,
            dead_letter_table: dead_letter_table.to_owned(),
            stats: Arc::default(),
            timers_table: None,
            grouper: None,
            group_scope: GroupScope::All,
        }
    }

    /// Groups every commit a batch issues concurrently into transactions of up to
    /// `max_actions` actions (see [`crate::dynamo_group`]); 0 or 1 commits each key alone.
    #[must_use]
    pub fn with_commit_grouping(self, max_actions: usize) -> Self {
        self.with_commit_grouping_scope(max_actions, GroupScope::All)
    }

    /// Groups the commits in `scope` into transactions of up to `max_actions` actions.
    #[must_use]
    pub fn with_commit_grouping_scope(mut self, max_actions: usize, scope: GroupScope) -> Self {
        self.group_scope = scope;
        self.grouper = (max_actions > 1).then(|| {
            Arc::new(Grouper::new(
                self.client.clone(),
                max_actions,
                Arc::clone(&self.stats.grouped_transactions),
            ))
        });
        self
    }

    /// All of `commit`'s actions for one transaction, when they fit in `max_actions`.
    fn inline_actions(
        &self,
        commit: &KeyCommit,
        max_actions: usize,
    ) -> Result<Option<Vec<TransactWriteItem>>, Error> {
        let t = &commit.timers;
        let count = 1
            + usize::from(t.fired.is_some())
            + t.puts.len()
            + t.deletes.len()
            + commit.outputs.len();
        if count > max_actions {
            return Ok(None);
        }
        let mut items = Vec::with_capacity(count);
        items.push(
            TransactWriteItem::builder()
                .update(self.state_update(commit)?)
                .build(),
        );
        if !t.is_empty() {
            let timers = self.timers_table()?;
            if let Some(fired) = &t.fired {
                let delete = dynamo_timers::timer_delete(timers, fired, true)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
            for entry in &t.puts {
                let put = dynamo_timers::timer_put(timers, entry)?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            for entry in &t.deletes {
                let delete = dynamo_timers::timer_delete(timers, entry, false)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        for out in &commit.outputs {
            items.push(
                TransactWriteItem::builder()
                    .put(self.output_put(commit, out)?)
                    .build(),
            );
        }
        Ok(Some(items))
    }

    /// The same store with a timers table (operators that register timers need one).
    #[must_use]
    pub fn with_timers_table(mut self, table: Option<&str>) -> Self {
        self.timers_table = table.map(str::to_owned);
        self
    }

    fn timers_table(&self) -> Result<&str, Error> {
        self.timers_table.as_deref().ok_or_else(|| {
            Error::Config("the operator uses timers but no timers table is configured".into())
        })
    }

    /// Routes late events (`Context::emit_late`) to `table`.
    #[must_use]
    pub fn with_late_events_table(mut self, table: Option<&str>) -> Self {
        self.late_events_table = table.map(str::to_owned);
        self
    }

    /// The table an output goes to.
    fn table_of(&self, out: &OutputItem) -> Result<&str, Error> {
        let (table, what) = match out.table {
            OutputTable::Outputs => (&self.output_table, "outputs (OUTPUTS_TABLE)"),
            OutputTable::LateEvents => (&self.late_events_table, "late events (LATE_EVENTS_TABLE)"),
            OutputTable::DeadLetters => return Ok(&self.dead_letter_table),
        };
        table.as_deref().ok_or_else(|| {
            Error::Config(format!(
                "the operator emitted {what} but no table is configured"
            ))
        })
    }

    /// Request counters.
    pub fn stats(&self) -> Arc<StoreStats> {
        Arc::clone(&self.stats)
    }

    fn output_put(&self, commit: &KeyCommit, out: &OutputItem) -> Result<Put, Error> {
        let operator = commit.item_key.split('#').next().unwrap_or_default();
        self.output_put_of(operator, out)
    }

    fn output_put_of(&self, operator: &str, out: &OutputItem) -> Result<Put, Error> {
        let mut put = Put::builder()
            .table_name(self.table_of(out)?)
            .item(ATTR_PK, AttributeValue::S(out.pk.clone()))
            .item(ATTR_SK, AttributeValue::S(out.sk.clone()))
            .item(ATTR_OUT_OPERATOR, AttributeValue::S(operator.to_owned()))
            .item(ATTR_OUT_KEY, AttributeValue::S(out.key.clone()))
            .item(ATTR_OUT_BODY, AttributeValue::S(out.body.clone()));
        for (name, value) in flattened_fields(&out.body) {
            put = put.item(name, value);
        }
        put.build().map_err(|e| Error::Service(e.to_string()))
    }

    fn state_update(&self, commit: &KeyCommit) -> Result<Update, Error> {
        let mut update = Update::builder()
            .table_name(&self.state_table)
            .set_key(Some(state_key(&commit.item_key)))
            .update_expression(
                "SET #st = :st, #ver = :ver, #hwm = :hwm, #upd = :upd, #fail = :fail, #tm = :tm, #ttl = :ttl",
            )
            .expression_attribute_names("#tm", ATTR_TIMERS)
            .expression_attribute_names("#ttl", ATTR_TTL)
            .expression_attribute_names("#fail", ATTR_FAILING)
            .expression_attribute_names("#st", ATTR_STATE)
            .expression_attribute_names("#ver", ATTR_VERSION)
            .expression_attribute_names("#hwm", ATTR_HWM)
            .expression_attribute_names("#upd", ATTR_UPDATED_AT);
        let values = attribute_values(commit);
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        if commit.conditional {
            update = match commit.expected_version {
                Some(v) => update
                    .condition_expression("#ver = :read")
                    .expression_attribute_values(":read", AttributeValue::N(v.to_string())),
                None => update
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", ATTR_PK),
            };
        }
        update.build().map_err(|e| Error::Service(e.to_string()))
    }

    async fn single_update(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        let update = self.state_update(commit)?;
        self.stats.writes.fetch_add(1, Ordering::Relaxed);
        let result = self
            .client
            .update_item()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .update_expression(update.update_expression())
            .set_condition_expression(update.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send()
            .await;
        match result {
            Ok(_) => Ok(CommitResult::Committed),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
                Ok(CommitResult::Conflict)
            }
            Err(e) => Err(classify(e)),
        }
    }

    async fn transaction(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        // Timer actions go inline first (the fired timer's conditional delete must);
        // timer puts that do not fit are written before the transaction (an orphan item
        // never fires: the state is the truth), timer deletes that do not fit after it.
        let mut items = vec![
            TransactWriteItem::builder()
                .update(self.state_update(commit)?)
                .build(),
        ];
        let mut room = TRANSACT_LIMIT - 1;
        let mut late_deletes: Vec<&TimerEntry> = Vec::new();
        if !commit.timers.is_empty() {
            let timers = self.timers_table()?;
            if let Some(fired) = &commit.timers.fired {
                let delete = dynamo_timers::timer_delete(timers, fired, true)?;
                items.push(TransactWriteItem::builder().delete(delete).build());
                room -= 1;
            }
            for entry in &commit.timers.puts {
                let put = dynamo_timers::timer_put(timers, entry)?;
                if room > 0 {
                    items.push(TransactWriteItem::builder().put(put).build());
                    room -= 1;
                } else {
                    self.stats.writes.fetch_add(1, Ordering::Relaxed);
                    self.client
                        .put_item()
                        .table_name(timers)
                        .set_item(Some(put.item().clone()))
                        .send()
                        .await
                        .map_err(classify)?;
                }
            }
            for entry in &commit.timers.deletes {
                if room > 0 {
                    let delete = dynamo_timers::timer_delete(timers, entry, false)?;
                    items.push(TransactWriteItem::builder().delete(delete).build());
                    room -= 1;
                } else {
                    late_deletes.push(entry);
                }
            }
        }
        // Outputs that do not fit next to the update go first, idempotently.
        let inline = room;
        for out in commit.outputs.iter().skip(inline) {
            let put = self.output_put(commit, out)?;
            self.stats.writes.fetch_add(1, Ordering::Relaxed);
            self.client
                .put_item()
                .table_name(put.table_name())
                .set_item(Some(put.item().clone()))
                .send()
                .await
                .map_err(classify)?;
        }
        for out in commit.outputs.iter().take(inline) {
            items.push(
                TransactWriteItem::builder()
                    .put(self.output_put(commit, out)?)
                    .build(),
            );
        }
        self.stats.transactions.fetch_add(1, Ordering::Relaxed);
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => {
                if !late_deletes.is_empty() {
                    self.delete_timer_items(&late_deletes.into_iter().cloned().collect::<Vec<_>>())
                        .await?;
                }
                Ok(CommitResult::Committed)
            }
            Err(SdkError::ServiceError(service)) => {
                let err = service.into_err();
                let reasons: Vec<&str> = match &err {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                        c.cancellation_reasons().iter().filter_map(|r| r.code()).collect()
                    }
                    _ => Vec::new(),
                };
                // The state's version condition or the fired timer's existence.
                if reasons.contains(&"ConditionalCheckFailed") {
                    Ok(CommitResult::Conflict)
                } else if reasons
                    .iter()
                    .any(|r| r.contains("Throttl") || r.contains("Throughput"))
                {
                    Err(Error::Throttled(format!(
                        "transaction cancelled: {reasons:?}"
                    )))
                } else if reasons.contains(&"TransactionConflict") {
                    Err(Error::Transient("transaction conflict".into()))
                } else {
                    Err(classify_code(err.code(), &err.to_string()))
                }
            }
            Err(e) => Err(classify(e)),
        }
    }
}

impl DynamoStateStore {
    /// One output of [`StateStore::put_outputs`].
    async fn put_output(
        &self,
        operator: &str,
        out: &OutputItem,
        version: u64,
    ) -> Result<(), Error> {
        let put = self.output_put_of(operator, out)?;
        let keyed = out.is_keyed(operator);
        let mut request = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()));
        if keyed {
            // Only a newer version of a keyed output replaces it (a re-publication of an
            // older outbox may arrive late).
            request = request
                .item(ATTR_OUT_VERSION, AttributeValue::N(version.to_string()))
                .condition_expression("attribute_not_exists(#ov) OR #ov <= :ov")
                .expression_attribute_names("#ov", ATTR_OUT_VERSION)
                .expression_attribute_values(":ov", AttributeValue::N(version.to_string()));
        }
        let mut attempt = 0;
        loop {
            self.stats.writes.fetch_add(1, Ordering::Relaxed);
            match request.clone().send().await {
                Ok(_) => return Ok(()),
                Err(e) if e.code() == Some("ConditionalCheckFailedException") => return Ok(()),
                Err(e) => {
                    let err = classify(e);
                    if err.is_throttle() && attempt < UNPROCESSED_ROUNDS {
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(err);
                }
            }
        }
    }
}

impl DynamoStateStore {
    /// Reads ≤ 100 keys, retrying `UnprocessedKeys` (the throttled part) with backoff.
    async fn get_chunk(
        &self,
        chunk: &[String],
        consistent: bool,
    ) -> Result<Vec<(String, StoredState)>, Error> {
        let keys: Vec<HashMap<String, AttributeValue>> =
            chunk.iter().map(|k| state_key(k)).collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(consistent)
                .build()
                .map_err(|e| Error::Service(e.to_string()))?,
        );
        let mut found = Vec::with_capacity(chunk.len());
        let mut round = 0;
        while let Some(request) = pending.take() {
            if round > 0 {
                tokio::time::sleep(backoff(round - 1)).await;
            }
            round += 1;
            self.stats.batch_gets.fetch_add(1, Ordering::Relaxed);
            let resp = match self
                .client
                .batch_get_item()
                .request_items(&self.state_table, request.clone())
                .send()
                .await
                .map_err(classify)
            {
                Ok(resp) => resp,
                Err(e) if e.is_throttle() && round < UNPROCESSED_ROUNDS => {
                    pending = Some(request);
                    continue;
                }
                Err(e) => return Err(e),
            };
            for item in resp
                .responses()
                .and_then(|r| r.get(&self.state_table))
                .into_iter()
                .flatten()
            {
                found.push(decode_item(item)?);
            }
            pending = resp
                .unprocessed_keys()
                .and_then(|u| u.get(&self.state_table))
                .filter(|k| !k.keys().is_empty())
                .cloned();
            if pending.is_some() && round >= UNPROCESSED_ROUNDS {
                return Err(Error::Throttled(
                    "BatchGetItem keys stayed unprocessed".into(),
                ));
            }
        }
        Ok(found)
    }
}

pub(crate) fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: SdkError<E, R>,
) -> Error {
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::Transient(format!("{err:?}"))
        }
        SdkError::ServiceError(s) => classify_code(s.err().code(), &format!("{:?}", s.err())),
        _ => Error::Service(format!("{err:?}")),
    }
}

pub(crate) fn classify_code(code: Option<&str>, text: &str) -> Error {
    match code.unwrap_or_default() {
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "Throttling" => Error::Throttled(text.to_owned()),
        "InternalServerError"
        | "ServiceUnavailable"
        | "TransactionInProgressException"
        | "TransactionConflictException" => Error::Transient(text.to_owned()),
        _ => Error::Service(text.to_owned()),
    }
}

impl StateStore for DynamoStateStore {
    async fn put_outputs(
        &self,
        operator: &str,
        outputs: &[OutputItem],
        version: u64,
    ) -> Result<(), Error> {
        let mut pending = futures::stream::FuturesUnordered::new();
        for out in outputs {
            if pending.len() >= OUTPUT_CONCURRENCY
                && let Some(result) = pending.next().await
            {
                result?;
            }
            pending.push(self.put_output(operator, out, version));
        }
        while let Some(result) = pending.next().await {
            result?;
        }
        Ok(())
    }

    async fn get_many(
        &self,
        item_keys: &[String],
        consistent: bool,
    ) -> Result<HashMap<String, StoredState>, Error> {
        // Chunks of 100 keys are read concurrently: with DynamoDB latency, reading the
        // keys of a large batch one call after another would dominate the batch time.
        let chunks: Vec<Vec<(String, StoredState)>> =
            futures::stream::iter(item_keys.chunks(BATCH_GET_LIMIT).map(<[String]>::to_vec))
                .map(|chunk: Vec<String>| async move { self.get_chunk(&chunk, consistent).await })
                .buffer_unordered(READ_CONCURRENCY)
                .try_collect()
                .await?;
        Ok(chunks.into_iter().flatten().collect())
    }

    async fn commit(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        let single = commit.outputs.is_empty() && commit.timers.is_empty();
        if let Some(grouper) = &self.grouper
            && (self.group_scope == GroupScope::All || !single)
            && let Some(actions) = self.inline_actions(commit, grouper.max_actions())?
        {
            // Bodies dominate; 200 bytes per action for names, keys and versions.
            let bytes = commit.state.body.len()
                + commit.outputs.iter().map(|o| o.body.len()).sum::<usize>()
                + 200 * actions.len();
            return grouper.commit(actions, bytes).await;
        }
        if single {
            self.single_update(commit).await
        } else {
            self.transaction(commit).await
        }
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), Error> {
        self.stats.writes.fetch_add(1, Ordering::Relaxed);
        self.client
            .put_item()
            .table_name(&self.dead_letter_table)
            .item(deadletter::ATTR_DL_PK, AttributeValue::S(letter.id()))
            .item(ATTR_SK, AttributeValue::S(letter.operator.clone()))
            .item(
                deadletter::ATTR_DL_OPERATOR,
                AttributeValue::S(letter.operator.clone()),
            )
            .item(
                deadletter::ATTR_DL_SHARD,
                AttributeValue::S(letter.shard.0.clone()),
            )
            .item(
                deadletter::ATTR_DL_SEQUENCE,
                AttributeValue::S(letter.sequence.to_string()),
            )
            .item(
                deadletter::ATTR_DL_PARTITION_KEY,
                AttributeValue::S(letter.partition_key.clone()),
            )
            .item(
                deadletter::ATTR_DL_DATA,
                AttributeValue::B(Blob::new(letter.data.clone())),
            )
            .item(
                deadletter::ATTR_DL_ERROR,
                AttributeValue::S(letter.error.clone()),
            )
            .item(
                deadletter::ATTR_DL_AT,
                AttributeValue::N(letter.at.0.to_string()),
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn query_timers(
        &self,
        partition: &str,
        sk_before: &str,
        limit: usize,
    ) -> Result<Vec<TimerEntry>, Error> {
        self.query_timer_page(partition, sk_before, limit).await
    }

    async fn delete_timer_items(&self, entries: &[TimerEntry]) -> Result<(), Error> {
        self.delete_timer_list(entries).await
    }
}

impl DynamoStateStore {
    /// `StateStore::query_timers` (kept here, apart from the trait impl, for merges).
    async fn query_timer_page(
        &self,
        partition: &str,
        sk_before: &str,
        limit: usize,
    ) -> Result<Vec<TimerEntry>, Error> {
        let table = self.timers_table()?;
        dynamo_timers::query_due(&self.client, table, partition, sk_before, limit)
            .await
            .map_err(classify)
    }

    async fn delete_timer_list(&self, entries: &[TimerEntry]) -> Result<(), Error> {
        let table = self.timers_table()?;
        for entry in entries {
            self.stats.writes.fetch_add(1, Ordering::Relaxed);
            dynamo_timers::delete_item(&self.client, table, entry)
                .await
                .map_err(classify)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_are_retryable_and_validation_is_fatal() {
        assert!(classify_code(Some("ProvisionedThroughputExceededException"), "x").is_throttle());
        assert!(classify_code(Some("ThrottlingException"), "x").is_throttle());
        let fatal = classify_code(Some("ValidationException"), "x");
        assert_eq!(fatal.class(), crate::error::RetryClass::Fatal);
    }
}
