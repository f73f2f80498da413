//! One sub-batcher of a shard: forms batches and delivers each until it succeeds or
//! is given up, so records of one slot are delivered strictly in order.
//!
//! Delivery of a batch (a work list of batch pieces, each with its retry count):
//! - success → checkpoint its last record;
//! - partial response → checkpoint before the lowest reported record and retry from it
//!   (counts as a retry; bisect is implied: the split is at the reported record);
//! - function error → with BisectBatchOnFunctionError split the piece in two (does not
//!   count as a retry), else retry the piece;
//! - a retry beyond MaximumRetryAttempts, or a piece older than
//!   MaximumRecordAgeInSeconds → send it to OnFailure, checkpoint past it, move on.
//!
//! With TumblingWindowInSeconds, batches never span windows (aligned on arrival
//! time), each response's `state` is handed to the next invocation of the window, and
//! when the window closes (a later window's record arrives, the clock passes its end,
//! or the shard ends) one last invocation with no records and
//! `isFinalInvokeForWindow: true` carries the state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::destination::{self, Condition, Failure};
use super::mapping::Mapping;
use super::records::{self, Record, Verdict, WindowEvent};
use crate::Emulator;
use crate::lambda::{Admission, InvokeOutcome};
use crate::template::events::OnFailure;

/// Largest invocation payload (6 MB).
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

/// What a reader sends a slot.
#[derive(Debug)]
pub enum SlotMessage {
    /// Records of one GetRecords page routed to this slot, in order.
    Records(Vec<Record>),
    /// The shard was polled and is idle (lets an open tumbling window close).
    Idle,
    /// The shard is closed and fully read.
    End,
}

/// A slot's state.
#[derive(Debug)]
pub struct Slot {
    mapping: Arc<Mapping>,
    emulator: Arc<Emulator>,
    shard_id: String,
    index: usize,
    window: Option<(i64, Value)>,
}

impl Slot {
    /// A slot of `shard_id`.
    pub fn new(
        mapping: Arc<Mapping>,
        emulator: Arc<Emulator>,
        shard_id: String,
        index: usize,
    ) -> Self {
        Self {
            mapping,
            emulator,
            shard_id,
            index,
            window: None,
        }
    }

    /// Runs until the shard ends (or the mapping stops).
    pub async fn run(mut self, mut rx: mpsc::Receiver<SlotMessage>) {
        let mut pending: VecDeque<Record> = VecDeque::new();
        let mut ended = false;
        let mut first_seen: Option<Instant> = None;
        let spec = self.mapping.spec.clone();
        let batching = Duration::from_secs(u64::from(spec.maximum_batching_window_secs));
        loop {
            if self.mapping.is_stopped() {
                return;
            }
            while let Ok(msg) = rx.try_recv() {
                absorb(msg, &mut pending, &mut ended);
            }
            if pending.is_empty() {
                first_seen = None;
                if self.window_due() || (ended && self.window.is_some()) {
                    self.final_invoke().await;
                }
                if ended {
                    return;
                }
                match tokio::time::timeout(self.mapping.options.idle_poll, rx.recv()).await {
                    Ok(Some(msg)) => absorb(msg, &mut pending, &mut ended),
                    Ok(None) => ended = true,
                    Err(_) => {}
                }
                continue;
            }
            let started = *first_seen.get_or_insert_with(Instant::now);
            if !batching.is_zero() && !ended {
                // AWS invokes as soon as any of three holds: the batch size is met, the
                // window expires, or the payload reaches 6 MB. Waiting out the window
                // with a payload-full batch cost every large-record mapping a second
                // per batch (the pipeline's daily-totals: ~6,950 records fill 6 MB).
                let deadline = started + batching;
                while !self.batch_full(&pending) && !ended {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(msg)) => absorb(msg, &mut pending, &mut ended),
                        Ok(None) => ended = true,
                        Err(_) => break,
                    }
                }
            }
            let batch = self.take_batch(&mut pending);
            if pending.is_empty() {
                first_seen = None;
            }
            self.deliver(batch).await;
        }
    }

    fn window_secs(&self) -> i64 {
        i64::from(self.mapping.spec.tumbling_window_secs)
    }

    fn window_of(&self, r: &Record) -> i64 {
        let w = self.window_secs().max(1);
        (r.arrival.floor() as i64).div_euclid(w) * w
    }

    fn window_due(&self) -> bool {
        let Some((start, _)) = &self.window else {
            return false;
        };
        let now = self
            .emulator
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        now >= start + self.window_secs()
    }

    /// Whether `pending` already holds a whole batch: the batch size, or records up to
    /// the payload limit.
    fn batch_full(&self, pending: &VecDeque<Record>) -> bool {
        let limit = self.mapping.spec.batch_size as usize;
        if pending.len() >= limit {
            return true;
        }
        let mut size = 0;
        pending.iter().any(|r| {
            size += r.payload_size();
            size > MAX_PAYLOAD
        })
    }

    fn take_batch(&self, pending: &mut VecDeque<Record>) -> Vec<Record> {
        let limit = self.mapping.spec.batch_size as usize;
        let tumbling = self.window_secs() > 0;
        let window = pending.front().map(|r| self.window_of(r));
        let mut batch = Vec::new();
        let mut size = 0;
        while let Some(r) = pending.front() {
            if batch.len() >= limit
                || (!batch.is_empty() && size + r.payload_size() > MAX_PAYLOAD)
                || (tumbling && Some(self.window_of(r)) != window)
            {
                break;
            }
            size += r.payload_size();
            if let Some(r) = pending.pop_front() {
                batch.push(r);
            }
        }
        batch
    }

    async fn deliver(&mut self, batch: Vec<Record>) {
        let spec = self.mapping.spec.clone();
        let mapping = Arc::clone(&self.mapping);
        let counters = &mapping.counters;
        if spec.tumbling_window_secs > 0
            && let Some(first) = batch.first()
        {
            let w = self.window_of(first);
            if self.window.as_ref().is_some_and(|(s, _)| *s != w) {
                self.final_invoke().await;
            }
            if self.window.is_none() {
                self.window = Some((w, json!({})));
            }
        }
        let mut work: VecDeque<(Vec<Record>, u32)> = VecDeque::from([(batch, 0)]);
        let mut invoke_count = 0;
        while let Some((piece, attempts)) = work.pop_front() {
            if self.mapping.is_stopped() {
                return;
            }
            let Some(last) = piece.last().map(|r| r.sequence_number.clone()) else {
                continue;
            };
            let payload = self.event(&piece, false);
            if self.too_old(&piece) {
                self.give_up(&piece, Condition::RecordAgeExceeded, invoke_count, &payload)
                    .await;
                continue;
            }
            invoke_count += 1;
            let verdict = match self.invoke(&payload).await {
                Some(InvokeOutcome::Success(body)) => records::verdict(
                    &body,
                    &piece,
                    spec.report_batch_item_failures,
                    spec.tumbling_window_secs > 0,
                ),
                _ => Verdict::Failed,
            };
            let (failed, retry_attempts) = match verdict {
                Verdict::Success(state) => {
                    if let (Some(state), Some((_, current))) = (state, self.window.as_mut()) {
                        *current = state;
                    }
                    counters
                        .records_succeeded
                        .fetch_add(piece.len() as u64, Ordering::Relaxed);
                    self.mapping.checkpoint(&self.shard_id, self.index, &last);
                    continue;
                }
                Verdict::Partial(i) => {
                    counters.partial_failures.fetch_add(1, Ordering::Relaxed);
                    counters
                        .records_succeeded
                        .fetch_add(i as u64, Ordering::Relaxed);
                    if let Some(ok) = piece.get(i.saturating_sub(1)) {
                        self.mapping
                            .checkpoint(&self.shard_id, self.index, &ok.sequence_number);
                    }
                    (piece[i..].to_vec(), attempts + 1)
                }
                Verdict::Failed => {
                    counters.function_errors.fetch_add(1, Ordering::Relaxed);
                    if spec.bisect_on_error && piece.len() > 1 {
                        counters.bisections.fetch_add(1, Ordering::Relaxed);
                        let mid = piece.len() / 2;
                        work.push_front((piece[mid..].to_vec(), attempts));
                        work.push_front((piece[..mid].to_vec(), attempts));
                        continue;
                    }
                    (piece, attempts + 1)
                }
            };
            let exhausted = spec.maximum_retry_attempts >= 0
                && i64::from(retry_attempts) > spec.maximum_retry_attempts;
            if exhausted {
                self.give_up(
                    &failed,
                    Condition::RetryAttemptsExhausted,
                    invoke_count,
                    &self.event(&failed, false),
                )
                .await;
            } else {
                counters.retries.fetch_add(1, Ordering::Relaxed);
                let factor = 1u32 << retry_attempts.min(4);
                tokio::time::sleep(self.mapping.options.retry_backoff * factor).await;
                work.push_front((failed, retry_attempts));
            }
        }
    }

    fn too_old(&self, piece: &[Record]) -> bool {
        let max_age = self.mapping.spec.maximum_record_age_secs;
        if max_age < 0 {
            return false;
        }
        let now = self
            .emulator
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        piece
            .first()
            .is_some_and(|r| now - r.arrival > max_age as f64)
    }

    fn event(&self, piece: &[Record], is_final: bool) -> Bytes {
        let window = self.window.as_ref().map(|(start, state)| WindowEvent {
            start: *start,
            end: start + self.window_secs(),
            state: state.clone(),
            is_final,
        });
        records::event(
            &self.mapping.context,
            &self.shard_id,
            piece,
            window.as_ref(),
        )
    }

    /// Invokes (waiting for a concurrency slot; throttles and a function that is not
    /// there yet do not count as attempts). `None` only when the mapping stopped.
    async fn invoke(&self, payload: &Bytes) -> Option<InvokeOutcome> {
        let lambda = &self.emulator.lambda;
        let counters = &self.mapping.counters;
        let body = payload.clone();
        if let Some(f) = lambda.function(&self.mapping.function)
            && f.faults().duplicate()
        {
            counters.duplicates_injected.fetch_add(1, Ordering::Relaxed);
            counters.invocations.fetch_add(1, Ordering::Relaxed);
            let _ = lambda
                .invoke(&self.mapping.function, body.clone(), Admission::Wait)
                .await;
        }
        loop {
            if self.mapping.is_stopped() {
                return None;
            }
            match lambda
                .invoke(&self.mapping.function, body.clone(), Admission::Wait)
                .await
            {
                Ok(outcome) => {
                    counters.invocations.fetch_add(1, Ordering::Relaxed);
                    return Some(outcome);
                }
                Err(e) => {
                    tracing::debug!(function = %self.mapping.function, error = %e, "cannot invoke yet");
                    tokio::time::sleep(self.mapping.options.idle_poll).await;
                }
            }
        }
    }

    /// The window's last invocation: no records, `isFinalInvokeForWindow: true`;
    /// retried until it succeeds (a failed final invoke blocks the shard, as on AWS).
    async fn final_invoke(&mut self) {
        if self.window.is_none() {
            return;
        }
        let mut attempts = 0u32;
        loop {
            let payload = self.event(&[], true);
            match self.invoke(&payload).await {
                None => return,
                Some(InvokeOutcome::Success(body))
                    if records::verdict(&body, &[], false, true) != Verdict::Failed =>
                {
                    self.window = None;
                    return;
                }
                Some(_) => {
                    self.mapping
                        .counters
                        .function_errors
                        .fetch_add(1, Ordering::Relaxed);
                    attempts += 1;
                    let exhausted = self.mapping.spec.maximum_retry_attempts >= 0
                        && i64::from(attempts) > self.mapping.spec.maximum_retry_attempts;
                    if exhausted {
                        self.window = None;
                        return;
                    }
                    tokio::time::sleep(self.mapping.options.retry_backoff).await;
                }
            }
        }
    }

    async fn give_up(
        &self,
        piece: &[Record],
        condition: Condition,
        invoke_count: u32,
        payload: &Bytes,
    ) {
        let counters = &self.mapping.counters;
        counters
            .records_discarded
            .fetch_add(piece.len() as u64, Ordering::Relaxed);
        if let Some(OnFailure::S3Bucket(bucket)) = &self.mapping.spec.on_failure {
            let failure = Failure {
                mapping_uuid: &self.mapping.uuid,
                function_arn: &self.mapping.function_arn,
                stream_arn: &self.mapping.spec.stream_arn,
                shard_id: &self.shard_id,
                records: piece,
                condition,
                invoke_count,
                // The payload is `serde_json` output: UTF-8.
                payload: std::str::from_utf8(payload).unwrap_or_default(),
            };
            match destination::write_to_s3(&self.emulator, bucket, &failure).await {
                Ok(key) => {
                    counters.on_failure_sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%bucket, %key, "batch sent to the OnFailure destination");
                }
                Err(e) => {
                    counters.on_failure_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%bucket, error = %e, "cannot write the OnFailure record");
                }
            }
        }
        if let Some(last) = piece.last() {
            self.mapping
                .checkpoint(&self.shard_id, self.index, &last.sequence_number);
        }
    }
}

fn absorb(msg: SlotMessage, pending: &mut VecDeque<Record>, ended: &mut bool) {
    match msg {
        SlotMessage::Records(r) => pending.extend(r),
        SlotMessage::Idle => {}
        SlotMessage::End => *ended = true,
    }
}
