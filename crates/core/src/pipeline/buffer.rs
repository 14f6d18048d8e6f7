//! The bound on memory, in one unit: a *slot* is one datum, unpublished or still to be made.
//! An open series-window holds as many slots as the datums it can make (one while its values
//! fit one datum; one more per 150 histogram buckets or per segment past 2^360: see
//! [`crate::pipeline::aggregate::Window::slots`]), so the bound follows what the buffer really
//! holds, not how many windows there are. Ingest reserves a bound on what it can add before
//! it aggregates and keeps what the windows really grew by; a flush turns window slots into
//! the datums made (never more); the outbox releases a datum's slot when it is published or
//! dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Buffer {
    used: AtomicUsize,
    max: usize,
}

/// The buffer has no room for a reservation; nothing was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub used: usize,
    pub max: usize,
}

/// Slots held for work in progress, which may finish on another thread (once a journal has
/// the records). What is not [`Reservation::keep`]t goes back on drop.
#[must_use]
#[derive(Debug)]
pub struct Reservation {
    buffer: Arc<Buffer>,
    held: usize,
}

impl Reservation {
    /// Hands `n` slots over to the buffer (windows grew by that much); they stay used until
    /// the flush and the outbox account for them. Windows that grew by more than was held
    /// (never, while the plans' bounds hold) are counted all the same, past the bound.
    pub fn keep(&mut self, n: usize) {
        debug_assert!(n <= self.held, "kept more than reserved");
        if n > self.held {
            self.buffer.used.fetch_add(n - self.held, Ordering::AcqRel);
        }
        self.held -= n.min(self.held);
    }

    /// Takes `n` more slots, or none when they do not all fit.
    pub fn grow(&mut self, n: usize) -> Result<(), Full> {
        self.buffer.try_reserve_n(n)?;
        self.held += n;
        Ok(())
    }

    /// Slots held now.
    pub fn held(&self) -> usize {
        self.held
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held > 0 {
            self.buffer.release(self.held);
        }
    }
}

impl Buffer {
    pub fn new(max: usize) -> Buffer {
        Buffer { used: AtomicUsize::new(0), max }
    }

    fn try_reserve_n(&self, n: usize) -> Result<(), Full> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|after| *after <= self.max)
            })
            .map(|_| ())
            .map_err(|used| Full { used, max: self.max })
    }

    /// Reserves `n` slots at once, or none when they do not all fit.
    pub fn try_reserve(self: &Arc<Self>, n: usize) -> Result<Reservation, Full> {
        self.try_reserve_n(n)?;
        Ok(Reservation { buffer: self.clone(), held: n })
    }

    /// Reserves `n` slots even past the bound: for the sidecar's own few series, which must
    /// not be lost to a buffer that clients filled, and for records replayed from the spool.
    pub fn reserve_past_bound(self: &Arc<Self>, n: usize) -> Reservation {
        self.used.fetch_add(n, Ordering::AcqRel);
        Reservation { buffer: self.clone(), held: n }
    }

    /// Closed windows that held `slots` slots became `datums` datums (at most as many).
    pub fn windows_to_datums(&self, slots: usize, datums: usize) {
        debug_assert!(datums <= slots, "{datums} datums from windows of {slots} slots");
        self.used.fetch_add(datums, Ordering::AcqRel);
        self.release(slots);
    }

    /// Datums published or dropped: their slots are free again.
    pub fn release(&self, n: usize) {
        let before = self.used.fetch_sub(n, Ordering::AcqRel);
        debug_assert!(before >= n, "released more than reserved");
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_all_or_nothing_and_give_back_what_they_did_not_keep() {
        let b = Arc::new(Buffer::new(10));
        let mut r = b.try_reserve(8).unwrap();
        assert_eq!(b.try_reserve(3).unwrap_err(), Full { used: 8, max: 10 });
        r.keep(3);
        drop(r);
        assert_eq!(b.used(), 3);
        assert!(b.try_reserve(usize::MAX).is_err(), "no overflow");
        let r = b.try_reserve(7).unwrap();
        assert_eq!(b.used(), 10);
        drop(r);
        b.reserve_past_bound(2).keep(2);
        b.windows_to_datums(5, 4);
        assert_eq!(b.used(), 4);
        let mut past = b.reserve_past_bound(8);
        past.keep(8);
        drop(past);
        assert_eq!(b.used(), 12);
        b.release(12);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn a_reservation_grows_all_or_nothing() {
        let b = Arc::new(Buffer::new(10));
        let mut r = b.try_reserve(4).unwrap();
        r.grow(5).unwrap();
        assert_eq!((r.held(), b.used()), (9, 9));
        assert_eq!(r.grow(2), Err(Full { used: 9, max: 10 }));
        assert_eq!(r.held(), 9);
        r.keep(6);
        drop(r);
        assert_eq!(b.used(), 6);
    }
}
