//! The retry policy against a scripted stream: only failed entries are resent, in order,
//! and every account's records are stored in order and exactly once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use load_generator::put::{
    CallError, EntryOutcome, PutError, PutRecordsApi, RetryPolicy, put_batch,
};
use load_generator::{SendOptions, send_records};
use monitoring::generator::{GeneratorConfig, Record, RecordKind, generate};

const THROTTLED: &str = "ProvisionedThroughputExceededException";

/// A stream that fails the entries a script names, then stores the rest.
#[derive(Default)]
struct Scripted {
    /// Per call number: indices (within that call) to fail. Missing = all succeed.
    script: HashMap<usize, Vec<usize>>,
    /// Fail every n-th entry overall (0 = never), for the lane test.
    every: usize,
    calls: Mutex<Vec<Vec<String>>>,
    stored: Mutex<Vec<Record>>,
    seen: Mutex<usize>,
}

impl PutRecordsApi for Scripted {
    async fn put_records(
        &self,
        _: &str,
        records: &[Record],
    ) -> Result<Vec<EntryOutcome>, CallError> {
        let call = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(
                records
                    .iter()
                    .map(|r| String::from_utf8(r.data.clone()).unwrap())
                    .collect(),
            );
            calls.len() - 1
        };
        let fail = self.script.get(&call).cloned().unwrap_or_default();
        let mut out = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let n = {
                let mut seen = self.seen.lock().unwrap();
                *seen += 1;
                *seen
            };
            if fail.contains(&i) || (self.every > 0 && n % self.every == 0) {
                out.push(EntryOutcome::Failed(THROTTLED.to_owned()));
            } else {
                self.stored.lock().unwrap().push(r.clone());
                out.push(EntryOutcome::Ok);
            }
        }
        Ok(out)
    }
}

fn rec(key: &str, data: &str) -> Record {
    Record {
        partition_key: key.to_owned(),
        data: data.as_bytes().to_vec(),
        kind: RecordKind::Valid,
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base: Duration::from_millis(1),
        max: Duration::from_millis(4),
    }
}

#[tokio::test]
async fn only_failed_entries_are_resent_in_their_original_order() {
    let api = Scripted {
        script: HashMap::from([(0, vec![1, 3]), (1, vec![0])]),
        ..Scripted::default()
    };
    let batch = vec![
        rec("a", "r0"),
        rec("b", "r1"),
        rec("c", "r2"),
        rec("d", "r3"),
        rec("e", "r4"),
    ];
    let stats = put_batch(&api, "s", batch, fast()).await.unwrap();
    let calls = api.calls.lock().unwrap().clone();
    assert_eq!(calls[0], ["r0", "r1", "r2", "r3", "r4"]);
    assert_eq!(calls[1], ["r1", "r3"]);
    assert_eq!(calls[2], ["r1"]);
    assert_eq!(calls.len(), 3);
    assert_eq!(stats.calls, 3);
    assert_eq!(stats.retried_entries, 3);
    assert_eq!(stats.throttled_entries, 3);
    let stored: Vec<_> = api
        .stored
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.data.clone())
        .collect();
    assert_eq!(stored.len(), 5);
}

#[tokio::test]
async fn a_batch_that_keeps_failing_gives_up_after_the_attempt_limit() {
    let api = Scripted {
        every: 1,
        ..Scripted::default()
    };
    let err = put_batch(&api, "s", vec![rec("a", "r0")], fast())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        PutError::Exhausted {
            left: 1,
            attempts: 10,
            last: THROTTLED.to_owned()
        }
    );
}

#[tokio::test]
async fn lanes_store_every_record_once_and_keep_each_accounts_order_under_throttling() {
    let g = generate(&GeneratorConfig {
        seed: 11,
        transactions: 5_000,
        ..GeneratorConfig::default()
    })
    .unwrap();
    let api = Arc::new(Scripted {
        every: 7,
        ..Scripted::default()
    });
    let options = SendOptions {
        lanes: 3,
        rate: None,
        retry: fast(),
    };
    let report = send_records(Arc::clone(&api), "s", g.records(), options)
        .await
        .unwrap();
    assert_eq!(report.records, g.len() as u64);
    assert!(report.retried_entries > 0);
    let stored = api.stored.lock().unwrap().clone();
    assert_eq!(stored.len(), g.len());
    let mut per_key_sent: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for r in g.records() {
        per_key_sent
            .entry(r.partition_key)
            .or_default()
            .push(r.data);
    }
    let mut per_key_stored: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for r in stored {
        per_key_stored
            .entry(r.partition_key)
            .or_default()
            .push(r.data);
    }
    assert_eq!(per_key_stored, per_key_sent);
}
