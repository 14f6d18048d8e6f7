//! The outbox of unpublished batches, and every change to it as one named operation.
//!
//! A batch is queued ([`Outbox::push`]), taken for an attempt ([`Outbox::take_ready`]), and
//! then either [`succeeded`](Outbox::succeeded), scheduled again
//! ([`retry_later`](Outbox::retry_later)), bisected ([`split`](Outbox::split)) or
//! [`dropped`](Outbox::dropped); [`expire`](Outbox::expire) drops datums CloudWatch would no
//! longer take before an attempt. Whenever datums leave, the operation counts them in
//! [`Telemetry`], releases their [`Buffer`] slots and settles the [`FlushTracker`]s that
//! follow them, in that order (so a flush that returns sees the counters already moved),
//! and nothing else touches that accounting.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::publish::store::{BatchFile, BatchStore};
use crate::publish::tracker::{FlushTracker, Settled};
use crate::telemetry::Telemetry;
use cw_core::domain::limits::MAX_AGE_MS;
use cw_core::pipeline::buffer::Buffer;
use cw_core::publish::batch::Batch;
use cw_core::reasons::DropReason;

/// CloudWatch rejects datums older than two weeks; give up a little before that.
pub const MAX_DATUM_AGE_MS: i64 = MAX_AGE_MS - 10 * 60 * 1000;

mod entry;

pub use entry::Attempt;
use entry::{Place, Shared, Waiting};

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Entries waiting for their next attempt.
    waiting: HashMap<u64, Waiting>,
    /// The bookkeeping of the entries that attempts have, for [`Outbox::track_all`].
    out: HashMap<u64, Shared>,
    /// Waiting entries by the time of their next attempt, soonest first, by the clock's
    /// `elapsed`.
    queue: BinaryHeap<Reverse<(Duration, u64)>>,
}

impl Inner {
    fn insert(&mut self, place: Place, shared: Shared, at: Duration) {
        let id = self.next_id;
        self.next_id += 1;
        self.wait(id, Waiting { place, failures: 0, shared }, at);
    }

    fn wait(&mut self, id: u64, waiting: Waiting, at: Duration) {
        self.queue.push(Reverse((at, id)));
        self.waiting.insert(id, waiting);
    }

    /// An attempt's entry waits again, due at `at`. A stored entry is read again for its
    /// next attempt: memory holds only what is in one.
    fn requeue(&mut self, attempt: Attempt, at: Duration) {
        self.out.remove(&attempt.id);
        let place = match attempt.file {
            Some(file) => Place::File(file),
            None => Place::Memory(attempt.batch),
        };
        self.wait(attempt.id, Waiting { place, failures: attempt.failures, shared: attempt.shared }, at);
    }

    /// Every entry's bookkeeping, waiting or out.
    fn all(&self) -> impl Iterator<Item = &Shared> {
        self.waiting.values().map(|w| &w.shared).chain(self.out.values())
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
    buffer: Arc<Buffer>,
    telemetry: Arc<Telemetry>,
    clock: SharedClock,
    store: Option<Arc<dyn BatchStore>>,
}

impl Outbox {
    pub fn new(buffer: Arc<Buffer>, telemetry: Arc<Telemetry>, clock: SharedClock) -> Outbox {
        Outbox { inner: Mutex::default(), wake: Notify::new(), buffer, telemetry, clock, store: None }
    }

    /// An outbox whose batches wait in `store` (the spool's batch files) rather than in
    /// memory.
    pub fn with_store(mut self, store: Option<Arc<dyn BatchStore>>) -> Outbox {
        self.store = store;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves when something may have become ready sooner than the publisher expected.
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    /// Queues batches for publishing now, followed by `tracker` if given. With a spool, each
    /// batch is written to a batch file first and its buffer slots are freed: memory then
    /// holds none of it until its attempt. A batch whose file cannot be written stays in
    /// memory; the answer says whether all of them were written.
    pub fn push(&self, batches: Vec<Batch>, tracker: Option<&Arc<FlushTracker>>) -> bool {
        let mut in_memory = 0;
        let placed: Vec<(Place, usize)> = batches
            .into_iter()
            .filter(|b| !b.is_empty())
            .map(|batch| {
                let len = batch.len();
                match self.store.as_ref().map(|s| s.write_batch(&batch)) {
                    Some(Ok(file)) => {
                        self.buffer.release(len);
                        (Place::File(file), len)
                    }
                    Some(Err(_)) => {
                        in_memory += 1;
                        (Place::Memory(batch), len)
                    }
                    None => (Place::Memory(batch), len),
                }
            })
            .collect();
        if in_memory > 0 {
            tracing::warn!(
                batches = in_memory,
                "batches kept in memory: the spool could not take them (full, or a failed write: see above)"
            );
        }
        if let Some(store) = self.store.as_ref().filter(|_| !placed.is_empty()) {
            store.sync();
        }
        self.queue(placed, tracker);
        in_memory == 0
    }

    /// Queues batch files a start found in the spool.
    pub fn push_stored(&self, files: Vec<(BatchFile, usize)>) {
        self.queue(files.into_iter().map(|(f, n)| (Place::File(f), n)).collect(), None);
    }

    fn queue(&self, placed: Vec<(Place, usize)>, tracker: Option<&Arc<FlushTracker>>) {
        let now = self.clock.elapsed();
        let mut inner = self.lock();
        for (place, len) in placed {
            if let Some(t) = tracker {
                t.add(len);
            }
            let in_file = matches!(place, Place::File(_));
            let shared = Shared::new(len, !in_file, in_file, tracker.into_iter().cloned().collect());
            inner.insert(place, shared, now);
        }
        drop(inner);
        self.wake.notify_one();
    }

    /// Makes `tracker` follow everything already in the outbox, in an attempt or not.
    pub fn track_all(&self, tracker: &Arc<FlushTracker>) {
        let inner = self.lock();
        for shared in inner.all() {
            let mut book = shared.lock();
            tracker.add(book.len);
            book.trackers.push(tracker.clone());
        }
    }

    /// Unpublished datums per namespace and metric name, for the shutdown report. Batches
    /// in an attempt are not counted; batches in the spool are counted as a whole.
    pub fn unpublished_by_metric(&self) -> BTreeMap<(String, String), usize> {
        let inner = self.lock();
        let mut out = BTreeMap::new();
        for waiting in inner.waiting.values() {
            let Place::Memory(batch) = &waiting.place else { continue };
            for d in &batch.metric_data {
                *out.entry((batch.namespace.to_string(), d.metric_name.clone())).or_default() += 1;
            }
        }
        out
    }

    /// Entries a spool should hold but does not (their batch file could not be written).
    pub fn unstored(&self) -> usize {
        match self.store {
            Some(_) => self.lock().all().map(|s| s.lock()).filter(|b| !b.in_file && b.holds_slots).count(),
            None => 0,
        }
    }

    /// Datums waiting in the spool's batch files, and how many files.
    pub fn stored(&self) -> (usize, usize) {
        let inner = self.lock();
        inner
            .all()
            .map(|s| s.lock())
            .filter(|b| b.in_file)
            .fold((0, 0), |(datums, files), b| (datums + b.len, files + 1))
    }

    /// The next batch whose time has come, taken out for an attempt (read from its batch
    /// file when it has one; a file that cannot be read any more is dropped, counted).
    pub fn take_ready(&self) -> Next {
        loop {
            let now = self.clock.elapsed();
            let mut inner = self.lock();
            let Some(Reverse((at, id))) = inner.queue.peek().copied() else {
                return Next::Empty;
            };
            if at > now {
                return Next::WaitUntil(at);
            }
            inner.queue.pop();
            let Some(Waiting { place, failures, shared }) = inner.waiting.remove(&id) else {
                continue;
            };
            // Out from here on, for a flush that starts while the file is read.
            inner.out.insert(id, shared.clone());
            let file = match place {
                Place::Memory(batch) => return Next::Ready(Attempt { id, batch, file: None, failures, shared }),
                Place::File(file) => file,
            };
            drop(inner);
            let len = shared.lock().len;
            match self.store.as_ref().and_then(|s| s.read_batch(&file)) {
                Some(batch) if batch.len() == len => {
                    return Next::Ready(Attempt { id, batch, file: Some(file), failures, shared });
                }
                _ => {
                    tracing::error!(file = %file.path.display(), datums = len, "unreadable batch file: dropping it");
                    self.telemetry.datums_dropped(DropReason::Unreadable, len);
                    let batch = Batch { namespace: Arc::from(""), metric_data: Vec::new() };
                    self.settle(Attempt { id, batch, file: Some(file), failures, shared }, len, Settled::Rejected);
                }
            }
        }
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
        self.settle(attempt, n, Settled::Published);
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
        inner.out.remove(&attempt.id);
        let (holds_slots, trackers) = {
            let book = attempt.shared.lock();
            (book.holds_slots, book.trackers.clone())
        };
        let (a, b) = attempt.batch.split();
        // Halves of a stored batch are kept in memory; they are few (bisecting ends in single
        // datums) and are lost to a crash only as part of the attempt in flight.
        for half in [a, b] {
            let shared = Shared::new(half.len(), holds_slots, false, trackers.clone());
            inner.insert(Place::Memory(half), shared, now);
        }
        drop(inner);
        if let Some(file) = attempt.file {
            self.remove_file(&file);
        }
        self.wake.notify_one();
    }

    /// Gives up on every datum of the attempt, for `reason`.
    pub fn dropped(&self, attempt: Attempt, reason: DropReason) {
        let n = attempt.batch.len();
        self.telemetry.datums_dropped(reason, n);
        self.settle(attempt, n, settled_as(reason));
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
        if attempt.batch.is_empty() {
            self.settle(attempt, expired, Settled::Expired);
            return None;
        }
        self.settle_part(&attempt, expired, Settled::Expired);
        self.rewrite_file(&mut attempt);
        Some(attempt)
    }

    /// A stored entry whose batch lost datums gets a file with what is left (kept in memory
    /// instead if that cannot be written).
    fn rewrite_file(&self, attempt: &mut Attempt) {
        let (Some(store), Some(old)) = (&self.store, attempt.file.take()) else { return };
        attempt.file = store.write_batch(&attempt.batch).ok();
        if attempt.file.is_some() {
            store.sync();
        }
        attempt.shared.lock().in_file = attempt.file.is_some();
        store.remove_batch(&old);
    }

    /// `n` of the attempt's datums are done with, and the rest stays in the attempt. Length
    /// and followers change under the outbox's lock, so a tracker added meanwhile by
    /// [`Outbox::track_all`] is counted exactly once.
    fn settle_part(&self, attempt: &Attempt, n: usize, how: Settled) {
        let inner = self.lock();
        let (trackers, holds_slots) = {
            let mut book = attempt.shared.lock();
            book.len -= n;
            (book.trackers.clone(), book.holds_slots)
        };
        drop(inner);
        self.release(n, holds_slots, &trackers, how);
    }

    /// The attempt's last `n` datums are done with: its entry is gone.
    fn settle(&self, attempt: Attempt, n: usize, how: Settled) {
        let mut inner = self.lock();
        inner.out.remove(&attempt.id);
        let (trackers, holds_slots) = {
            let mut book = attempt.shared.lock();
            book.len = 0;
            (std::mem::take(&mut book.trackers), book.holds_slots)
        };
        drop(inner);
        if let Some(file) = &attempt.file {
            self.remove_file(file);
        }
        self.release(n, holds_slots, &trackers, how);
    }

    fn release(&self, n: usize, holds_slots: bool, trackers: &[Arc<FlushTracker>], how: Settled) {
        if holds_slots {
            self.buffer.release(n);
        }
        for t in trackers {
            t.settle(n, how);
        }
    }

    fn remove_file(&self, file: &BatchFile) {
        if let Some(store) = &self.store {
            store.remove_batch(file);
        }
    }

    /// Batches queued or in an attempt.
    #[cfg(test)]
    pub(crate) fn batch_count(&self) -> usize {
        let inner = self.lock();
        inner.waiting.len() + inner.out.len()
    }
}

fn settled_as(reason: DropReason) -> Settled {
    match reason {
        DropReason::Invalid | DropReason::TooLarge | DropReason::Unreadable => Settled::Rejected,
        DropReason::Expired => Settled::Expired,
    }
}
