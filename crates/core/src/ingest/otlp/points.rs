//! What each OTLP point kind becomes (see [`super::convert`] for the rules), and the checks a
//! point passes before it may touch a cumulative stream:
//! - a number point has a value; a cumulative one is finite, and a monotonic sum is never
//!   negative (delta or cumulative);
//! - a histogram's `count` is the sum of its bucket counts (summed without overflow), its
//!   bounds fit its counts, and `min <= max`;
//! - an exponential histogram's `count` is `zeroCount` plus every bucket count, its scale is
//!   in -10..=20, `min <= max`, and its buckets lie within the range of a double: a bucket
//!   whose lower bound is beyond `f64::MAX`, or whose upper bound is below the smallest
//!   double, cannot exist (the data model bounds the indexes by the range of a double), and the
//!   point is refused whole (`buckets`) as it would be for any other impossible bucket. Buckets
//!   within the range of a double but outside CloudWatch's (magnitudes in 2^-360..2^360) are
//!   refused by the pipeline's value rule, like any such value.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, SummaryDataPoint, number_data_point,
};

use super::attributes::hash_of;
use super::convert::{
    CUMULATIVE, Converter, DELTA, NO_RECORDED_VALUE, Observed, Outcome, Refused, ms, refuse, temporality_error,
};
use super::streams::Reading;
use crate::domain::dimensions::GivenDimensions;
use crate::domain::payload::GivenValues;
use crate::ingest::buckets::{self, Exponential};
use crate::reasons::OtlpReject;

impl<'a> Converter<'_, 'a> {
    pub(super) fn numbers(
        &mut self,
        kind: &'static str,
        points: &'a [NumberDataPoint],
        temporality: Option<i32>,
        monotonic: bool,
    ) {
        self.each(kind, points, |c, p, d| c.number(kind, p, d, temporality, monotonic));
    }

    /// Each point of a kind: refused as the decoder found it, or else its dimensions and what
    /// `convert` makes of it; then finished (counted, published or refused).
    fn each<P: Point>(
        &mut self,
        kind: &'static str,
        points: &'a [P],
        mut convert: impl FnMut(&mut Self, &P, &GivenDimensions<'a>) -> Result<Outcome, Refused>,
    ) {
        for (index, p) in points.iter().enumerate() {
            let outcome = match self.fault(kind, index) {
                Some(refused) => Err(refused),
                None => self.dimensions(p.attributes()).and_then(|d| {
                    let o = convert(self, p, &d)?;
                    Ok((d, o))
                }),
            };
            self.finish(kind, index, p.time_unix_nano(), outcome);
        }
    }

    fn number(
        &mut self,
        kind: &'static str,
        p: &NumberDataPoint,
        dimensions: &GivenDimensions<'a>,
        temporality: Option<i32>,
        monotonic: bool,
    ) -> Result<Outcome, Refused> {
        let (field, value) = match p.value {
            Some(number_data_point::Value::AsDouble(v)) => ("asDouble", v),
            Some(number_data_point::Value::AsInt(v)) => ("asInt", v as f64),
            None if p.flags & NO_RECORDED_VALUE != 0 => return Ok(Outcome::Empty),
            None => return Err(refuse(OtlpReject::Value, "value: neither asDouble nor asInt is set")),
        };
        if monotonic && temporality.is_some() && value < 0.0 {
            return Err(refuse(OtlpReject::Value, format!("{field}: a monotonic sum cannot be negative, got {value}")));
        }
        let factor = self.common.unit.factor;
        let single = |v: f64| Outcome::Publish(vec![GivenValues { value: Some(v * factor), ..GivenValues::default() }]);
        match temporality {
            None => Ok(single(value)),
            Some(CUMULATIVE) if !monotonic => Ok(single(value)),
            Some(DELTA) => Ok(single(value)),
            Some(CUMULATIVE) => {
                if !value.is_finite() {
                    return Err(refuse(
                        OtlpReject::Value,
                        format!("{field}: a cumulative sum must be a finite number, got {value}"),
                    ));
                }
                let reading = Reading { start_ms: ms(p.start_time_unix_nano), shape: 0, counts: vec![value], sum: 0.0 };
                let o = Observed { kind, dimensions, time_unix_nano: p.time_unix_nano, reading };
                Ok(match self.observe(o)? {
                    Some((counts, _)) => single(counts[0]),
                    None => Outcome::Empty,
                })
            }
            Some(t) => Err(temporality_error(t)),
        }
    }

    pub(super) fn histograms(&mut self, points: &'a [HistogramDataPoint], temporality: i32) {
        self.each("histogram", points, |c, p, d| c.histogram(p, d, temporality));
    }

    fn histogram(
        &mut self,
        p: &HistogramDataPoint,
        dimensions: &GivenDimensions<'a>,
        temporality: i32,
    ) -> Result<Outcome, Refused> {
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Ok(Outcome::Empty);
        }
        if temporality != DELTA && temporality != CUMULATIVE {
            return Err(temporality_error(temporality));
        }
        if !p.bucket_counts.is_empty() {
            count_check(p.count, 0, &[&p.bucket_counts], "the sum of bucketCounts")?;
            if p.bucket_counts.len() != p.explicit_bounds.len() + 1 {
                let e = buckets::BucketError::Arity { bounds: p.explicit_bounds.len(), counts: p.bucket_counts.len() };
                return Err(refuse(OtlpReject::Buckets, e.to_string()));
            }
            if p.explicit_bounds.iter().any(|b| !b.is_finite()) || p.explicit_bounds.windows(2).any(|w| w[0] >= w[1]) {
                return Err(refuse(OtlpReject::Buckets, buckets::BucketError::Bounds.to_string()));
            }
        } else if !p.explicit_bounds.is_empty() {
            return Err(refuse(OtlpReject::Buckets, "explicitBounds: given without bucketCounts"));
        }
        min_max(p.min, p.max)?;
        let buckets: Vec<f64> = p.bucket_counts.iter().map(|&c| c as f64).collect();
        let f = self.common.unit.factor;
        let bounds: Vec<f64> = p.explicit_bounds.iter().map(|b| b * f).collect();
        let sum = p.sum.map_or(f64::NAN, |s| s * f);
        let (count, buckets, sum, min, max) = if temporality == DELTA {
            (p.count as f64, buckets, sum, p.min.map(|m| m * f), p.max.map(|m| m * f))
        } else {
            let mut counts = vec![p.count as f64];
            counts.extend(&buckets);
            let shape = hash_of(&(p.explicit_bounds.iter().map(|b| b.to_bits()).collect::<Vec<_>>()));
            let reading = Reading { start_ms: ms(p.start_time_unix_nano), shape, counts, sum: sum_or_zero(sum) };
            let o = Observed { kind: "histogram", dimensions, time_unix_nano: p.time_unix_nano, reading };
            match self.observe(o)? {
                Some((counts, delta_sum)) => {
                    (counts[0], counts[1..].to_vec(), if sum.is_nan() { sum } else { delta_sum }, None, None)
                }
                None => return Ok(Outcome::Empty),
            }
        };
        if count <= 0.0 {
            return Ok(Outcome::Empty);
        }
        let pairs = if buckets.is_empty() {
            // Count and sum only: the mean, weighted by the count.
            vec![(if sum.is_finite() { sum / count } else { 0.0 }, count)]
        } else {
            buckets::explicit(&bounds, &buckets, sum, min, max)
                .map_err(|e| refuse(OtlpReject::Buckets, e.to_string()))?
        };
        Ok(Outcome::Publish(buckets::given_values(&pairs).collect()))
    }

    pub(super) fn exponentials(&mut self, points: &'a [ExponentialHistogramDataPoint], temporality: i32) {
        self.each("exponentialHistogram", points, |c, p, d| c.exponential(p, d, temporality));
    }

    fn exponential(
        &mut self,
        p: &ExponentialHistogramDataPoint,
        dimensions: &GivenDimensions<'a>,
        temporality: i32,
    ) -> Result<Outcome, Refused> {
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Ok(Outcome::Empty);
        }
        if temporality != DELTA && temporality != CUMULATIVE {
            return Err(temporality_error(temporality));
        }
        if !(-10..=20).contains(&p.scale) {
            return Err(refuse(OtlpReject::Buckets, format!("scale: {} is outside -10..=20", p.scale)));
        }
        count_check(
            p.count,
            u128::from(p.zero_count),
            &[counts(&p.positive), counts(&p.negative)],
            "zeroCount plus the positive and negative bucketCounts",
        )?;
        min_max(p.min, p.max)?;
        in_range("positive", p.scale, p.positive.as_ref())?;
        in_range("negative", p.scale, p.negative.as_ref())?;
        let side = |b: &Option<Buckets>| {
            (b.as_ref().map_or(0, |b| b.offset), counts(b).iter().map(|&c| c as f64).collect::<Vec<f64>>())
        };
        let (pos_offset, pos) = side(&p.positive);
        let (neg_offset, neg) = side(&p.negative);
        let f = self.common.unit.factor;
        let sum = p.sum.map_or(f64::NAN, |s| s * f);
        let (zero, pos, neg, sum, min, max) = if temporality == DELTA {
            (p.zero_count as f64, pos, neg, sum, p.min.map(|m| m * f), p.max.map(|m| m * f))
        } else {
            let mut counts = vec![p.count as f64, p.zero_count as f64];
            counts.extend(&pos);
            counts.extend(&neg);
            let shape = hash_of(&(p.scale, pos_offset, pos.len(), neg_offset, neg.len(), p.zero_threshold.to_bits()));
            let reading = Reading { start_ms: ms(p.start_time_unix_nano), shape, counts, sum: sum_or_zero(sum) };
            let o = Observed { kind: "exponentialHistogram", dimensions, time_unix_nano: p.time_unix_nano, reading };
            match self.observe(o)? {
                Some((c, delta_sum)) => {
                    let (pos, neg) = c[2..].split_at(pos.len());
                    (c[1], pos.to_vec(), neg.to_vec(), if sum.is_nan() { sum } else { delta_sum }, None, None)
                }
                None => return Ok(Outcome::Empty),
            }
        };
        if zero + pos.iter().sum::<f64>() + neg.iter().sum::<f64>() <= 0.0 {
            return Ok(Outcome::Empty);
        }
        // Bucket bounds are in the instrument's unit: the values are scaled afterwards, and
        // the sum, min and max with them.
        let unscaled = |v: Option<f64>| v.map(|v| v / f);
        let h = Exponential {
            scale: p.scale,
            zero_count: zero,
            zero_threshold: p.zero_threshold,
            positive_offset: pos_offset,
            positive: &pos,
            negative_offset: neg_offset,
            negative: &neg,
        };
        let pairs = buckets::exponential(&h, sum / f, unscaled(min), unscaled(max))
            .map_err(|e| refuse(OtlpReject::Buckets, e.to_string()))?;
        let pairs: Vec<(f64, f64)> = pairs.into_iter().map(|(v, c)| (v * f, c)).collect();
        Ok(Outcome::Publish(buckets::given_values(&pairs).collect()))
    }

    pub(super) fn summaries(&mut self, points: &'a [SummaryDataPoint]) {
        self.each("summary", points, |c, p, d| c.summary(p, d));
    }

    fn summary(&mut self, p: &SummaryDataPoint, dimensions: &GivenDimensions<'a>) -> Result<Outcome, Refused> {
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Ok(Outcome::Empty);
        }
        if !p.sum.is_finite() {
            return Err(refuse(OtlpReject::Value, format!("sum: must be a finite number, got {}", p.sum)));
        }
        let f = self.common.unit.factor;
        let reading =
            Reading { start_ms: ms(p.start_time_unix_nano), shape: 0, counts: vec![p.count as f64], sum: p.sum * f };
        let o = Observed { kind: "summary", dimensions, time_unix_nano: p.time_unix_nano, reading };
        match self.observe(o)? {
            Some((counts, sum)) if counts[0] > 0.0 => {
                Ok(Outcome::Publish(buckets::given_values(&[(sum / counts[0], counts[0])]).collect()))
            }
            _ => Ok(Outcome::Empty),
        }
    }
}

/// `count` is `base` plus every count of `lists`, summed exactly (`u128`: no overflow).
fn count_check(count: u64, base: u128, lists: &[&[u64]], what: &str) -> Result<(), Refused> {
    let total = lists.iter().flat_map(|l| l.iter()).fold(base, |a, &c| a + u128::from(c));
    if total != u128::from(count) {
        return Err(refuse(OtlpReject::Buckets, format!("count: {count} is not {what} ({total})")));
    }
    Ok(())
}

fn min_max(min: Option<f64>, max: Option<f64>) -> Result<(), Refused> {
    match (min, max) {
        (Some(lo), Some(hi)) if lo > hi => {
            Err(refuse(OtlpReject::Buckets, format!("min: {lo} is greater than max: {hi}")))
        }
        _ => Ok(()),
    }
}

/// Every bucket of a side within the range of a double: the first one's upper bound above 0,
/// the last one's lower bound finite (bounds computed as [`buckets::exponential`] does).
fn in_range(side: &str, scale: i32, b: Option<&Buckets>) -> Result<(), Refused> {
    let Some(b) = b.filter(|b| !b.bucket_counts.is_empty()) else { return Ok(()) };
    let bound = |index: i64| (index as f64 * (-scale as f64).exp2()).exp2();
    let first = i64::from(b.offset);
    let last = first + b.bucket_counts.len() as i64 - 1;
    if bound(first + 1) > 0.0 && bound(last).is_finite() {
        return Ok(());
    }
    Err(refuse(
        OtlpReject::Buckets,
        format!(
            "{side}: buckets {first}..={last} at scale {scale} lie beyond the range of a double \
             (bucket i covers (2^(i/2^scale), 2^((i+1)/2^scale)])"
        ),
    ))
}

fn counts(b: &Option<Buckets>) -> &[u64] {
    b.as_ref().map_or(&[][..], |b| b.bucket_counts.as_slice())
}

fn sum_or_zero(sum: f64) -> f64 {
    if sum.is_finite() { sum } else { 0.0 }
}

/// What [`Converter::each`] needs of every point kind.
trait Point {
    fn attributes(&self) -> &[KeyValue];
    fn time_unix_nano(&self) -> u64;
}

macro_rules! point {
    ($($t:ty),*) => {$(
        impl Point for $t {
            fn attributes(&self) -> &[KeyValue] {
                &self.attributes
            }
            fn time_unix_nano(&self) -> u64 {
                self.time_unix_nano
            }
        }
    )*};
}
point!(NumberDataPoint, HistogramDataPoint, ExponentialHistogramDataPoint, SummaryDataPoint);
