//! Histogram buckets (Prometheus `le` buckets, OTLP explicit and exponential histograms) as
//! CloudWatch values and counts. Pure.
//!
//! Each non-empty bucket becomes one value with the bucket's count. The value lies inside the
//! bucket, so a percentile is off by at most the bucket's width, and the values are chosen so
//! that the sum of value × count is the histogram's own sum: CloudWatch's SampleCount and Sum
//! come out exact. Known min and max are published as entries of their own (one sample each),
//! so that Minimum and Maximum are exact too.
//!
//! How the values are chosen: each starts at the middle of its bucket (for the first bucket of
//! an explicit histogram, which has no lower bound, the middle between 0 and its bound when
//! that is positive, as Prometheus' `histogram_quantile` assumes; for the overflow bucket, its
//! lower bound). The difference between the sum and what those values add up to is then
//! made up: upwards by the overflow bucket when there is one (it started at the least its
//! samples can be), else by every bucket in proportion to how far it can move; downwards by
//! every bucket in proportion to how far it can move (down to 0 for a first bucket without a
//! lower bound), and what is left by that first bucket.

use crate::domain::limits::MAX_VALUES_PER_DATUM;
use crate::domain::payload::GivenValues;

/// Why buckets could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    #[error("bucket counts: must have one more entry than the bounds ({bounds} bounds, {counts} counts)")]
    Arity { bounds: usize, counts: usize },
    #[error("bucket bounds: must be finite and strictly increasing")]
    Bounds,
    #[error("bucket counts: must be finite and not negative")]
    Counts,
}

/// One bucket: samples in (lo, hi], either side possibly infinite.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    lo: f64,
    hi: f64,
    count: f64,
}

/// Explicit-bound buckets: `counts[i]` samples in (bounds[i-1], bounds[i]], the last count
/// above every bound (`counts.len() == bounds.len() + 1`). Counts per bucket, not cumulative.
pub fn explicit(
    bounds: &[f64],
    counts: &[f64],
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<Vec<(f64, f64)>, BucketError> {
    if counts.len() != bounds.len() + 1 {
        return Err(BucketError::Arity { bounds: bounds.len(), counts: counts.len() });
    }
    if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err(BucketError::Bounds);
    }
    check_counts(counts)?;
    let buckets = counts.iter().enumerate().map(|(i, &count)| Bucket {
        lo: if i == 0 { f64::NEG_INFINITY } else { bounds[i - 1] },
        hi: bounds.get(i).copied().unwrap_or(f64::INFINITY),
        count,
    });
    Ok(representatives(buckets.collect(), sum, min, max))
}

/// An exponential histogram (OTLP): bucket `offset + k` of a side covers
/// (base^(offset+k), base^(offset+k+1)] in magnitude, with base = 2^(2^-scale).
#[derive(Debug, Clone, Copy)]
pub struct Exponential<'a> {
    pub scale: i32,
    pub zero_count: f64,
    pub zero_threshold: f64,
    pub positive_offset: i32,
    pub positive: &'a [f64],
    pub negative_offset: i32,
    pub negative: &'a [f64],
}

pub fn exponential<'a>(
    h: &Exponential<'a>,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
) -> Result<Vec<(f64, f64)>, BucketError> {
    check_counts(h.positive)?;
    check_counts(h.negative)?;
    check_counts(std::slice::from_ref(&h.zero_count))?;
    let bound = |index: i64| (index as f64 * (-h.scale as f64).exp2()).exp2();
    let side = |offset: i32, counts: &'a [f64], sign: f64| {
        counts.iter().enumerate().map(move |(k, &count)| {
            let (a, b) = (bound(offset as i64 + k as i64), bound(offset as i64 + k as i64 + 1));
            if sign > 0.0 { Bucket { lo: a, hi: b, count } } else { Bucket { lo: -b, hi: -a, count } }
        })
    };
    let t = h.zero_threshold.abs();
    let mut buckets: Vec<Bucket> = side(h.negative_offset, h.negative, -1.0).collect();
    buckets.reverse();
    buckets.push(Bucket { lo: -t, hi: t, count: h.zero_count });
    buckets.extend(side(h.positive_offset, h.positive, 1.0));
    Ok(representatives(buckets, sum, min, max))
}

/// The values of one histogram as the `values`/`counts` of as many records as it takes
/// (at most [`MAX_VALUES_PER_DATUM`] each).
pub fn given_values(pairs: &[(f64, f64)]) -> impl Iterator<Item = GivenValues> + '_ {
    pairs.chunks(MAX_VALUES_PER_DATUM).map(|chunk| GivenValues {
        values: Some(chunk.iter().map(|p| p.0).collect()),
        counts: Some(chunk.iter().map(|p| p.1).collect()),
        ..GivenValues::default()
    })
}

fn check_counts(counts: &[f64]) -> Result<(), BucketError> {
    if counts.iter().any(|c| !c.is_finite() || *c < 0.0) {
        return Err(BucketError::Counts);
    }
    Ok(())
}

fn representatives(mut buckets: Vec<Bucket>, sum: f64, min: Option<f64>, max: Option<f64>) -> Vec<(f64, f64)> {
    buckets.retain(|b| b.count > 0.0);
    let mut fixed = Vec::new();
    if let Some(min) = min.filter(|m| m.is_finite()) {
        take_one(buckets.first_mut(), min, &mut fixed);
    }
    if let Some(max) = max.filter(|m| m.is_finite()) {
        take_one(buckets.iter_mut().rev().find(|b| b.count > 0.0), max, &mut fixed);
    }
    for b in &mut buckets {
        if let Some(min) = min.filter(|m| m.is_finite()) {
            b.lo = b.lo.max(min);
        }
        if let Some(max) = max.filter(|m| m.is_finite()) {
            b.hi = b.hi.min(max);
        }
        if b.lo > b.hi {
            b.lo = b.hi;
        }
    }
    buckets.retain(|b| b.count > 0.0);
    let mut reps: Vec<f64> = buckets.iter().map(start).collect();
    if sum.is_finite() {
        let placed: f64 = fixed.iter().map(|(v, c)| v * c).sum::<f64>()
            + reps.iter().zip(&buckets).map(|(r, b)| r * b.count).sum::<f64>();
        let missing = sum - placed;
        if missing > 0.0 {
            raise(&buckets, &mut reps, missing);
        } else if missing < 0.0 {
            lower(&buckets, &mut reps, -missing);
        }
    }
    fixed.extend(reps.into_iter().zip(buckets.iter().map(|b| b.count)));
    fixed
}

fn take_one(bucket: Option<&mut Bucket>, value: f64, fixed: &mut Vec<(f64, f64)>) {
    if let Some(b) = bucket.filter(|b| b.count >= 1.0) {
        b.count -= 1.0;
        fixed.push((value, 1.0));
    }
}

/// Where a bucket's value starts.
fn start(b: &Bucket) -> f64 {
    match (b.lo.is_finite(), b.hi.is_finite()) {
        (true, true) => b.lo + (b.hi - b.lo) / 2.0,
        (false, true) if b.hi > 0.0 => b.hi / 2.0,
        (false, true) => b.hi,
        (true, false) => b.lo,
        (false, false) => 0.0,
    }
}

/// Raises the values so that they add `missing` (> 0) to the sum. A bucket without an upper
/// bound starts at its lower one, the least its samples can be: it takes all of it.
/// Otherwise every bucket moves towards its upper bound, in proportion to its room.
fn raise(buckets: &[Bucket], reps: &mut [f64], missing: f64) {
    let open: f64 = buckets.iter().filter(|b| b.hi.is_infinite()).map(|b| b.count).sum();
    if open > 0.0 {
        for (r, _) in reps.iter_mut().zip(buckets).filter(|(_, b)| b.hi.is_infinite()) {
            *r += missing / open;
        }
    } else {
        share(buckets, reps, missing, |b| b.hi);
    }
}

/// Lowers the values so that they take `missing` (> 0) off the sum: every bucket moves
/// towards its lower bound in proportion to its room (0 for a first bucket without one, as
/// its start assumed); what is left goes to a bucket without a lower bound.
fn lower(buckets: &[Bucket], reps: &mut [f64], missing: f64) {
    let soft = |b: &Bucket| if b.lo.is_finite() { b.lo } else { b.hi.min(0.0) };
    let left = share(buckets, reps, -missing, soft);
    let open: f64 = buckets.iter().filter(|b| b.lo.is_infinite()).map(|b| b.count).sum();
    if left < 0.0 && open > 0.0 {
        for (r, _) in reps.iter_mut().zip(buckets).filter(|(_, b)| b.lo.is_infinite()) {
            *r += left / open;
        }
    }
}

/// Moves every value towards `edge` by the same share of its room, so that together they
/// add `missing` (either sign) to the sum, as far as the room allows; returns what is left.
fn share(buckets: &[Bucket], reps: &mut [f64], missing: f64, edge: impl Fn(&Bucket) -> f64) -> f64 {
    let room: f64 = reps.iter().zip(buckets).map(|(r, b)| (edge(b) - r) * b.count).sum();
    if room == 0.0 || !room.is_finite() {
        return missing;
    }
    let share = (missing / room).clamp(0.0, 1.0);
    for (r, b) in reps.iter_mut().zip(buckets) {
        *r += share * (edge(b) - *r);
    }
    missing - share * room
}

#[cfg(test)]
#[path = "buckets_tests.rs"]
mod tests;
