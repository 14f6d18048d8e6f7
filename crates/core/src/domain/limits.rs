//! CloudWatch's limits, each stated once (PutMetricData and MetricDatum in the API reference).

/// Characters in a namespace or a metric name.
pub const MAX_NAME_CHARS: usize = 255;
/// Characters in a dimension's name.
pub const MAX_DIMENSION_NAME_CHARS: usize = 255;
/// Characters in a dimension's value.
pub const MAX_DIMENSION_VALUE_CHARS: usize = 1024;
/// Dimensions on one datum, after the default dimensions are merged.
pub const MAX_DIMENSIONS: usize = 30;
/// How old a datum's timestamp may be: two weeks.
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// How far in the future a datum's timestamp may be: two hours.
pub const MAX_FUTURE_MS: i64 = 2 * 3600 * 1000;
/// Values (with their counts) in one datum.
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// Datums in one PutMetricData request.
pub const MAX_DATUMS_PER_REQUEST: usize = 1000;
/// Bytes of one PutMetricData body before compression (AWS says 1 MB; this is the safe reading).
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
/// Magnitude bounds of every number: 2^360 and 2^-360 (zero is allowed).
pub const MAX_MAGNITUDE: f64 = 2.348_542_582_773_833_2e108;
pub const MIN_MAGNITUDE: f64 = 4.257_959_840_008_151e-109;
/// What one record's counts, and separately its |value × count|, may add up to: 2^366
/// (64 × 2^360). A datum's count and sum stay within 2^360, so a record beyond that is split
/// over several datums; this keeps it to a few dozen.
pub const MAX_RECORD_TOTAL: f64 = 64.0 * MAX_MAGNITUDE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_magnitudes_are_exactly_two_to_the_360() {
        assert_eq!(MAX_MAGNITUDE, 2f64.powi(360));
        assert_eq!(MIN_MAGNITUDE, 2f64.powi(-360));
    }
}
