//! Time, injected. Windows and timestamps read the wall clock; timers, backoff, the rate
//! limit and deadlines read a monotonic one. The sidecar's crate brings the clocks that sleep
//! on a runtime (the system's, and a manual one for tests); [`StillClock`] is time standing
//! still, for the pure code's own tests and benches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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

/// Wall-clock milliseconds since the Unix epoch (0 before 1970).
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Time that stands still at `now_ms`: a sleep that is not due already never ends.
pub struct StillClock {
    pub now_ms: i64,
}

impl StillClock {
    pub fn shared(now_ms: i64) -> SharedClock {
        Arc::new(StillClock { now_ms })
    }
}

impl Clock for StillClock {
    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn elapsed(&self) -> Duration {
        Duration::ZERO
    }

    fn sleep_until(&self, at: Duration) -> BoxSleep {
        match at.is_zero() {
            true => Box::pin(std::future::ready(())),
            false => Box::pin(std::future::pending()),
        }
    }
}
