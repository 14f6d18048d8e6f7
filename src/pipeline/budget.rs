//! The bound on memory, in one unit: a *slot* is one open series-window or one unpublished
//! datum. Ingest reserves slots before it aggregates and gives back what merged into
//! existing windows; a flush turns window slots into datum slots; the outbox releases a
//! datum's slot when it is published or dropped.

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
    /// Hands `n` of the held slots over to the buffer (a window was opened); they stay used
    /// until the flush and the outbox account for them.
    pub fn keep(&mut self, n: usize) {
        debug_assert!(n <= self.held, "kept more than reserved");
        self.held -= n.min(self.held);
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

    /// `windows` closed windows became `datums` datums (one or more each).
    pub fn windows_to_datums(&self, windows: usize, datums: usize) {
        debug_assert!(datums >= windows, "every window makes at least one datum");
        self.used.fetch_add(datums, Ordering::AcqRel);
        self.release(windows);
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
        b.windows_to_datums(3, 5);
        assert_eq!(b.used(), 5);
        let mut past = b.reserve_past_bound(8);
        past.keep(8);
        drop(past);
        assert_eq!(b.used(), 13);
        b.release(13);
        assert_eq!(b.used(), 0);
    }
}
