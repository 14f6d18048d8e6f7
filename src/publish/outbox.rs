//! The outbox of unpublished batches and the publisher that drains it.
//!
//! A batch leaves the outbox only when CloudWatch accepted it, or when it is down to
//! single datums that CloudWatch rejected as invalid (or that aged out of CloudWatch's
//! 14-day window); each such drop is counted and logged. Everything else is retried with
//! exponential backoff and jitter, at a rate that throttling lowers.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::pipeline::budget::Budget;
use crate::publish::batch::Batch;
use crate::publish::rate::AdaptiveRate;
use crate::publish::sink::{ErrorClass, PutError, Sink};
use crate::telemetry::Telemetry;
use crate::telemetry::reasons::{DropReason, PutOutcome};

/// PutMetricData calls in flight at once.
const MAX_IN_FLIGHT: usize = 4;
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// CloudWatch rejects datums older than two weeks; give up a little before that.
const MAX_DATUM_AGE_MS: i64 = 14 * 24 * 3600 * 1000 - 10 * 60 * 1000;

/// What became of the datums a flush is waiting for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlushCounts {
    /// Accepted by CloudWatch.
    pub published: u64,
    /// Rejected by CloudWatch as invalid, or too large even alone.
    pub rejected: u64,
    /// Dropped because they aged out of CloudWatch's 14-day window.
    pub expired: u64,
    /// Still in the outbox, being retried.
    pub retrying: u64,
}

/// Follows a set of datums through the outbox until each is published or dropped.
#[derive(Default)]
pub struct FlushTracker {
    counts: Mutex<FlushCounts>,
    settled: Notify,
}

impl FlushTracker {
    fn add(&self, n: usize) {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).retrying += n as u64;
    }

    fn settle(&self, n: usize, how: fn(&mut FlushCounts) -> &mut u64) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.retrying -= n as u64;
        *how(&mut c) += n as u64;
        if c.retrying == 0 {
            self.settled.notify_waiters();
        }
    }

    pub fn counts(&self) -> FlushCounts {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until nothing tracked is left in the outbox, or `deadline`.
    pub async fn wait(&self, deadline: tokio::time::Instant) -> FlushCounts {
        loop {
            let settled = self.settled.notified();
            let counts = self.counts();
            if counts.retrying == 0 || tokio::time::timeout_at(deadline, settled).await.is_err() {
                return self.counts();
            }
        }
    }
}

struct Entry {
    /// `None` while an attempt has it.
    batch: Option<Batch>,
    len: usize,
    attempts: u32,
    trackers: Vec<Arc<FlushTracker>>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    /// Entries waiting for their next attempt, soonest first.
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Inner {
    fn insert(&mut self, batch: Batch, attempts: u32, trackers: Vec<Arc<FlushTracker>>, at: Instant) {
        let id = self.next_id;
        self.next_id += 1;
        self.entries.insert(id, Entry { len: batch.len(), batch: Some(batch), attempts, trackers });
        self.queue.push(Reverse((at, id)));
    }
}

/// Unpublished batches, each waiting for its next attempt or in one.
#[derive(Default)]
pub struct Outbox {
    inner: Mutex<Inner>,
    wake: Notify,
}

enum Next {
    Ready(u64, Batch),
    WaitUntil(Instant),
    Empty,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues batches for publishing now, followed by `tracker` if given.
    pub fn push(&self, batches: Vec<Batch>, tracker: Option<&Arc<FlushTracker>>) {
        let now = Instant::now();
        let mut inner = self.lock();
        for batch in batches.into_iter().filter(|b| !b.is_empty()) {
            if let Some(t) = tracker {
                t.add(batch.len());
            }
            inner.insert(batch, 0, tracker.into_iter().cloned().collect(), now);
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

    /// Unpublished datums per namespace and metric name, for the shutdown report.
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

    fn next(&self, now: Instant) -> Next {
        let mut inner = self.lock();
        let Some(Reverse((at, id))) = inner.queue.peek().copied() else {
            return Next::Empty;
        };
        if at > now {
            return Next::WaitUntil(at);
        }
        inner.queue.pop();
        let batch = inner.entries.get_mut(&id).and_then(|e| e.batch.take()).expect("queued entries hold their batch");
        Next::Ready(id, batch)
    }
}

/// Drains the outbox into the sink.
pub struct Publisher {
    pub outbox: Arc<Outbox>,
    pub sink: Arc<Sink>,
    pub rate: Arc<AdaptiveRate>,
    pub telemetry: Arc<Telemetry>,
    pub budget: Arc<Budget>,
}

impl Publisher {
    /// Runs until `stop`; attempts already started finish on their own.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let permit = tokio::select! {
                p = in_flight.clone().acquire_owned() => p.expect("never closed"),
                _ = stop.cancelled() => return,
            };
            let (id, batch) = loop {
                let wait = match self.outbox.next(Instant::now()) {
                    Next::Ready(id, batch) => break (id, batch),
                    Next::WaitUntil(at) => tokio::time::Instant::from_std(at),
                    Next::Empty => tokio::time::Instant::now() + Duration::from_secs(3600),
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(wait) => {}
                    _ = self.outbox.wake.notified() => {}
                    _ = stop.cancelled() => return,
                }
            };
            let Some(batch) = self.drop_expired(id, batch) else {
                continue;
            };
            tokio::select! {
                _ = self.rate.acquire() => {}
                _ = stop.cancelled() => {
                    self.reschedule(id, batch, Duration::ZERO);
                    return;
                }
            }
            let this = self.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result = this.sink.put(&batch).await;
                this.complete(id, batch, result, started.elapsed());
                drop(permit);
            });
        }
    }

    /// Removes datums CloudWatch would no longer take; `None` when none are left.
    fn drop_expired(&self, id: u64, mut batch: Batch) -> Option<Batch> {
        let oldest_allowed = now_ms() - MAX_DATUM_AGE_MS;
        let before = batch.len();
        batch.metric_data.retain(|d| d.timestamp >= oldest_allowed);
        let expired = before - batch.len();
        if expired > 0 {
            tracing::error!(namespace = %batch.namespace, expired, "dropping datums older than CloudWatch's 14-day window");
            self.telemetry.datums_dropped(DropReason::Expired, expired);
            self.settle(id, expired, |c| &mut c.expired, !batch.is_empty());
        }
        if batch.is_empty() {
            return None;
        }
        if expired > 0 {
            self.outbox.lock().entries.get_mut(&id).expect("entry exists").len = batch.len();
        }
        Some(batch)
    }

    fn complete(&self, id: u64, batch: Batch, result: Result<(), PutError>, took: Duration) {
        let n = batch.len();
        let outcome = match &result {
            Ok(()) => PutOutcome::Success,
            Err(e) => e.class.outcome(),
        };
        self.telemetry.put_call(outcome, took.as_secs_f64());
        let Err(error) = result else {
            self.telemetry.datums_published(n);
            self.rate.on_success();
            self.settle(id, n, |c| &mut c.published, false);
            return;
        };
        match error.class {
            ErrorClass::Invalid | ErrorClass::TooLarge if n > 1 => {
                tracing::warn!(namespace = %batch.namespace, datums = n, error = %error, "bisecting a rejected PutMetricData request");
                let mut inner = self.outbox.lock();
                let entry = inner.entries.remove(&id).expect("entry exists");
                let (a, b) = batch.split();
                let now = Instant::now();
                inner.insert(a, 0, entry.trackers.clone(), now);
                inner.insert(b, 0, entry.trackers, now);
                drop(inner);
                self.outbox.wake.notify_one();
            }
            ErrorClass::Invalid | ErrorClass::TooLarge => {
                let datum = serde_json::to_string(&batch.metric_data[0]).unwrap_or_default();
                tracing::error!(namespace = %batch.namespace, %datum, error = %error, "CloudWatch rejected a datum; dropping it");
                let reason =
                    if error.class == ErrorClass::Invalid { DropReason::Invalid } else { DropReason::TooLarge };
                self.telemetry.datums_dropped(reason, 1);
                self.settle(id, 1, |c| &mut c.rejected, false);
            }
            class => {
                if class == ErrorClass::Throttled {
                    self.rate.on_throttle();
                }
                let attempts = {
                    let mut inner = self.outbox.lock();
                    let entry = inner.entries.get_mut(&id).expect("entry exists");
                    entry.attempts += 1;
                    entry.attempts
                };
                let delay = backoff(attempts);
                match class {
                    ErrorClass::Auth | ErrorClass::Unexpected => tracing::error!(
                        namespace = %batch.namespace, datums = n, attempts, retry_in = ?delay, error = %error,
                        "PutMetricData failed; check credentials and IAM permissions (cloudwatch:PutMetricData). Retrying"
                    ),
                    _ => tracing::warn!(
                        namespace = %batch.namespace, datums = n, attempts, retry_in = ?delay, error = %error,
                        "PutMetricData failed; retrying"
                    ),
                }
                self.telemetry.retry();
                self.reschedule(id, batch, delay);
            }
        }
    }

    fn reschedule(&self, id: u64, batch: Batch, delay: Duration) {
        let mut inner = self.outbox.lock();
        inner.entries.get_mut(&id).expect("entry exists").batch = Some(batch);
        inner.queue.push(Reverse((Instant::now() + delay, id)));
        drop(inner);
        self.outbox.wake.notify_one();
    }

    /// `n` datums of entry `id` are done with; the entry stays when `keep` (more to publish).
    fn settle(&self, id: u64, n: usize, how: fn(&mut FlushCounts) -> &mut u64, keep: bool) {
        let mut inner = self.outbox.lock();
        let trackers = if keep {
            inner.entries[&id].trackers.clone()
        } else {
            inner.entries.remove(&id).expect("entry exists").trackers
        };
        drop(inner);
        self.budget.release(n);
        for t in trackers {
            t.settle(n, how);
        }
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random.
pub fn backoff(attempts: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1 << attempts.saturating_sub(1).min(16)).min(BACKOFF_CAP);
    exp / 2 + exp.mul_f64(fastrand::f64() / 2.0)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempts in 1..40 {
            let d = backoff(attempts);
            let exp = BACKOFF_BASE.saturating_mul(1 << (attempts - 1).min(16)).min(BACKOFF_CAP);
            assert!(d >= exp / 2 && d <= exp, "{attempts}: {d:?}");
        }
        assert!(backoff(40) <= BACKOFF_CAP);
    }

    #[tokio::test]
    async fn a_tracker_settles_when_its_datums_are_done() {
        let t = Arc::new(FlushTracker::default());
        t.add(3);
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.wait(tokio::time::Instant::now() + Duration::from_secs(5)).await })
        };
        t.settle(2, |c| &mut c.published);
        t.settle(1, |c| &mut c.rejected);
        let counts = waiter.await.unwrap();
        assert_eq!(counts, FlushCounts { published: 2, rejected: 1, expired: 0, retrying: 0 });
    }
}
