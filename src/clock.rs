//! Time, injected. Windows and timestamps read the wall clock; timers, backoff, the rate
//! limit and deadlines read a monotonic one. Production uses [`SystemClock`]; tests that
//! would otherwise sleep use [`ManualClock`] and move time themselves.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub type BoxSleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + 'static {
    /// Wall-clock milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Monotonic time since the clock was made.
    fn elapsed(&self) -> Duration;
    /// Resolves once [`Clock::elapsed`] reaches `at`.
    fn sleep_until(&self, at: Duration) -> BoxSleep;

    /// Resolves after `d` of this clock's time.
    fn sleep(&self, d: Duration) -> BoxSleep {
        self.sleep_until(self.elapsed().saturating_add(d))
    }
}

pub type SharedClock = Arc<dyn Clock>;

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

/// Wall-clock milliseconds since the Unix epoch (0 before 1970).
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
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
