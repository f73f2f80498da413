//! One Kinesis batch through the three daily-totals processors, and the Lambda wiring.
//!
//! Each transaction updates a merchant key, a product key and its day's sample key, so
//! the handler runs one [`Processor`] per [`Dimension`] over the same batch, concurrently
//! (only the configured dimensions: `DAILY_TOTALS_DIMENSIONS`, all three by default).
//! Each processor commits exactly once per key (its own high-water marks), so when one of
//! them fails part of the batch, the response names the EARLIEST first-failure of them: Lambda re-delivers from there, and the processors that had already committed
//! those records skip them by their high-water marks. Poison records are dead-lettered
//! by each processor under the same deterministic id (`daily-totals#shard#sequence`), so
//! each exists once.

use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::{LambdaEvent, service_fn};
use shardwise::{
    BatchReport, Clock, Error, KinesisBatch, ProcessingConfig, Processor, RetryClass,
    SequenceNumber, ShardDirectory, StateStore,
};

use crate::gate::FirstSeenGate;
use crate::operator::{DailyTotals, DailyTotalsConfig};
use crate::txn::TxnCodec;

/// The processors of daily-totals, one per configured dimension, behind the first-seen
/// gate when there is one (its store is `G`).
#[derive(Debug)]
pub struct DailyTotalsHandler<S, G = S> {
    processors: Vec<Processor<DailyTotals, S, TxnCodec>>,
    gate: Option<FirstSeenGate<G>>,
    /// The codec the processors and the gate share (one memo: a record is validated once
    /// per batch).
    codec: TxnCodec,
}

impl<S: StateStore> DailyTotalsHandler<S> {
    /// Processors over `store` for every dimension in `config.dimensions`.
    pub fn new(
        store: Arc<S>,
        processing: &ProcessingConfig,
        config: DailyTotalsConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let codec = TxnCodec::new(Arc::clone(&clock));
        let processors = config
            .dimensions
            .iter()
            .map(|dimension| {
                Processor::new(
                    Arc::new(DailyTotals::new(dimension, config)),
                    Arc::clone(&store),
                    codec.clone(),
                    processing.clone(),
                    Arc::clone(&clock),
                )
            })
            .collect();
        Self {
            processors,
            gate: None,
            codec,
        }
    }
}

impl<S: StateStore, G: StateStore> DailyTotalsHandler<S, G> {
    /// Drops re-sent transactions with a first-seen gate keeping its memory in `store`
    /// before the processors see a batch ([`crate::gate`]; the processors' config should
    /// then say [`crate::Dedupe::Account`]).
    pub fn with_gate<H: StateStore>(self, store: Arc<H>) -> DailyTotalsHandler<S, H> {
        DailyTotalsHandler {
            processors: self.processors,
            gate: Some(FirstSeenGate::new(store, self.codec.clone())),
            codec: self.codec,
        }
    }

    /// Gives every processor the source stream's shard directory, as
    /// `shardwise::run_kinesis_with` does for single-processor functions: shards that have
    /// not delivered a batch yet then hold the operator watermark back (without it, the
    /// first shard to commit sets the watermark alone, and another shard's first records
    /// could be judged late against it and never counted), and retired shards'
    /// high-water marks are pruned after resharding (`shardwise::shards`).
    #[must_use]
    pub fn with_shard_directory(self, shards: Arc<dyn ShardDirectory>) -> Self {
        let processors = self
            .processors
            .into_iter()
            .map(|p| p.with_shard_directory(Arc::clone(&shards)))
            .collect();
        let gate = self.gate.map(|g| g.with_shard_directory(shards));
        Self {
            processors,
            gate,
            codec: self.codec,
        }
    }

    /// Processes one batch with every processor; the report's first failure is the
    /// earliest of theirs, its metrics their sum.
    pub async fn process(&self, event: &KinesisEvent) -> Result<BatchReport, Error> {
        if self.processors.is_empty() {
            return Err(Error::Config("daily-totals needs a dimension".into()));
        }
        self.codec.forget();
        let report = self.process_batch(event).await;
        self.codec.forget();
        report
    }

    async fn process_batch(&self, event: &KinesisEvent) -> Result<BatchReport, Error> {
        let admitted;
        let event = match &self.gate {
            None => event,
            Some(gate) => match gate.admit(event).await {
                Ok(a) => {
                    if a.resends > 0 {
                        tracing::info!(resends = a.resends, "re-sent transactions dropped");
                    }
                    admitted = a.event;
                    admitted.as_ref().unwrap_or(event)
                }
                Err(e) if e.class() == RetryClass::Fatal => return Err(e),
                // Nothing was decided durably: the whole batch comes again.
                Err(e) => {
                    tracing::warn!(error = %e, "first-seen gate failed; batch will be re-delivered");
                    return Ok(BatchReport {
                        first_failure: first_sequence(event),
                        metrics: shardwise::metrics::BatchMetrics::default(),
                    });
                }
            },
        };
        let reports = futures::future::join_all(self.processors.iter().map(|p| p.process(event)))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let first_failure = reports.iter().filter_map(|r| r.first_failure.clone()).min();
        let mut metrics = shardwise::metrics::BatchMetrics::default();
        reports.iter().for_each(|r| metrics.absorb(&r.metrics));
        Ok(BatchReport {
            first_failure,
            metrics,
        })
    }
}

/// The sequence number of `event`'s first record.
fn first_sequence(event: &KinesisEvent) -> Option<SequenceNumber> {
    event
        .records
        .first()
        .and_then(|r| SequenceNumber::parse(&r.kinesis.sequence_number).ok())
}

/// Runs daily-totals as a Kinesis-triggered Lambda function.
pub async fn run<S: StateStore, G: StateStore>(
    handler: DailyTotalsHandler<S, G>,
    clock: Arc<dyn Clock>,
) -> Result<(), lambda_runtime::Error> {
    let handler = Arc::new(handler);
    Box::pin(lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KinesisBatch>| {
            let handler = Arc::clone(&handler);
            let clock = Arc::clone(&clock);
            Box::pin(async move {
                let payload = event.payload.into_inner();
                let report = handler.process(&payload).await?;
                let shard = shardwise::batch::shard_of(&payload)
                    .map(|s| s.0)
                    .unwrap_or_default();
                // EMF lines go to stdout, where CloudWatch Logs picks them up.
                println!(
                    "{}",
                    report
                        .metrics
                        .emf_line(crate::OPERATOR_NAME, &shard, clock.now().0)
                );
                tracing::info!(
                    records = payload.records.len(),
                    failed_from = ?report.first_failure.as_ref().map(ToString::to_string),
                    "batch done"
                );
                Ok::<KinesisEventResponse, Error>(report.response())
            })
        },
    )))
    .await
}
