//! The bound on memory, in one unit: a *slot* is one datum, unpublished or still to be made.
//! An open series-window holds as many slots as the datums it can make (one while its values
//! fit one datum; one more per 150 histogram buckets or per segment past 2^360: see
//! [`crate::pipeline::aggregate::Window::slots`]), so the bound follows what the buffer really
//! holds, not how many windows there are. Ingest reserves a bound on what it can add before
//! it aggregates and keeps what the windows really grew by; a flush turns window slots into
//! the datums made (never more); the outbox releases a datum's slot when it is published or
//! dropped.

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    max: usize,
}

/// The buffer has no room for a reservation; nothing was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub used: usize,
    pub max: usize,
}

/// Slots held for work in progress. What is not [`Reservation::keep`]t goes back on drop.
#[must_use]
#[derive(Debug)]
pub struct Reservation<'b> {
    budget: &'b Budget,
    held: usize,
}

impl Reservation<'_> {
    /// Hands `n` of the held slots over to the buffer (windows grew by that much); they stay
    /// used until the flush and the outbox account for them.
    pub fn keep(&mut self, n: usize) {
        debug_assert!(n <= self.held, "kept more than reserved");
        self.held -= n.min(self.held);
    }
}

impl Reservation<'_> {
    /// Keeps every held slot and says how many: whoever finishes the work elsewhere releases
    /// what it does not use ([`Budget::release`]).
    pub fn into_held(mut self) -> usize {
        std::mem::take(&mut self.held)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.budget.release(self.held);
    }
}

impl Budget {
    pub fn new(max: usize) -> Budget {
        Budget { used: AtomicUsize::new(0), max }
    }

    /// Reserves `n` slots at once, or none when they do not all fit.
    pub fn try_reserve(&self, n: usize) -> Result<Reservation<'_>, Full> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|after| *after <= self.max)
            })
            .map(|_| Reservation { budget: self, held: n })
            .map_err(|used| Full { used, max: self.max })
    }

    /// Reserves `n` slots even past the bound: for the sidecar's own few series, which must
    /// not be lost to a buffer that clients filled.
    pub fn reserve_past_bound(&self, n: usize) -> Reservation<'_> {
        self.used.fetch_add(n, Ordering::AcqRel);
        Reservation { budget: self, held: n }
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
        let b = Budget::new(10);
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
}
