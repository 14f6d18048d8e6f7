//! How long a failed PutMetricData waits before its next attempt.

use std::time::Duration;

pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// Exponential backoff with "equal jitter": half fixed, half random. `attempts` counts the
/// failed attempts so far, this one included.
pub fn backoff(attempts: u32) -> Duration {
    let exp = ceiling(attempts);
    exp / 2 + exp.mul_f64(fastrand::f64() / 2.0)
}

/// The most [`backoff`] waits after `attempts` failures; it waits at least half of that.
pub fn ceiling(attempts: u32) -> Duration {
    BACKOFF_BASE.saturating_mul(1 << attempts.saturating_sub(1).min(16)).min(BACKOFF_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempts in 1..40 {
            let d = backoff(attempts);
            let exp = BACKOFF_BASE.saturating_mul(1 << (attempts - 1).min(16)).min(BACKOFF_CAP);
            assert_eq!(ceiling(attempts), exp);
            assert!(d >= exp / 2 && d <= exp, "{attempts}: {d:?}");
        }
        assert!(backoff(40) <= BACKOFF_CAP);
    }
}
