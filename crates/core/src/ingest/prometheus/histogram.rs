//! Prometheus classic histograms (`_bucket{le}` samples, cumulative in `le`, with `_count`
//! and `_sum`) as cumulative readings, and the increase between two readings as CloudWatch
//! values and counts: what the scrape and remote-write inputs share. Pure.

use std::hash::{Hash, Hasher};

use crate::domain::payload::GivenValues;
use crate::ingest::buckets::{self, BucketError};
use crate::ingest::cumulative::{Delta, Reading};

/// A histogram's `(le, cumulative count)` buckets, `_count` and `_sum` as finite bounds and a
/// reading `[count, per-bucket counts...]` (its shape a hash of the bounds); none when its
/// buckets are not cumulative, or it has neither `+Inf` bucket nor `_count`, or no `_sum`.
pub fn reading(
    buckets: &[(f64, f64)],
    count: Option<f64>,
    sum: Option<f64>,
    created_ms: Option<i64>,
) -> Option<(Vec<f64>, Reading)> {
    let mut buckets = buckets.to_vec();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.windows(2).any(|w| w[0].0 == w[1].0) || buckets.iter().any(|b| b.0.is_nan()) {
        return None;
    }
    // The `+Inf` bucket is the count. A `_count` read a moment apart from the buckets (a client
    // that does not snapshot them together) may differ from it: the buckets win, and the
    // difference is made up by the next reading's increase.
    match (buckets.last(), count) {
        (Some(&(le, _)), _) if le == f64::INFINITY => {}
        (_, Some(count)) => buckets.push((f64::INFINITY, count)),
        (_, None) => return None,
    }
    let count = buckets.last()?.1;
    let sum = sum?;
    if !sum.is_finite() || buckets.iter().any(|b| !b.1.is_finite() || b.1 < 0.0) {
        return None;
    }
    let mut counts = Vec::with_capacity(buckets.len() + 1);
    counts.push(count);
    let mut below = 0.0;
    for &(_, cumulative) in &buckets {
        if cumulative < below {
            return None;
        }
        counts.push(cumulative - below);
        below = cumulative;
    }
    let bounds: Vec<f64> = buckets[..buckets.len() - 1].iter().map(|b| b.0).collect();
    Some((bounds.clone(), Reading { start_ms: created_ms, shape: shape(&bounds), counts, sum }))
}

/// The shape of a reading with these finite bounds: the same for the same bounds, in every
/// process (the hasher's keys are fixed).
pub fn shape(bounds: &[f64]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bounds.iter().for_each(|b| b.to_bits().hash(&mut h));
    h.finish()
}

/// The increase between two readings of a histogram with these bounds as the values and
/// counts of as many records as it takes; none when it counted no sample.
pub fn values(bounds: &[f64], delta: &Delta) -> Result<Vec<GivenValues>, BucketError> {
    if delta.counts.first().is_none_or(|&c| c <= 0.0) {
        return Ok(Vec::new());
    }
    let pairs = buckets::explicit(bounds, &delta.counts[1..], delta.sum, None, None)?;
    Ok(buckets::given_values(&pairs).collect())
}
