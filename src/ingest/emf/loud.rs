//! A warning logged at most once per interval, with how many were held back since: what a
//! hostile or broken client can repeat thousands of times a second is seen, not a flood.

use std::sync::Mutex;

/// At most one line per interval.
pub(super) struct Loud {
    interval_ms: i64,
    state: Mutex<(Option<i64>, u64)>,
}

impl Loud {
    pub(super) fn new(interval_ms: i64) -> Loud {
        Loud { interval_ms, state: Mutex::new((None, 0)) }
    }

    /// Whether to log now, and how many were held back before this one; counts it otherwise.
    pub(super) fn allow(&self, now_ms: i64) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (last, held) = &mut *state;
        match *last {
            Some(at) if now_ms.saturating_sub(at) < self.interval_ms => {
                *held += 1;
                None
            }
            _ => {
                *last = Some(now_ms);
                Some(std::mem::take(held))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Loud;

    #[test]
    fn once_per_interval_with_the_count_held_back() {
        let loud = Loud::new(10_000);
        assert_eq!(loud.allow(0), Some(0));
        assert_eq!((loud.allow(1), loud.allow(9_999)), (None, None));
        assert_eq!(loud.allow(10_000), Some(2));
        assert_eq!(loud.allow(10_001), None);
    }
}
