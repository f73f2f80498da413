//! A fault-injecting `StateStore` wrapper: the oracle test's seam for crashes between
//! individual key commits, throttling, and lost responses (a write that happened but
//! whose answer never arrived, as when an invocation times out).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use shardwise::deadletter::DeadLetter;
use shardwise::{CommitResult, Error, KeyCommit, StateStore, StoredState};

/// Fault rates and the per-invocation crash plan.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    rng: Mutex<SmallRng>,
    /// Probability that a call is throttled before it reaches the store.
    pub throttle_rate: f64,
    /// Probability that a commit is written but reported as failed.
    pub lost_response_rate: f64,
    crash_after: Mutex<Option<usize>>,
    commits: AtomicUsize,
    crashed: AtomicBool,
    /// Crashes injected so far.
    pub crashes: AtomicUsize,
    /// Throttles injected so far.
    pub throttles: AtomicUsize,
    /// Lost responses injected so far.
    pub lost: AtomicUsize,
}

impl<S: StateStore> FaultyStore<S> {
    pub fn new(inner: S, seed: u64, throttle_rate: f64, lost_response_rate: f64) -> Self {
        Self {
            inner,
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
            throttle_rate,
            lost_response_rate,
            crash_after: Mutex::new(None),
            commits: AtomicUsize::new(0),
            crashed: AtomicBool::new(false),
            crashes: AtomicUsize::new(0),
            throttles: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
        }
    }

    /// Arms a crash of the next invocation after `after` key commits (`None`: no crash).
    pub fn arm(&self, after: Option<usize>) {
        *self.crash_after.lock().unwrap() = after;
        self.commits.store(0, Ordering::SeqCst);
        self.crashed.store(false, Ordering::SeqCst);
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Whether the armed crash happened (the invocation "died": its report is void).
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    fn roll(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().unwrap().random_bool(p)
    }

    fn dead(&self) -> Result<(), Error> {
        if self.crashed() {
            return Err(Error::Transient("process crashed".into()));
        }
        Ok(())
    }

    fn throttle(&self) -> Result<(), Error> {
        if self.roll(self.throttle_rate) {
            self.throttles.fetch_add(1, Ordering::Relaxed);
            return Err(Error::Throttled(
                "injected ProvisionedThroughputExceededException".into(),
            ));
        }
        Ok(())
    }
}

impl<S: StateStore> StateStore for FaultyStore<S> {
    async fn get_many(
        &self,
        keys: &[String],
        consistent: bool,
    ) -> Result<HashMap<String, StoredState>, Error> {
        self.dead()?;
        self.throttle()?;
        self.inner.get_many(keys, consistent).await
    }

    async fn commit(&self, commit: &KeyCommit) -> Result<CommitResult, Error> {
        self.dead()?;
        self.throttle()?;
        {
            // The crash point: once `after` commits went through, the process is gone and
            // no later write of this invocation reaches the store.
            let plan = *self.crash_after.lock().unwrap();
            if plan.is_some_and(|after| self.commits.load(Ordering::SeqCst) >= after) {
                if !self.crashed.swap(true, Ordering::SeqCst) {
                    self.crashes.fetch_add(1, Ordering::Relaxed);
                }
                return Err(Error::Transient("process crashed".into()));
            }
        }
        let result = self.inner.commit(commit).await?;
        self.commits.fetch_add(1, Ordering::SeqCst);
        if result == CommitResult::Committed && self.roll(self.lost_response_rate) {
            self.lost.fetch_add(1, Ordering::Relaxed);
            // Alternate between the two ways a lost answer surfaces.
            return Err(if self.roll(0.5) {
                Error::Throttled("response lost after the write".into())
            } else {
                Error::Transient("response lost after the write".into())
            });
        }
        Ok(result)
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> Result<(), Error> {
        self.dead()?;
        self.throttle()?;
        self.inner.dead_letter(letter).await
    }
}
