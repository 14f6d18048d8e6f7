//! The PutMetricData rate limit: at most the configured rate, halved when CloudWatch
//! throttles and raised again step by step after a quiet spell.
//!
//! The limiter is a GCRA ("generic cell rate") on the injected clock: calls are spaced
//! `1/rate` apart, and up to one second's worth may go at once after a quiet spell, as
//! with governor's `Quota::per_second`. A change of rate keeps the schedule: calls already
//! spaced out stay spaced out, and a cut never hands out a fresh burst.

use std::sync::Mutex;
use std::time::Duration;

use crate::clock::SharedClock;

/// Throttles within this time of the last cut count as the same episode.
const CUT_SPACING: Duration = Duration::from_secs(1);
/// Quiet time before each step back up.
const RECOVERY_STEP: Duration = Duration::from_secs(5);

/// Calls spaced `interval` apart, with a burst of up to one second's worth. Times are the
/// clock's `elapsed`.
#[derive(Debug)]
struct Gcra {
    /// 1 s / rate.
    interval: Duration,
    /// How far ahead of the schedule a call may go: one second's worth less one call.
    tolerance: Duration,
    /// The theoretical arrival time of the next call were calls exactly `interval` apart.
    tat: Duration,
}

impl Gcra {
    fn new(per_second: u32) -> Gcra {
        let mut g = Gcra { interval: Duration::ZERO, tolerance: Duration::ZERO, tat: Duration::ZERO };
        g.set_rate(per_second);
        g
    }

    fn set_rate(&mut self, per_second: u32) {
        self.interval = Duration::from_secs(1) / per_second.max(1);
        self.tolerance = Duration::from_secs(1).saturating_sub(self.interval);
    }

    /// Books the next call and returns when it may go (`now` or later).
    fn reserve(&mut self, now: Duration) -> Duration {
        let tat = self.tat.max(now);
        self.tat = tat + self.interval;
        tat.saturating_sub(self.tolerance).max(now)
    }
}

pub struct AdaptiveRate {
    max: u32,
    clock: SharedClock,
    state: Mutex<State>,
}

struct State {
    current: u32,
    limiter: Gcra,
    last_change: Duration,
}

impl AdaptiveRate {
    pub fn new(max: u32, clock: SharedClock) -> AdaptiveRate {
        let max = max.max(1);
        let state = State { current: max, limiter: Gcra::new(max), last_change: clock.elapsed() };
        AdaptiveRate { max, clock, state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until one more call is allowed. The call is booked when this is first polled:
    /// dropping the future before it resolves gives nothing back.
    pub async fn acquire(&self) {
        let now = self.clock.elapsed();
        let at = self.lock().limiter.reserve(now);
        if at > now {
            self.clock.sleep_until(at).await;
        }
    }

    /// The rate now in force, in calls per second.
    pub fn current(&self) -> u32 {
        self.lock().current
    }

    pub fn on_throttle(&self) {
        self.on_throttle_at(self.clock.elapsed());
    }

    pub fn on_success(&self) {
        self.on_success_at(self.clock.elapsed());
    }

    /// Halves the rate, once per episode of throttling.
    pub fn on_throttle_at(&self, now: Duration) {
        let mut s = self.lock();
        let recently_cut = s.current < self.max && now.saturating_sub(s.last_change) < CUT_SPACING;
        if recently_cut || s.current == 1 {
            return;
        }
        s.current = (s.current / 2).max(1);
        let current = s.current;
        s.limiter.set_rate(current);
        s.last_change = now;
    }

    /// Raises the rate by a tenth of the maximum after each quiet [`RECOVERY_STEP`].
    pub fn on_success_at(&self, now: Duration) {
        let mut s = self.lock();
        if s.current >= self.max || now.saturating_sub(s.last_change) < RECOVERY_STEP {
            return;
        }
        s.current = (s.current + (self.max / 10).max(1)).min(self.max);
        let current = s.current;
        s.limiter.set_rate(current);
        s.last_change = now;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    const T0: Duration = Duration::from_secs(100);

    #[test]
    fn throttling_halves_once_per_episode_and_success_recovers_in_steps() {
        let rate = AdaptiveRate::new(20, ManualClock::new(0));
        let t0 = T0;
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
        let rate = AdaptiveRate::new(2, ManualClock::new(0));
        for i in 0..5 {
            rate.on_throttle_at(T0 + Duration::from_secs(2 * i));
        }
        assert_eq!(rate.current(), 1);
    }

    #[test]
    fn the_limiter_allows_one_seconds_burst_then_spaces_calls() {
        let mut g = Gcra::new(4);
        let now = Duration::from_secs(10);
        let times: Vec<Duration> = (0..7).map(|_| g.reserve(now)).collect();
        let ms: Vec<u128> = times.iter().map(|t| (*t - now).as_millis()).collect();
        assert_eq!(ms, vec![0, 0, 0, 0, 250, 500, 750]);
        // After a quiet second the burst is back, and no more than that.
        let later = now + Duration::from_secs(3);
        let ms: Vec<u128> = (0..5).map(|_| (g.reserve(later) - later).as_millis()).collect();
        assert_eq!(ms, vec![0, 0, 0, 0, 250]);
    }

    #[test]
    fn a_rate_of_one_allows_no_burst() {
        let mut g = Gcra::new(1);
        let ms: Vec<u128> = (0..3).map(|_| g.reserve(Duration::ZERO).as_millis()).collect();
        assert_eq!(ms, vec![0, 1000, 2000]);
    }

    #[test]
    fn a_cut_keeps_the_schedule_and_spaces_calls_at_the_new_rate() {
        let mut g = Gcra::new(10);
        for _ in 0..10 {
            assert_eq!(g.reserve(Duration::ZERO), Duration::ZERO);
        }
        g.set_rate(5);
        // The burst is spent: the next calls come 200 ms apart, not five at once.
        let ms: Vec<u128> = (0..3).map(|_| g.reserve(Duration::ZERO).as_millis()).collect();
        assert_eq!(ms, vec![200, 400, 600]);
    }

    #[tokio::test]
    async fn acquire_waits_on_the_injected_clock() {
        let clock = ManualClock::new(0);
        let rate = Arc::new(AdaptiveRate::new(2, clock.clone()));
        rate.acquire().await;
        rate.acquire().await;
        let third = tokio::spawn({
            let rate = rate.clone();
            async move { rate.acquire().await }
        });
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        assert!(!third.is_finished(), "the burst of two is spent");
        clock.advance(Duration::from_millis(499));
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        clock.advance(Duration::from_millis(1));
        third.await.unwrap();
        assert_eq!(clock.elapsed(), Duration::from_millis(500));
    }
}
