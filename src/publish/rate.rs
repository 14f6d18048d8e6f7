//! The PutMetricData rate limit: at most the configured rate, halved when CloudWatch
//! throttles and raised again step by step after a quiet spell.
//!
//! A governor quota is fixed once built, so a change of rate swaps in a new limiter.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Throttles within this time of the last cut count as the same episode.
const CUT_SPACING: Duration = Duration::from_secs(1);
/// Quiet time before each step back up.
const RECOVERY_STEP: Duration = Duration::from_secs(5);

pub struct AdaptiveRate {
    max: u32,
    state: Mutex<State>,
}

struct State {
    current: u32,
    limiter: Arc<DefaultDirectRateLimiter>,
    last_change: Instant,
}

fn limiter(per_second: u32) -> Arc<DefaultDirectRateLimiter> {
    let n = NonZeroU32::new(per_second.max(1)).expect("at least 1");
    Arc::new(RateLimiter::direct(Quota::per_second(n)))
}

impl AdaptiveRate {
    pub fn new(max: u32) -> AdaptiveRate {
        let max = max.max(1);
        AdaptiveRate {
            max,
            state: Mutex::new(State { current: max, limiter: limiter(max), last_change: Instant::now() }),
        }
    }

    /// Waits until one more call is allowed.
    pub async fn acquire(&self) {
        let limiter = self.state.lock().unwrap_or_else(|e| e.into_inner()).limiter.clone();
        limiter.until_ready().await;
    }

    /// The rate now in force, in calls per second.
    pub fn current(&self) -> u32 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).current
    }

    pub fn on_throttle(&self) {
        self.on_throttle_at(Instant::now());
    }

    pub fn on_success(&self) {
        self.on_success_at(Instant::now());
    }

    /// Halves the rate, once per episode of throttling.
    pub fn on_throttle_at(&self, now: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let recently_cut = s.current < self.max && now.saturating_duration_since(s.last_change) < CUT_SPACING;
        if recently_cut || s.current == 1 {
            return;
        }
        s.current = (s.current / 2).max(1);
        s.limiter = limiter(s.current);
        s.last_change = now;
    }

    /// Raises the rate by a tenth of the maximum after each quiet [`RECOVERY_STEP`].
    pub fn on_success_at(&self, now: Instant) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.current >= self.max || now.saturating_duration_since(s.last_change) < RECOVERY_STEP {
            return;
        }
        s.current = (s.current + (self.max / 10).max(1)).min(self.max);
        s.limiter = limiter(s.current);
        s.last_change = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_halves_once_per_episode_and_success_recovers_in_steps() {
        let rate = AdaptiveRate::new(20);
        let t0 = Instant::now();
        rate.on_throttle_at(t0);
        assert_eq!(rate.current(), 10);
        rate.on_throttle_at(t0 + Duration::from_millis(100));
        assert_eq!(rate.current(), 10, "one episode, one cut");
        rate.on_throttle_at(t0 + Duration::from_secs(2));
        assert_eq!(rate.current(), 5);
        rate.on_success_at(t0 + Duration::from_secs(3));
        assert_eq!(rate.current(), 5, "not quiet long enough");
        rate.on_success_at(t0 + Duration::from_secs(7));
        assert_eq!(rate.current(), 7);
        for i in 2..10 {
            rate.on_success_at(t0 + Duration::from_secs(7 + 5 * i));
        }
        assert_eq!(rate.current(), 20);
    }

    #[test]
    fn the_rate_never_drops_below_one() {
        let rate = AdaptiveRate::new(2);
        let t0 = Instant::now();
        for i in 0..5 {
            rate.on_throttle_at(t0 + Duration::from_secs(2 * i));
        }
        assert_eq!(rate.current(), 1);
    }
}
