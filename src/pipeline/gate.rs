//! Lets shutdown stop ingest and then wait for submissions already adding records.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct IngestGate {
    closed: AtomicBool,
    active: AtomicUsize,
}

/// Held while a submission adds records; shutdown waits for it to drop.
pub struct Entered<'g>(&'g IngestGate);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl IngestGate {
    pub fn enter(&self) -> Option<Entered<'_>> {
        self.active.fetch_add(1, Ordering::AcqRel);
        let entered = Entered(self);
        (!self.closed.load(Ordering::Acquire)).then_some(entered)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the gate and waits until no submission is inside.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        while self.active.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
