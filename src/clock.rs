//! The clocks that sleep on tokio (the [`Clock`] trait is the core's): production uses
//! [`SystemClock`]; tests that would otherwise sleep use [`ManualClock`] and move time
//! themselves.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub use cw_core::clock::{BoxSleep, Clock, SharedClock, system_now_ms};

/// The system's clocks; sleeps are tokio's (so they also follow tokio's paused time).
pub struct SystemClock {
    start: tokio::time::Instant,
}

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock { start: tokio::time::Instant::now() })
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_now_ms()
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep_until(&self, at: Duration) -> BoxSleep {
        Box::pin(tokio::time::sleep_until(self.start + at))
    }
}

/// A clock that moves only when told to: wall time is `start_ms` plus what was advanced.
pub struct ManualClock {
    start_ms: i64,
    elapsed: watch::Sender<Duration>,
}

impl ManualClock {
    pub fn new(start_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock { start_ms, elapsed: watch::Sender::new(Duration::ZERO) })
    }

    /// Moves time forward by `d`, waking every sleep that is due.
    pub fn advance(&self, d: Duration) {
        self.elapsed.send_modify(|e| *e += d);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.start_ms.saturating_add(self.elapsed().as_millis() as i64)
    }

    fn elapsed(&self) -> Duration {
        *self.elapsed.borrow()
    }

    fn sleep_until(&self, at: Duration) -> BoxSleep {
        let mut rx = self.elapsed.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; a dropped clock never wakes anyone.
            if rx.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_only_when_advanced_far_enough() {
        let clock = ManualClock::new(1_000_000);
        let sleep = tokio::spawn(clock.sleep(Duration::from_secs(10)));
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert!(!sleep.is_finished());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), sleep).await.unwrap().unwrap();
        assert_eq!(clock.now_ms(), 1_010_000);
        assert_eq!(clock.elapsed(), Duration::from_secs(10));
    }
}
