//! The bound on memory: buffered output datums (series-windows plus unpublished datums).

use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    max: usize,
}

impl Budget {
    pub fn new(max: usize) -> Budget {
        Budget { used: AtomicUsize::new(0), max }
    }

    /// Reserves `n` slots at once, or none when they do not all fit.
    pub fn try_reserve(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| (used + n <= self.max).then_some(used + n))
            .is_ok()
    }

    /// Adds slots that cannot be refused (a window turning into several datums, self metrics).
    pub fn force(&self, n: usize) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    pub fn release(&self, n: usize) {
        let before = self.used.fetch_sub(n, Ordering::AcqRel);
        debug_assert!(before >= n, "released more than reserved");
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    pub fn is_full(&self) -> bool {
        self.used() >= self.max
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_all_or_nothing() {
        let b = Budget::new(10);
        assert!(b.try_reserve(8));
        assert!(!b.try_reserve(3));
        assert_eq!(b.used(), 8);
        b.release(5);
        assert!(b.try_reserve(7));
        assert!(b.is_full());
        b.force(2);
        assert_eq!(b.used(), 12);
    }
}
