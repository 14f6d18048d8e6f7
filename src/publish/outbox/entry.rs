//! What the outbox holds of a batch: where it waits ([`Place`]) and its bookkeeping
//! ([`Shared`]), which an [`Attempt`] takes along while it is out, so that no operation looks
//! an entry up by its id and hopes to find it.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::publish::store::BatchFile;
use crate::publish::tracker::FlushTracker;
use cw_core::publish::batch::Batch;

/// Where a waiting entry's datums are.
pub(super) enum Place {
    Memory(Batch),
    /// In a batch file of the spool: read for each attempt, deleted when settled.
    File(BatchFile),
}

/// An entry's bookkeeping, shared between the outbox and the attempt that has the entry, so
/// that a flush started meanwhile can follow the attempt's datums too.
pub(super) struct Bookkeeping {
    /// Its datums still to settle.
    pub len: usize,
    /// Whether its datums hold buffer slots (kept in memory) or not (written to the spool).
    pub holds_slots: bool,
    /// Whether it has a batch file.
    pub in_file: bool,
    pub trackers: Vec<Arc<FlushTracker>>,
}

#[derive(Clone)]
pub(super) struct Shared(Arc<Mutex<Bookkeeping>>);

impl Shared {
    pub fn new(len: usize, holds_slots: bool, in_file: bool, trackers: Vec<Arc<FlushTracker>>) -> Shared {
        Shared(Arc::new(Mutex::new(Bookkeeping { len, holds_slots, in_file, trackers })))
    }

    /// Taken while the outbox's lock is held (that lock first, always): never contended.
    pub fn lock(&self) -> MutexGuard<'_, Bookkeeping> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An entry waiting for its next attempt.
pub(super) struct Waiting {
    pub place: Place,
    /// Failed attempts so far.
    pub failures: u32,
    pub shared: Shared,
}

/// A batch taken out of the outbox for one PutMetricData attempt, with its entry. It goes
/// back through exactly one of the outbox's operations.
#[must_use = "an attempt must be settled, retried, split or dropped"]
pub struct Attempt {
    pub(super) id: u64,
    pub(super) batch: Batch,
    /// The batch file it was read from, if it has one.
    pub(super) file: Option<BatchFile>,
    pub(super) failures: u32,
    pub(super) shared: Shared,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt").field("id", &self.id).field("datums", &self.batch.len()).finish()
    }
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
