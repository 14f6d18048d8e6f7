//! When a sample was taken: given as epoch milliseconds or RFC 3339, accepted within
//! CloudWatch's window (at most 14 days old, at most 2 hours ahead). All arithmetic is
//! checked, so no timestamp can wrap around into the window.

use std::borrow::Cow;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::error::{ValidationError, reject};
use crate::domain::limits::{MAX_AGE_MS, MAX_FUTURE_MS};
use crate::domain::units::Resolution;
use crate::reasons::RejectReason;

/// A timestamp as an input gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum GivenTime<'a> {
    EpochMillis(i64),
    Rfc3339(Cow<'a, str>),
}

/// A timestamp CloudWatch accepts for a datum of its resolution, in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Checks `given` (none means now) against `now_ms`.
    pub fn check(
        given: Option<&GivenTime<'_>>,
        resolution: Resolution,
        now_ms: i64,
    ) -> Result<Timestamp, ValidationError> {
        let ms = match given {
            None => now_ms,
            Some(GivenTime::EpochMillis(ms)) => *ms,
            Some(GivenTime::Rfc3339(text)) => OffsetDateTime::parse(text, &Rfc3339)
                .ok()
                .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok())
                .ok_or_else(|| {
                    reject(
                        RejectReason::Timestamp,
                        format!("timestamp: `{text}` is not an RFC 3339 date-time such as 2026-01-02T15:04:05Z"),
                    )
                })?,
        };
        let oldest = now_ms.saturating_sub(MAX_AGE_MS);
        // The window, not only the sample, must lie inside the 14 days: its datum carries its start.
        if ms < oldest || resolution.window_start(ms) < oldest {
            return Err(reject(RejectReason::Timestamp, "timestamp: must be at most 14 days old"));
        }
        if ms > now_ms.saturating_add(MAX_FUTURE_MS) {
            return Err(reject(RejectReason::Timestamp, "timestamp: must be at most 2 hours in the future"));
        }
        Ok(Timestamp(ms))
    }

    pub fn ms(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn check(ms: i64) -> Result<i64, String> {
        Timestamp::check(Some(&GivenTime::EpochMillis(ms)), Resolution::Standard, NOW)
            .map(Timestamp::ms)
            .map_err(|e| e.message)
    }

    #[test]
    fn the_window_is_fourteen_days_back_and_two_hours_ahead() {
        assert_eq!(check(NOW - 1000), Ok(NOW - 1000));
        assert_eq!(Timestamp::check(None, Resolution::High, NOW).unwrap().ms(), NOW);
        assert!(check(NOW - MAX_AGE_MS - 1).unwrap_err().contains("14 days"));
        assert!(check(NOW + MAX_FUTURE_MS + 1).unwrap_err().contains("2 hours"));
    }

    #[test]
    fn the_edges_of_i64_are_rejected_not_wrapped() {
        for ms in [i64::MIN, i64::MIN + 1, i64::MIN + 59_999, i64::MAX, i64::MAX - 1] {
            let e = Timestamp::check(Some(&GivenTime::EpochMillis(ms)), Resolution::Standard, NOW).unwrap_err();
            assert_eq!(e.reason, RejectReason::Timestamp, "{ms}");
            assert!(e.message.starts_with("timestamp: "), "{ms}: {}", e.message);
        }
    }

    #[test]
    fn rfc3339_is_parsed_and_garbage_named() {
        let text = GivenTime::Rfc3339(Cow::Borrowed("2027-01-15T08:00:00.250+02:00"));
        let now = 1_800_000_000_000; // 2027-01-15T08:00:00Z
        assert_eq!(Timestamp::check(Some(&text), Resolution::High, now).unwrap().ms(), now - 2 * 3600 * 1000 + 250);
        let bad = GivenTime::Rfc3339(Cow::Borrowed("yesterday"));
        assert!(Timestamp::check(Some(&bad), Resolution::High, now).unwrap_err().message.contains("RFC 3339"));
    }
}
