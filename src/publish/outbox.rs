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

struct Entry {
    /// In memory: `None` while an attempt has it, or while it waits in its batch file.
    batch: Option<Batch>,
    /// Its batch file in the spool, if it has one: it is read for each attempt and deleted
    /// when the entry is settled.
    file: Option<BatchFile>,
    /// Whether its datums hold buffer slots (an entry in memory) or not (in the spool).
    holds_slots: bool,
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
    fn insert(&mut self, held: Held, trackers: Vec<Arc<FlushTracker>>, at: Duration) -> &mut Entry {
        let id = self.next_id;
        self.next_id += 1;
        let len = held.len();
        let (batch, file) = match held {
            Held::Memory(batch) => (Some(batch), None),
            Held::Stored(file, _) => (None, Some(file)),
        };
        let holds_slots = file.is_none();
        self.queue.push(Reverse((at, id)));
        self.entries.entry(id).or_insert(Entry { len, batch, file, holds_slots, failures: 0, trackers })
    }

    fn requeue(&mut self, attempt: Attempt, at: Duration) {
        let entry = self.entries.get_mut(&attempt.id).expect("an attempt's entry stays until it is settled");
        // A stored entry is read again for its next attempt: memory holds only what is in one.
        if entry.file.is_none() {
            entry.batch = Some(attempt.batch);
        }
        entry.failures = attempt.failures;
        self.queue.push(Reverse((at, attempt.id)));
    }
}

/// Where an entry's batch is.
enum Held {
    Memory(Batch),
    /// In a batch file of the spool, with its number of datums.
    Stored(BatchFile, usize),
}

impl Held {
    /// Its datums.
    fn len(&self) -> usize {
        match self {
            Held::Memory(batch) => batch.len(),
            Held::Stored(_, datums) => *datums,
        }
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
        let held: Vec<Held> = batches
            .into_iter()
            .filter(|b| !b.is_empty())
            .map(|batch| match self.store.as_ref().map(|s| s.write_batch(&batch)) {
                Some(Ok(file)) => {
                    self.buffer.release(batch.len());
                    Held::Stored(file, batch.len())
                }
                Some(Err(_)) => {
                    in_memory += 1;
                    Held::Memory(batch)
                }
                None => Held::Memory(batch),
            })
            .collect();
        if in_memory > 0 {
            tracing::warn!(
                batches = in_memory,
                "batches kept in memory: the spool could not take them (full, or a failed write: see above)"
            );
        }
        if let Some(store) = self.store.as_ref().filter(|_| !held.is_empty()) {
            store.sync();
        }
        self.queue(held, tracker);
        in_memory == 0
    }

    /// Queues batch files a start found in the spool.
    pub fn push_stored(&self, files: Vec<(BatchFile, usize)>) {
        self.queue(files.into_iter().map(|(f, n)| Held::Stored(f, n)).collect(), None);
    }

    fn queue(&self, held: Vec<Held>, tracker: Option<&Arc<FlushTracker>>) {
        let now = self.clock.elapsed();
        let mut inner = self.lock();
        for h in held {
            if let Some(t) = tracker {
                t.add(h.len());
            }
            inner.insert(h, tracker.into_iter().cloned().collect(), now);
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
    /// in an attempt are not counted; batches in the spool are counted as a whole.
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

    /// Entries a spool should hold but does not (their batch file could not be written).
    pub fn unstored(&self) -> usize {
        match self.store {
            Some(_) => self.lock().entries.values().filter(|e| e.file.is_none() && e.holds_slots).count(),
            None => 0,
        }
    }

    /// Datums waiting in the spool's batch files, and how many files.
    pub fn stored(&self) -> (usize, usize) {
        let inner = self.lock();
        let stored = inner.entries.values().filter(|e| e.file.is_some());
        stored.fold((0, 0), |(datums, files), e| (datums + e.len, files + 1))
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
            let entry = inner.entries.get_mut(&id).expect("queued entries exist");
            let failures = entry.failures;
            if let Some(batch) = entry.batch.take() {
                return Next::Ready(Attempt { id, batch, failures });
            }
            let (file, len) = (entry.file.clone().expect("an entry is in memory or in a file"), entry.len);
            drop(inner);
            match self.store.as_ref().and_then(|s| s.read_batch(&file)) {
                Some(batch) if batch.len() == len => return Next::Ready(Attempt { id, batch, failures }),
                _ => {
                    tracing::error!(file = %file.path.display(), datums = len, "unreadable batch file: dropping it");
                    self.telemetry.datums_dropped(DropReason::Unreadable, len);
                    self.settle(id, len, Settled::Rejected, None);
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
        // Halves of a stored batch are kept in memory; they are few (bisecting ends in single
        // datums) and are lost to a crash only as part of the attempt in flight.
        inner.insert(Held::Memory(a), entry.trackers.clone(), now).holds_slots = entry.holds_slots;
        inner.insert(Held::Memory(b), entry.trackers, now).holds_slots = entry.holds_slots;
        drop(inner);
        if let Some(file) = entry.file {
            self.remove_file(&file);
        }
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
        if left > 0 {
            self.rewrite_file(&attempt);
        }
        (left > 0).then_some(attempt)
    }

    /// A stored entry whose batch lost datums gets a file with what is left (kept in memory
    /// instead if that cannot be written).
    fn rewrite_file(&self, attempt: &Attempt) {
        let Some(store) = &self.store else { return };
        let old = self.lock().entries.get_mut(&attempt.id).and_then(|e| e.file.take());
        let Some(old) = old else { return };
        let new = store.write_batch(&attempt.batch).ok();
        if new.is_some() {
            store.sync();
        }
        self.lock().entries.get_mut(&attempt.id).expect("an attempt's entry exists").file = new;
        store.remove_batch(&old);
    }

    /// `n` datums of entry `id` are done with. With `left`, the entry stays with that many
    /// datums to publish; without, it is gone. Length and followers change under one lock,
    /// so a tracker added meanwhile by [`Outbox::track_all`] is counted exactly once.
    fn settle(&self, id: u64, n: usize, how: Settled, left: Option<usize>) {
        let mut inner = self.lock();
        let (trackers, holds_slots, file) = match left {
            Some(len) => {
                let entry = inner.entries.get_mut(&id).expect("an attempt's entry exists");
                entry.len = len;
                (entry.trackers.clone(), entry.holds_slots, None)
            }
            None => {
                let entry = inner.entries.remove(&id).expect("an attempt's entry exists");
                (entry.trackers, entry.holds_slots, entry.file)
            }
        };
        drop(inner);
        if let Some(file) = file {
            self.remove_file(&file);
        }
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
        self.lock().entries.len()
    }
}

fn settled_as(reason: DropReason) -> Settled {
    match reason {
        DropReason::Invalid | DropReason::TooLarge | DropReason::Unreadable => Settled::Rejected,
        DropReason::Expired => Settled::Expired,
    }
}
