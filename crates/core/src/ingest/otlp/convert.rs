//! OTLP data points as candidates for the pipeline. Pure: the caller gives the request, the
//! cumulative state and the time, and submits what comes back.
//!
//! - Gauge, and a cumulative sum that is not monotonic: each point is a sample of its value.
//! - Sum with delta temporality: each point is a sample of its increment.
//! - Monotonic cumulative sum: the increase since the stream's previous point
//!   ([`crate::ingest::cumulative`]); 0 included; the first point only sets the baseline
//!   unless its start time is at or after the sidecar's own start (then it counts from zero).
//! - Histogram: bucket counts (increases when cumulative) as values and counts
//!   ([`crate::ingest::buckets`]); the point's min and max only with delta temporality,
//!   where they describe the same samples as the counts.
//! - Exponential histogram: likewise, more than 150 buckets spread over several candidates.
//! - Summary (cumulative by nature): count and sum as increases, published as the interval's
//!   mean weighted by its count, so that SampleCount and Sum are exact; quantiles are dropped.
//!
//! A stream is the resource (all its attributes), the scope, the metric name and the
//! point's attributes. A point needing more than 30 dimensions is refused, never truncated.

use std::borrow::Cow;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint, SummaryDataPoint, metric::Data,
    number_data_point,
};

use super::attributes::{encode_attributes, hash_of, push_str, text};
use super::units::{self, Mapped};
use crate::domain::dimensions::GivenDimensions;
use crate::domain::limits::MAX_DIMENSIONS;
use crate::domain::payload::GivenValues;
use crate::domain::timestamp::GivenTime;
use crate::ingest::buckets::{self, Exponential};
use crate::ingest::cumulative::{Change, First, Reading, Streams};
use crate::pipeline::candidate::Candidate;
use crate::reasons::OtlpReject;

const DELTA: i32 = 1;
const CUMULATIVE: i32 = 2;
/// `DataPointFlags.NO_RECORDED_VALUE`: the point marks a gap, it has no value.
const NO_RECORDED_VALUE: u32 = 1;

/// What the conversion needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Resource attributes kept as dimensions.
    pub resource_dimensions: Vec<String>,
    /// When the sidecar started: a stream that started at or after it counts from zero.
    pub started_ms: i64,
}

/// A cumulative stream's identity.
pub type StreamKey = Vec<u8>;

/// How to take back what a point did to the cumulative state (when the pipeline refuses the
/// request, its client retries it and the increases must come out again).
#[derive(Debug)]
pub enum Undo {
    Forget(StreamKey),
    Restore(StreamKey, Reading),
}

/// Where a point is, for messages.
#[derive(Debug, Clone, Copy)]
pub struct PointRef<'a> {
    pub metric: &'a str,
    pub kind: &'static str,
    pub index: usize,
}

impl PointRef<'_> {
    pub fn describe(&self, why: &str) -> String {
        format!("metric `{}` ({}) dataPoints[{}]: {why}", self.metric, self.kind, self.index)
    }
}

/// A point refused before the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub reason: OtlpReject,
    pub message: String,
}

fn refuse(reason: OtlpReject, message: impl Into<String>) -> Refused {
    Refused { reason, message: message.into() }
}

#[derive(Debug, Default)]
pub struct Converted<'a> {
    pub candidates: Vec<Candidate<'a>>,
    /// The point (index into `points`) each candidate came from.
    pub point_of: Vec<usize>,
    pub points: Vec<PointRef<'a>>,
    /// Points refused here, by index into `points`.
    pub refused: Vec<(usize, Refused)>,
    /// Points with nothing to publish: a baseline, a gap, a histogram without samples.
    pub empty: usize,
    pub undo: Vec<Undo>,
}

/// What the points of one metric share.
struct Common<'s, 'a> {
    name: &'a str,
    unit: Mapped,
    /// The resource attributes kept as dimensions.
    kept: &'s [(Cow<'a, str>, Cow<'a, str>)],
    /// Resource, scope and metric name: the stream key's start.
    identity: &'s [u8],
}

pub fn convert<'a>(
    request: &'a ExportMetricsServiceRequest,
    settings: &Settings,
    streams: &mut Streams<StreamKey>,
    now_ms: i64,
) -> Converted<'a> {
    let mut out = Converted::default();
    for rm in &request.resource_metrics {
        let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
        let kept: Vec<(Cow<'a, str>, Cow<'a, str>)> = settings
            .resource_dimensions
            .iter()
            .filter_map(|name| resource.iter().find(|kv| &kv.key == name))
            .map(|kv| (Cow::Borrowed(kv.key.as_str()), text(kv.value.as_ref())))
            .collect();
        let mut resource_id = Vec::new();
        encode_attributes(resource, &mut resource_id);
        for sm in &rm.scope_metrics {
            let mut scope_id = resource_id.clone();
            if let Some(scope) = &sm.scope {
                push_str(&mut scope_id, &scope.name);
                push_str(&mut scope_id, &scope.version);
            }
            for metric in &sm.metrics {
                let mut identity = scope_id.clone();
                push_str(&mut identity, &metric.name);
                let common =
                    Common { name: &metric.name, unit: units::map(&metric.unit), kept: &kept, identity: &identity };
                let mut c = Converter { common, settings, streams, now_ms, out: &mut out };
                match &metric.data {
                    Some(Data::Gauge(g)) => c.numbers("gauge", &g.data_points, None, false),
                    Some(Data::Sum(s)) => {
                        c.numbers("sum", &s.data_points, Some(s.aggregation_temporality), s.is_monotonic)
                    }
                    Some(Data::Histogram(h)) => c.histograms(&h.data_points, h.aggregation_temporality),
                    Some(Data::ExponentialHistogram(h)) => c.exponentials(&h.data_points, h.aggregation_temporality),
                    Some(Data::Summary(s)) => c.summaries(&s.data_points),
                    None => {}
                }
            }
        }
    }
    out
}

struct Converter<'s, 'a> {
    common: Common<'s, 'a>,
    settings: &'s Settings,
    streams: &'s mut Streams<StreamKey>,
    now_ms: i64,
    out: &'s mut Converted<'a>,
}

/// What one point amounts to.
enum Outcome {
    Publish(Vec<GivenValues>),
    Empty,
}

impl<'a> Converter<'_, 'a> {
    fn numbers(
        &mut self,
        kind: &'static str,
        points: &'a [NumberDataPoint],
        temporality: Option<i32>,
        monotonic: bool,
    ) {
        for (index, p) in points.iter().enumerate() {
            // Dimensions first: a point refused for them leaves no cumulative state behind.
            let outcome = self.dimensions(&p.attributes).and_then(|d| Ok((d, self.number(p, temporality, monotonic)?)));
            self.finish(kind, index, p.time_unix_nano, outcome);
        }
    }

    fn number(&mut self, p: &NumberDataPoint, temporality: Option<i32>, monotonic: bool) -> Result<Outcome, Refused> {
        let value = match p.value {
            Some(number_data_point::Value::AsDouble(v)) => v,
            Some(number_data_point::Value::AsInt(v)) => v as f64,
            None if p.flags & NO_RECORDED_VALUE != 0 => return Ok(Outcome::Empty),
            None => return Err(refuse(OtlpReject::Value, "value: neither asDouble nor asInt is set")),
        };
        let factor = self.common.unit.factor;
        let single = |v: f64| Outcome::Publish(vec![GivenValues { value: Some(v * factor), ..GivenValues::default() }]);
        match temporality {
            None => Ok(single(value)),
            Some(CUMULATIVE) if !monotonic => Ok(single(value)),
            Some(DELTA) => Ok(single(value)),
            Some(CUMULATIVE) => {
                let reading = Reading { start_ms: ms(p.start_time_unix_nano), shape: 0, counts: vec![value], sum: 0.0 };
                Ok(match self.observe(&p.attributes, reading)? {
                    Some((counts, _)) => single(counts[0]),
                    None => Outcome::Empty,
                })
            }
            Some(t) => Err(temporality_error(t)),
        }
    }

    fn histograms(&mut self, points: &'a [HistogramDataPoint], temporality: i32) {
        for (index, p) in points.iter().enumerate() {
            let outcome = self.dimensions(&p.attributes).and_then(|d| Ok((d, self.histogram(p, temporality)?)));
            self.finish("histogram", index, p.time_unix_nano, outcome);
        }
    }

    fn histogram(&mut self, p: &HistogramDataPoint, temporality: i32) -> Result<Outcome, Refused> {
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Ok(Outcome::Empty);
        }
        let buckets: Vec<f64> = p.bucket_counts.iter().map(|&c| c as f64).collect();
        if !buckets.is_empty() && p.bucket_counts.iter().fold(0u64, |a, &c| a.saturating_add(c)) != p.count {
            return Err(refuse(OtlpReject::Buckets, format!("count: {} is not the sum of bucketCounts", p.count)));
        }
        let f = self.common.unit.factor;
        let bounds: Vec<f64> = p.explicit_bounds.iter().map(|b| b * f).collect();
        let sum = p.sum.map_or(f64::NAN, |s| s * f);
        let (count, buckets, sum, min, max) = match temporality {
            DELTA => (p.count as f64, buckets, sum, p.min.map(|m| m * f), p.max.map(|m| m * f)),
            CUMULATIVE => {
                let mut counts = vec![p.count as f64];
                counts.extend(&buckets);
                let shape = hash_of(&(p.explicit_bounds.iter().map(|b| b.to_bits()).collect::<Vec<_>>()));
                let reading = Reading { start_ms: ms(p.start_time_unix_nano), shape, counts, sum: sum_or_zero(sum) };
                match self.observe(&p.attributes, reading)? {
                    Some((counts, delta_sum)) => {
                        (counts[0], counts[1..].to_vec(), if sum.is_nan() { sum } else { delta_sum }, None, None)
                    }
                    None => return Ok(Outcome::Empty),
                }
            }
            t => return Err(temporality_error(t)),
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

    fn exponentials(&mut self, points: &'a [ExponentialHistogramDataPoint], temporality: i32) {
        for (index, p) in points.iter().enumerate() {
            let outcome = self.dimensions(&p.attributes).and_then(|d| Ok((d, self.exponential(p, temporality)?)));
            self.finish("exponentialHistogram", index, p.time_unix_nano, outcome);
        }
    }

    fn exponential(&mut self, p: &ExponentialHistogramDataPoint, temporality: i32) -> Result<Outcome, Refused> {
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Ok(Outcome::Empty);
        }
        if !(-10..=20).contains(&p.scale) {
            return Err(refuse(OtlpReject::Buckets, format!("scale: {} is outside -10..=20", p.scale)));
        }
        let side = |b: &Option<_>| {
            let b: Option<&opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets> =
                b.as_ref();
            (b.map_or(0, |b| b.offset), b.map_or(Vec::new(), |b| b.bucket_counts.iter().map(|&c| c as f64).collect()))
        };
        let (pos_offset, pos) = side(&p.positive);
        let (neg_offset, neg) = side(&p.negative);
        let f = self.common.unit.factor;
        let sum = p.sum.map_or(f64::NAN, |s| s * f);
        let (zero, pos, neg, sum, min, max) = match temporality {
            DELTA => (p.zero_count as f64, pos, neg, sum, p.min.map(|m| m * f), p.max.map(|m| m * f)),
            CUMULATIVE => {
                let mut counts = vec![p.count as f64, p.zero_count as f64];
                counts.extend(&pos);
                counts.extend(&neg);
                let shape =
                    hash_of(&(p.scale, pos_offset, pos.len(), neg_offset, neg.len(), p.zero_threshold.to_bits()));
                let reading = Reading { start_ms: ms(p.start_time_unix_nano), shape, counts, sum: sum_or_zero(sum) };
                match self.observe(&p.attributes, reading)? {
                    Some((c, delta_sum)) => {
                        let (pos, neg) = c[2..].split_at(pos.len());
                        (c[1], pos.to_vec(), neg.to_vec(), if sum.is_nan() { sum } else { delta_sum }, None, None)
                    }
                    None => return Ok(Outcome::Empty),
                }
            }
            t => return Err(temporality_error(t)),
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

    fn summaries(&mut self, points: &'a [SummaryDataPoint]) {
        for (index, p) in points.iter().enumerate() {
            let outcome = self.dimensions(&p.attributes).and_then(|d| Ok((d, self.summary(p)?)));
            self.finish("summary", index, p.time_unix_nano, outcome);
        }
    }

    fn summary(&mut self, p: &SummaryDataPoint) -> Result<Outcome, Refused> {
        if p.flags & NO_RECORDED_VALUE != 0 {
            return Ok(Outcome::Empty);
        }
        let f = self.common.unit.factor;
        let reading =
            Reading { start_ms: ms(p.start_time_unix_nano), shape: 0, counts: vec![p.count as f64], sum: p.sum * f };
        match self.observe(&p.attributes, reading)? {
            Some((counts, sum)) if counts[0] > 0.0 => {
                Ok(Outcome::Publish(buckets::given_values(&[(sum / counts[0], counts[0])]).collect()))
            }
            _ => Ok(Outcome::Empty),
        }
    }

    /// The increase of a cumulative stream, or `None` when the reading only sets a baseline.
    fn observe(&mut self, attributes: &[KeyValue], reading: Reading) -> Result<Option<(Vec<f64>, f64)>, Refused> {
        let mut key = self.common.identity.to_vec();
        encode_attributes(attributes, &mut key);
        let first = match reading.start_ms {
            Some(start) if start >= self.settings.started_ms => First::FromZero,
            _ => First::Baseline,
        };
        let before = self.streams.len();
        let kept = reading.clone();
        let change = self.streams.observe(key.clone(), reading, first, self.now_ms);
        let new_stream = self.streams.len() > before;
        let (undo, result) = match change {
            Change::TooManyStreams => {
                return Err(refuse(
                    OtlpReject::TooManyStreams,
                    "the sidecar already tracks max_streams cumulative streams: this new stream is not tracked",
                ));
            }
            Change::Baseline => (Undo::Forget(key), None),
            Change::Rebased | Change::Reset(_) if !new_stream => {
                let result = match change {
                    Change::Reset(d) => Some((d.counts, d.sum)),
                    _ => None,
                };
                (Undo::Forget(key), result)
            }
            Change::Increase(d) if !new_stream => {
                let previous = Reading {
                    counts: kept.counts.iter().zip(&d.counts).map(|(n, d)| n - d).collect(),
                    sum: kept.sum - d.sum,
                    ..kept
                };
                (Undo::Restore(key, previous), Some((d.counts, d.sum)))
            }
            Change::Increase(d) | Change::Reset(d) => (Undo::Forget(key), Some((d.counts, d.sum))),
            Change::Rebased => (Undo::Forget(key), None),
        };
        self.out.undo.push(undo);
        Ok(result)
    }

    /// Records a point's outcome: its candidates, or why it was refused.
    fn finish(
        &mut self,
        kind: &'static str,
        index: usize,
        time_unix_nano: u64,
        outcome: Result<(GivenDimensions<'a>, Outcome), Refused>,
    ) {
        let point = self.out.points.len();
        self.out.points.push(PointRef { metric: self.common.name, kind, index });
        let (dimensions, values) = match outcome {
            Err(refused) => return self.out.refused.push((point, refused)),
            Ok((_, Outcome::Empty)) => {
                self.out.empty += 1;
                return;
            }
            Ok((dimensions, Outcome::Publish(values))) => (dimensions, values),
        };
        let timestamp = ms(time_unix_nano).map(GivenTime::EpochMillis);
        for v in values {
            self.out.candidates.push(Candidate {
                name: Some(Cow::Borrowed(self.common.name)),
                unit: Some(Cow::Borrowed(self.common.unit.unit.as_str())),
                dimensions: dimensions.clone(),
                timestamp: timestamp.clone(),
                values: v,
                ..Candidate::default()
            });
            self.out.point_of.push(point);
        }
    }

    /// The point's attributes, then the kept resource attributes it does not override.
    fn dimensions(&self, attributes: &'a [KeyValue]) -> Result<GivenDimensions<'a>, Refused> {
        let mut d: GivenDimensions<'a> =
            attributes.iter().map(|kv| (Cow::Borrowed(kv.key.as_str()), text(kv.value.as_ref()))).collect();
        for (k, v) in self.common.kept {
            if !attributes.iter().any(|kv| kv.key == *k) {
                d.push((k.clone(), v.clone()));
            }
        }
        if d.len() > MAX_DIMENSIONS {
            return Err(refuse(
                OtlpReject::TooManyDimensions,
                format!(
                    "attributes: {} dimensions (the point's attributes and the kept resource attributes), \
                     CloudWatch allows at most {MAX_DIMENSIONS}: refused, not truncated",
                    d.len()
                ),
            ));
        }
        Ok(d)
    }
}

fn temporality_error(t: i32) -> Refused {
    refuse(OtlpReject::Temporality, format!("aggregationTemporality: must be 1 (DELTA) or 2 (CUMULATIVE), got {t}"))
}

/// Nanoseconds since the epoch as milliseconds; 0 (unset) is `None`.
fn ms(ns: u64) -> Option<i64> {
    (ns > 0).then_some((ns / 1_000_000) as i64)
}

fn sum_or_zero(sum: f64) -> f64 {
    if sum.is_finite() { sum } else { 0.0 }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
