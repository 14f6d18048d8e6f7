//! Following a set of datums through the outbox: `/v1/flush` and shutdown wait on a
//! [`FlushTracker`] until each datum it follows is published or dropped.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use crate::clock::SharedClock;

/// What became of the datums a flush is waiting for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlushCounts {
    /// Accepted by CloudWatch.
    pub published: u64,
    /// Rejected by CloudWatch as invalid, or too large even alone.
    pub rejected: u64,
    /// Dropped because they aged out of CloudWatch's 14-day window.
    pub expired: u64,
    /// Still in the outbox, being retried.
    pub retrying: u64,
}

/// Where settled datums are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Published,
    Rejected,
    Expired,
}

/// Follows a set of datums through the outbox until each is published or dropped. Only the
/// outbox adds to it and settles it.
pub struct FlushTracker {
    counts: Mutex<FlushCounts>,
    settled: Notify,
    clock: SharedClock,
}

impl FlushTracker {
    pub fn new(clock: SharedClock) -> FlushTracker {
        FlushTracker { counts: Mutex::default(), settled: Notify::new(), clock }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FlushCounts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `n` more datums to follow.
    pub(crate) fn add(&self, n: usize) {
        self.lock().retrying += n as u64;
    }

    /// `n` followed datums are done with, as `how`.
    pub(crate) fn settle(&self, n: usize, how: Settled) {
        let mut c = self.lock();
        c.retrying -= n as u64;
        *match how {
            Settled::Published => &mut c.published,
            Settled::Rejected => &mut c.rejected,
            Settled::Expired => &mut c.expired,
        } += n as u64;
        if c.retrying == 0 {
            self.settled.notify_waiters();
        }
    }

    pub fn counts(&self) -> FlushCounts {
        *self.lock()
    }

    /// Waits until nothing tracked is left in the outbox, or until the clock's
    /// [`elapsed`](crate::clock::Clock::elapsed) reaches `deadline`.
    pub async fn wait(&self, deadline: Duration) -> FlushCounts {
        loop {
            // Registered before the check, so a settlement in between is not missed.
            let settled = self.settled.notified();
            if self.counts().retrying == 0 {
                return self.counts();
            }
            tokio::select! {
                _ = settled => {}
                _ = self.clock.sleep_until(deadline) => return self.counts(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn a_tracker_settles_when_its_datums_are_done() {
        let clock = ManualClock::new(0);
        let t = Arc::new(FlushTracker::new(clock.clone()));
        t.add(3);
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.wait(Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        t.settle(2, Settled::Published);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one datum is still retrying");
        t.settle(1, Settled::Rejected);
        let counts = waiter.await.unwrap();
        assert_eq!(counts, FlushCounts { published: 2, rejected: 1, expired: 0, retrying: 0 });
    }

    #[tokio::test]
    async fn a_tracker_stops_waiting_at_the_deadline_on_its_clock() {
        let clock = ManualClock::new(0);
        let t = Arc::new(FlushTracker::new(clock.clone()));
        t.add(4);
        t.settle(1, Settled::Expired);
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.wait(Duration::from_secs(10)).await })
        };
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "not at the deadline yet");
        clock.advance(Duration::from_secs(1));
        let counts = waiter.await.unwrap();
        assert_eq!(counts, FlushCounts { published: 0, rejected: 0, expired: 1, retrying: 3 });
    }

    #[tokio::test]
    async fn a_tracker_with_nothing_to_follow_returns_at_once() {
        let t = FlushTracker::new(ManualClock::new(0));
        assert_eq!(t.wait(Duration::ZERO).await, FlushCounts::default());
    }
}
