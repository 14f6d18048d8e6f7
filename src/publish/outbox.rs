//! The outbox of unpublished batches, and every change to it as one named operation.
//!
//! A batch is queued ([`Outbox::push`]), taken for an attempt ([`Outbox::take_ready`]), and
//! then either [`succeeded`](Outbox::succeeded), scheduled again
//! ([`retry_later`](Outbox::retry_later)), bisected ([`split`](Outbox::split)) or
//! [`dropped`](Outbox::dropped); [`expire`](Outbox::expire) drops datums CloudWatch would no
//! longer take before an attempt. Whenever datums leave, the operation counts them in
//! [`Telemetry`], releases their [`Budget`] slots and settles the [`FlushTracker`]s that
//! follow them, in that order (so a flush that returns sees the counters already moved),
//! and nothing else touches that accounting.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::domain::limits::MAX_AGE_MS;
use crate::pipeline::budget::Budget;
use crate::publish::batch::Batch;
use crate::publish::tracker::{FlushTracker, Settled};
use crate::telemetry::Telemetry;
use crate::telemetry::reasons::DropReason;

/// CloudWatch rejects datums older than two weeks; give up a little before that.
pub const MAX_DATUM_AGE_MS: i64 = MAX_AGE_MS - 10 * 60 * 1000;

struct Entry {
    /// `None` while an attempt has it.
    batch: Option<Batch>,
    len: usize,
    /// Failed attempts so far.
    failures: u32,
    trackers: Vec<Arc<FlushTracker>>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    /// Entries waiting for their next attempt, soonest first, by the clock's `elapsed`.
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
}

impl Inner {
    fn insert(&mut self, batch: Batch, trackers: Vec<Arc<FlushTracker>>, at: Duration) {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert(id, Entry { len: batch.len(), batch: Some(batch), failures: 0, trackers });
        self.queue.push(Reverse((at, id)));
    }

    fn requeue(&mut self, attempt: Attempt, at: Duration) {
        let entry = self.entries.get_mut(&attempt.id).expect("an attempt's entry stays until it is settled");
        entry.batch = Some(attempt.batch);
        entry.failures = attempt.failures;
        self.queue.push(Reverse((at, attempt.id)));
    }
}

/// A batch taken out of the outbox for one PutMetricData attempt. It goes back through
/// exactly one of the outbox's operations.
#[derive(Debug)]
#[must_use = "an attempt must be settled, retried, split or dropped"]
pub struct Attempt {
    id: u64,
    batch: Batch,
    failures: u32,
}

impl Attempt {
    /// What to send. Read-only: only the outbox's operations change what an entry holds.
    pub fn batch(&self) -> &Batch {
        &self.batch
    }

    /// Attempts of this batch that failed before this one.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

pub enum Next {
    Ready(Attempt),
    /// Nothing is due before this point of the clock's `elapsed`.
    WaitUntil(Duration),
    Empty,
}

/// Unpublished batches, each waiting for its next attempt or in one.
pub struct Outbox {
    inner: Mutex<Inner>,
    wake: Notify,
    budget: Arc<Budget>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
}

impl Outbox {
    pub fn new(budget: Arc<Budget>, telemetry: Arc<Telemetry>, clock: SharedClock) -> Outbox {
        Outbox { inner: Mutex::default(), wake: Notify::new(), budget, telemetry, clock }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves when something may have become ready sooner than the publisher expected.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    /// Queues batches for publishing now, followed by `tracker` if given.
    pub fn push(&self, batches: Vec<Batch>, tracker: Option<&Arc<FlushTracker>>) {
        let now = self.clock.elapsed();
        let mut inner = self.lock();
        for batch in batches.into_iter().filter(|b| !b.is_empty()) {
            if let Some(t) = tracker {
                t.add(batch.len());
            }
            inner.insert(batch, tracker.into_iter().cloned().collect(), now);
        }
        drop(inner);
        self.wake.notify_one();
    }

    /// Makes `tracker` follow everything already in the outbox.
    pub fn track_all(&self, tracker: &Arc<FlushTracker>) {
        let mut inner = self.lock();
        for entry in inner.entries.values_mut() {
            tracker.add(entry.len);
            entry.trackers.push(tracker.clone());
        }
    }

    /// Unpublished datums per namespace and metric name, for the shutdown report. Batches
    /// in an attempt are not counted.
    pub fn unpublished_by_metric(&self) -> BTreeMap<(String, String), usize> {
        let inner = self.lock();
        let mut out = BTreeMap::new();
        for batch in inner.entries.values().filter_map(|e| e.batch.as_ref()) {
            for d in &batch.metric_data {
                *out.entry((batch.namespace.to_string(), d.metric_name.clone())).or_default() += 1;
            }
        }
        out
    }

    /// The next batch whose time has come, taken out for an attempt.
    pub fn take_ready(&self) -> Next {
        let now = self.clock.elapsed();
        let mut inner = self.lock();
        let Some(Reverse((at, id))) = inner.queue.peek().copied() else {
            return Next::Empty;
        };
        if at > now {
            return Next::WaitUntil(at);
        }
        inner.queue.pop();
        let entry = inner.entries.get_mut(&id).expect("queued entries exist");
        let batch = entry.batch.take().expect("queued entries hold their batch");
        Next::Ready(Attempt { id, batch, failures: entry.failures })
    }

    /// Puts an attempt back as it was, ready now and not counted as a failure (the
    /// publisher stopped before making the call).
    pub fn put_back(&self, attempt: Attempt) {
        let now = self.clock.elapsed();
        self.lock().requeue(attempt, now);
        self.wake.notify_one();
    }

    /// CloudWatch accepted the whole batch.
    pub fn succeeded(&self, attempt: Attempt) {
        let n = attempt.batch.len();
        self.telemetry.datums_published(n);
        self.settle(attempt.id, n, Settled::Published, None);
    }

    /// The attempt failed: one more failure, and the batch is due again after `delay`.
    pub fn retry_later(&self, mut attempt: Attempt, delay: Duration) {
        attempt.failures += 1;
        let at = self.clock.elapsed().saturating_add(delay);
        self.lock().requeue(attempt, at);
        self.wake.notify_one();
    }

    /// Bisects the batch into two halves, both due now with no failures counted.
    pub fn split(&self, attempt: Attempt) {
        debug_assert!(attempt.batch.len() > 1, "a single datum cannot be split");
        let now = self.clock.elapsed();
        let mut inner = self.lock();
        let entry = inner.entries.remove(&attempt.id).expect("an attempt's entry stays until it is settled");
        let (a, b) = attempt.batch.split();
        inner.insert(a, entry.trackers.clone(), now);
        inner.insert(b, entry.trackers, now);
        drop(inner);
        self.wake.notify_one();
    }

    /// Gives up on every datum of the attempt, for `reason`.
    pub fn dropped(&self, attempt: Attempt, reason: DropReason) {
        let n = attempt.batch.len();
        self.telemetry.datums_dropped(reason, n);
        self.settle(attempt.id, n, settled_as(reason), None);
    }

    /// Drops the datums CloudWatch would no longer take (older than [`MAX_DATUM_AGE_MS`] by
    /// the clock's wall time); `None` when none are left.
    pub fn expire(&self, mut attempt: Attempt) -> Option<Attempt> {
        let oldest_allowed = self.clock.now_ms() - MAX_DATUM_AGE_MS;
        let before = attempt.batch.len();
        attempt.batch.metric_data.retain(|d| d.timestamp >= oldest_allowed);
        let expired = before - attempt.batch.len();
        if expired == 0 {
            return Some(attempt);
        }
        tracing::error!(
            namespace = %attempt.batch.namespace, expired,
            "dropping datums older than CloudWatch's 14-day window"
        );
        self.telemetry.datums_dropped(DropReason::Expired, expired);
        let left = attempt.batch.len();
        self.settle(attempt.id, expired, Settled::Expired, (left > 0).then_some(left));
        (left > 0).then_some(attempt)
    }

    /// `n` datums of entry `id` are done with. With `left`, the entry stays with that many
    /// datums to publish; without, it is gone. Length and followers change under one lock,
    /// so a tracker added meanwhile by [`Outbox::track_all`] is counted exactly once.
    fn settle(&self, id: u64, n: usize, how: Settled, left: Option<usize>) {
        let mut inner = self.lock();
        let trackers = match left {
            Some(len) => {
                let entry = inner.entries.get_mut(&id).expect("an attempt's entry exists");
                entry.len = len;
                entry.trackers.clone()
            }
            None => inner.entries.remove(&id).expect("an attempt's entry exists").trackers,
        };
        drop(inner);
        self.budget.release(n);
        for t in trackers {
            t.settle(n, how);
        }
    }

    /// Batches queued or in an attempt.
    #[cfg(test)]
    pub(crate) fn batch_count(&self) -> usize {
        self.lock().entries.len()
    }
}

fn settled_as(reason: DropReason) -> Settled {
    match reason {
        DropReason::Invalid | DropReason::TooLarge => Settled::Rejected,
        DropReason::Expired => Settled::Expired,
    }
}
