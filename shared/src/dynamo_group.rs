//! Commit grouping: several keys' commits in one `TransactWriteItems`.
//!
//! Per key, the exactly-once commit is one conditional write. With keys spread over
//! 100,000 accounts a batch touches almost one key per record, so the request count, not
//! DynamoDB, bounds throughput: every request costs the SDK client signing, HTTP and
//! (de)serialization (≈ 150 µs of CPU each on the 2-core benchmark machine). Grouping
//! packs the commits that a batch issues concurrently into transactions of up to
//! `max_actions` actions (AWS allows 100 per transaction and 4 MB), cutting requests per
//! event by up to that factor.
//!
//! Semantics are unchanged per key: each commit keeps its own conditions, and a
//! transaction is all-or-nothing. When one is cancelled, `CancellationReasons` (one per
//! action, in order) say which commit failed its condition: that commit gets
//! [`CommitResult::Conflict`] (the processor re-reads and re-applies the key, as
//! always), and the innocent commits of the group are sent again without it.
//!
//! Cost: AWS bills a transactional write at twice the write request units of a plain one
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling>).
//! A commit with outputs or timer changes is a transaction anyway, so grouping it costs
//! nothing: [`GroupScope::Transactions`], the default scope, groups only those. A
//! single-item commit is a plain conditional write at 1× WRU; [`GroupScope::All`] groups
//! those too, trading twice their WRU (cost) for fewer requests (throughput, CPU).
//! Grouping is off unless `SHARDWISE_COMMIT_GROUP` sets the group size
//! (`SHARDWISE_COMMIT_GROUP_SCOPE`: `transactions` or `all`); `infra/template.yaml` turns it
//! on in its default scope for the stream functions. The timer-dispatcher does not group:
//! one key's timers firing together conflict, and a conflict cancels the whole group.
//!
//! Mechanics: [`DynamoStateStore::commit`](crate::DynamoStateStore) hands a commit whose
//! actions all fit in one transaction to the [`Grouper`]'s queue and awaits its answer. A
//! worker task takes everything queued (the processor issues a batch's key commits
//! concurrently, so they arrive together), packs them first-fit into groups that respect
//! the action and size limits and never touch one item twice (a transaction may not),
//! and sends up to [`GROUPS_IN_FLIGHT`] groups at once.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::dynamo_item::{ATTR_PK, ATTR_SK};
use crate::error::Error;
use crate::retry::backoff;
use crate::store::CommitResult;

/// AWS's action limit per transaction.
pub const MAX_ACTIONS: usize = 100;
/// AWS's 4 MB request limit, with room for attribute names and framing.
const MAX_GROUP_BYTES: usize = 3_500_000;
/// Transactions in flight at once.
pub const GROUPS_IN_FLIGHT: usize = 8;
/// Times an innocent commit is re-sent after its group was cancelled by others.
const RESEND_ATTEMPTS: u32 = 8;

/// Which commits go into groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupScope {
    /// Only commits that are transactions anyway (state plus outputs or timer changes):
    /// grouping them changes no write units.
    #[default]
    Transactions,
    /// Every commit: single-item ones too, at twice their write units.
    All,
}

impl GroupScope {
    /// Parses `transactions` or `all` (the `SHARDWISE_COMMIT_GROUP_SCOPE` values).
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text.trim() {
            "transactions" => Ok(Self::Transactions),
            "all" => Ok(Self::All),
            other => Err(Error::Config(format!(
                "commit group scope must be `transactions` or `all`, not `{other}`"
            ))),
        }
    }
}

/// One key's actions waiting for a group.
struct Job {
    actions: Vec<TransactWriteItem>,
    items: Vec<String>,
    bytes: usize,
    reply: oneshot::Sender<Result<CommitResult, Error>>,
}

/// Queues commits and sends them in groups.
#[derive(Debug)]
pub struct Grouper {
    client: Client,
    max_actions: usize,
    queue: OnceLock<mpsc::UnboundedSender<Job>>,
    transactions: Arc<std::sync::atomic::AtomicU64>,
}

impl Grouper {
    /// A grouper sending up to `max_actions` actions per transaction (clamped to 2..=100).
    pub fn new(
        client: Client,
        max_actions: usize,
        transactions: Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        Self {
            client,
            max_actions: max_actions.clamp(2, MAX_ACTIONS),
            queue: OnceLock::new(),
            transactions,
        }
    }

    /// The most actions a grouped commit may have.
    pub fn max_actions(&self) -> usize {
        self.max_actions
    }

    /// Commits `actions` (one key's, all conditions included) as part of a group.
    /// `bytes` estimates their size.
    pub async fn commit(
        &self,
        actions: Vec<TransactWriteItem>,
        bytes: usize,
    ) -> Result<CommitResult, Error> {
        let (reply, answer) = oneshot::channel();
        let items = actions.iter().map(item_identity).collect();
        let job = Job {
            actions,
            items,
            bytes,
            reply,
        };
        self.queue()
            .send(job)
            .map_err(|_| Error::Transient("commit grouper stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Transient("commit grouper dropped a commit".into()))?
    }

    fn queue(&self) -> &mpsc::UnboundedSender<Job> {
        self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker(
                rx,
                self.client.clone(),
                self.max_actions,
                Arc::clone(&self.transactions),
            ));
            tx
        })
    }
}

/// Takes what is queued, packs it into groups and sends them. Ends when the store (the
/// only sender) is dropped.
async fn worker(
    mut rx: mpsc::UnboundedReceiver<Job>,
    client: Client,
    max_actions: usize,
    transactions: Arc<std::sync::atomic::AtomicU64>,
) {
    let in_flight = Arc::new(Semaphore::new(GROUPS_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Let the batch's other key commits, polled in the same task, reach the queue.
        tokio::task::yield_now().await;
        let mut pending = vec![first];
        while let Ok(job) = rx.try_recv() {
            pending.push(job);
        }
        for group in pack(pending, max_actions) {
            let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
                return;
            };
            let client = client.clone();
            let transactions = Arc::clone(&transactions);
            tokio::spawn(async move {
                send_group(&client, group, &transactions).await;
                drop(permit);
            });
        }
    }
}

/// First-fit packing under the action, size and one-action-per-item limits.
fn pack(jobs: Vec<Job>, max_actions: usize) -> Vec<Vec<Job>> {
    struct Open {
        jobs: Vec<Job>,
        actions: usize,
        bytes: usize,
        items: HashSet<String>,
    }
    let mut groups: Vec<Open> = Vec::new();
    for job in jobs {
        let fits = |g: &Open| {
            g.actions + job.actions.len() <= max_actions
                && g.bytes + job.bytes <= MAX_GROUP_BYTES
                && job.items.iter().all(|i| !g.items.contains(i))
        };
        let slot = match groups.iter().position(fits) {
            Some(i) => i,
            None => {
                groups.push(Open {
                    jobs: Vec::new(),
                    actions: 0,
                    bytes: 0,
                    items: HashSet::new(),
                });
                groups.len() - 1
            }
        };
        if let Some(g) = groups.get_mut(slot) {
            g.actions += job.actions.len();
            g.bytes += job.bytes;
            g.items.extend(job.items.iter().cloned());
            g.jobs.push(job);
        }
    }
    groups.into_iter().map(|g| g.jobs).collect()
}

/// Sends one group until every job has its answer.
async fn send_group(
    client: &Client,
    mut jobs: Vec<Job>,
    transactions: &std::sync::atomic::AtomicU64,
) {
    for attempt in 0..=RESEND_ATTEMPTS {
        if jobs.is_empty() {
            return;
        }
        if attempt > 0 {
            tokio::time::sleep(backoff(attempt - 1)).await;
        }
        let actions: Vec<TransactWriteItem> = jobs
            .iter()
            .flat_map(|j| j.actions.iter().cloned())
            .collect();
        transactions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await;
        let reasons: Vec<Option<String>> = match result {
            Ok(_) => {
                for job in jobs.drain(..) {
                    let _ = job.reply.send(Ok(CommitResult::Committed));
                }
                return;
            }
            Err(SdkError::ServiceError(service)) => match service.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().map(str::to_owned))
                    .collect(),
                other => {
                    let err = crate::dynamo_store::classify_code(other.code(), &other.to_string());
                    return fail_all(jobs, &err);
                }
            },
            Err(other) => return fail_all(jobs, &crate::dynamo_store::classify(other)),
        };
        // One reason per action, in order: find each job's slice.
        let mut offset = 0;
        let mut innocent = Vec::new();
        for job in jobs.drain(..) {
            let n = job.actions.len();
            let own = reasons.get(offset..offset + n).unwrap_or_default();
            offset += n;
            if own
                .iter()
                .any(|r| r.as_deref() == Some("ConditionalCheckFailed"))
            {
                let _ = job.reply.send(Ok(CommitResult::Conflict));
            } else if own.iter().any(|r| {
                r.as_deref()
                    .is_some_and(|c| c != "None" && !retryable_reason(c))
            }) {
                let code = own.iter().flatten().find(|c| *c != "None");
                let _ = job.reply.send(Err(Error::Service(format!(
                    "transaction cancelled: {code:?}"
                ))));
            } else {
                innocent.push(job);
            }
        }
        jobs = innocent;
    }
    fail_all(
        jobs,
        &Error::Transient("grouped transaction kept being cancelled".into()),
    );
}

/// Cancellation reasons that a resend can get past.
fn retryable_reason(code: &str) -> bool {
    code == "TransactionConflict" || code.contains("Throttl") || code.contains("Throughput")
}

fn fail_all(jobs: Vec<Job>, err: &Error) {
    for job in jobs {
        let copy = match err {
            Error::Throttled(m) => Error::Throttled(m.clone()),
            Error::Transient(m) => Error::Transient(m.clone()),
            other => Error::Service(other.to_string()),
        };
        let _ = job.reply.send(Err(copy));
    }
}

/// `table/pk/sk` of the item an action touches (every Shardwise table is keyed pk + sk).
fn item_identity(action: &TransactWriteItem) -> String {
    let key_of = |key: Option<&std::collections::HashMap<String, AttributeValue>>| {
        let s = |name: &str| {
            key.and_then(|k| k.get(name))
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        (s(ATTR_PK), s(ATTR_SK))
    };
    let (table, (pk, sk)) = if let Some(u) = action.update() {
        (u.table_name(), key_of(Some(u.key())))
    } else if let Some(p) = action.put() {
        (p.table_name(), key_of(Some(p.item())))
    } else if let Some(d) = action.delete() {
        (d.table_name(), key_of(Some(d.key())))
    } else if let Some(c) = action.condition_check() {
        (c.table_name(), key_of(Some(c.key())))
    } else {
        ("", (String::new(), String::new()))
    };
    format!("{table}\u{1}{pk}\u{1}{sk}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::Put;

    fn put(table: &str, pk: &str) -> TransactWriteItem {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(table)
                    .item(ATTR_PK, AttributeValue::S(pk.into()))
                    .item(ATTR_SK, AttributeValue::S("s".into()))
                    .build()
                    .unwrap(),
            )
            .build()
    }

    fn job(actions: Vec<TransactWriteItem>, bytes: usize) -> Job {
        let items = actions.iter().map(item_identity).collect();
        Job {
            actions,
            items,
            bytes,
            reply: oneshot::channel().0,
        }
    }

    #[test]
    fn packing_respects_the_action_limit_the_size_limit_and_one_action_per_item() {
        let jobs = vec![
            job(vec![put("t", "a"), put("o", "x")], 10),
            job(vec![put("t", "b"), put("o", "x")], 10), // same output item as the first
            job(vec![put("t", "c")], 10),
            job(vec![put("t", "d")], MAX_GROUP_BYTES), // too big to share
            job(vec![put("t", "e"), put("t", "f")], 10),
        ];
        let groups = pack(jobs, 4);
        let shape: Vec<Vec<usize>> = groups
            .iter()
            .map(|g| g.iter().map(|j| j.actions.len()).collect())
            .collect();
        // [a x, c] (3 actions), [b x, e f] (4), [d] (alone by size)
        assert_eq!(shape, vec![vec![2, 1], vec![2, 2], vec![1]]);
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 5);
    }
}
