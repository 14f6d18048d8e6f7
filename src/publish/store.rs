//! Where the outbox keeps batches out of memory until their attempt: a store of batch files
//! (the disk spool implements it). The outbox owns the trait, so that publishing imports
//! nothing of the spool.

use std::path::PathBuf;

use cw_core::publish::batch::Batch;

/// A stored batch: where it is and what it costs the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFile {
    pub path: PathBuf,
    pub bytes: u64,
}

pub trait BatchStore: Send + Sync + 'static {
    /// Writes a batch (durably, then renamed into place), within the store's bound: when it
    /// does not fit, the error is of kind [`std::io::ErrorKind::StorageFull`] and nothing is
    /// written.
    fn write_batch(&self, batch: &Batch) -> std::io::Result<BatchFile>;

    /// Reads a batch back; `None` when it cannot be read any more.
    fn read_batch(&self, file: &BatchFile) -> Option<Batch>;

    /// Deletes a batch the outbox is done with.
    fn remove_batch(&self, file: &BatchFile);

    /// Makes the files written since the last call durable as directory entries.
    fn sync(&self);
}
