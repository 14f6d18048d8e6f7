//! OTLP data points as candidates for the pipeline. Pure: the caller gives the request, the
//! cumulative state and the time, and submits what comes back. What each point kind becomes
//! is in [`super::points`]; the cumulative state in [`super::streams`].
//!
//! - Gauge, and a cumulative sum that is not monotonic: each point is a sample of its value.
//! - Sum with delta temporality: each point is a sample of its increment.
//! - Monotonic cumulative sum: the increase since the stream's previous point; 0 included; the
//!   first point only sets the baseline unless its start time is at or after the sidecar's own
//!   start (then it counts from zero). A monotonic sum is never negative.
//! - Histogram: bucket counts (increases when cumulative) as values and counts
//!   ([`crate::ingest::buckets`]); the point's min and max only with delta temporality,
//!   where they describe the same samples as the counts.
//! - Exponential histogram: likewise, more than 150 buckets spread over several candidates.
//! - Summary (cumulative by nature): count and sum as increases, published as the interval's
//!   mean weighted by its count, so that SampleCount and Sum are exact; quantiles are dropped.
//!
//! A stream is the resource (all its attributes), the scope, the metric name, the point kind
//! and the dimensions the point publishes, known by a fixed-size hash of all that. A point
//! needing more than 30 dimensions is refused, never truncated. A point is checked whole (its
//! dimensions, name and timestamp as the pipeline will check them, its value, its buckets)
//! before it may touch a stream: a refused point never becomes a stream's last reading.

use std::borrow::Cow;
use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use super::attributes::text;
use super::streams::{Change, First, Full, KeyHasher, Reading, StreamKey, Streams};
use super::units::{self, Mapped};
use crate::domain::dimensions::{DefaultDimensions, Dimensions, GivenDimensions};
use crate::domain::error::ValidationError;
use crate::domain::limits::MAX_DIMENSIONS;
use crate::domain::names::MetricName;
use crate::domain::timestamp::{GivenTime, Timestamp};
use crate::domain::units::Resolution;
use crate::pipeline::candidate::Candidate;
use crate::reasons::{OtlpReject, RejectReason};

pub(super) const DELTA: i32 = 1;
pub(super) const CUMULATIVE: i32 = 2;
/// `DataPointFlags.NO_RECORDED_VALUE`: the point marks a gap, it has no value.
pub(super) const NO_RECORDED_VALUE: u32 = 1;

/// What the conversion needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Resource attributes kept as dimensions.
    pub resource_dimensions: Vec<String>,
    /// When the sidecar started: a stream that started at or after it counts from zero.
    pub started_ms: i64,
}

/// How to take back what a point did to the cumulative state: the reading it replaced (none
/// when it made the stream). When the pipeline refuses the request, its client retries it and
/// the increases must come out again; when the pipeline rejects the point, it must leave the
/// stream as it found it.
#[derive(Debug)]
pub struct Undo {
    /// The point (index into `points`).
    pub point: usize,
    pub key: StreamKey,
    pub previous: Option<Reading>,
}

/// Takes back, latest first, what the points that `take` names did to `streams` (all of them
/// when a request is refused as a whole). A stream a later point of the request touched again
/// is left as that point left it: its reading is the newer one.
pub fn take_back(streams: &mut Streams, undo: Vec<Undo>, take: impl Fn(usize) -> bool, now_ms: i64) {
    let mut later: Vec<StreamKey> = Vec::new();
    for u in undo.into_iter().rev() {
        if take(u.point) && !later.contains(&u.key) {
            streams.restore(u.key, u.previous, now_ms);
        } else {
            later.push(u.key);
        }
    }
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

/// Where a point is in the request, by position: how the decoder names a point it found
/// wrong before the request was built (a number beyond the range of a double in OTLP JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PointAt {
    pub resource: usize,
    pub scope: usize,
    pub metric: usize,
    /// `gauge`, `sum`, `histogram`, `exponentialHistogram` or `summary`.
    pub kind: &'static str,
    pub index: usize,
}

/// Points the decoder already refused, by position.
pub type Faults = HashMap<PointAt, Refused>;

/// A point refused before the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub reason: OtlpReject,
    /// The pipeline's rule it broke, when the reason is [`OtlpReject::Invalid`] (counted in
    /// `records_rejected_total` as the pipeline's own rejections are).
    pub rule: Option<RejectReason>,
    pub message: String,
}

pub(super) fn refuse(reason: OtlpReject, message: impl Into<String>) -> Refused {
    Refused { reason, rule: None, message: message.into() }
}

fn invalid(e: ValidationError) -> Refused {
    Refused { reason: OtlpReject::Invalid, rule: Some(e.reason), message: e.message }
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
pub(super) struct Common<'s, 'a> {
    pub name: &'a str,
    pub unit: Mapped,
    /// The resource attributes kept as dimensions.
    kept: &'s [(Cow<'a, str>, Cow<'a, str>)],
    /// Resource, scope and metric name: where the stream keys start.
    identity: StreamKey,
    /// The metric name's problem, if CloudWatch would refuse it.
    name_error: Option<Refused>,
}

/// Converts a request whose points the decoder found no fault with.
pub fn convert<'a>(
    request: &'a ExportMetricsServiceRequest,
    settings: &Settings,
    streams: &mut Streams,
    now_ms: i64,
) -> Converted<'a> {
    convert_with(request, &Faults::new(), settings, streams, now_ms)
}

/// Converts a request; the points in `faults` are refused as they say, untouched otherwise.
pub fn convert_with<'a>(
    request: &'a ExportMetricsServiceRequest,
    faults: &Faults,
    settings: &Settings,
    streams: &mut Streams,
    now_ms: i64,
) -> Converted<'a> {
    let mut out = Converted::default();
    for (r, rm) in request.resource_metrics.iter().enumerate() {
        let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
        let kept: Vec<(Cow<'a, str>, Cow<'a, str>)> = settings
            .resource_dimensions
            .iter()
            .filter_map(|name| resource.iter().find(|kv| &kv.key == name))
            .map(|kv| (Cow::Borrowed(kv.key.as_str()), text(kv.value.as_ref())))
            .collect();
        let mut h = streams.hasher();
        write_attributes(&mut h, resource);
        let resource_id = h.finish();
        for (s, sm) in rm.scope_metrics.iter().enumerate() {
            let mut h = streams.hasher();
            h.write_key(resource_id);
            if let Some(scope) = &sm.scope {
                h.write_str(&scope.name);
                h.write_str(&scope.version);
            }
            let scope_id = h.finish();
            for (m, metric) in sm.metrics.iter().enumerate() {
                let mut h = streams.hasher();
                h.write_key(scope_id);
                h.write_str(&metric.name);
                let common = Common {
                    name: &metric.name,
                    unit: units::map(&metric.unit),
                    kept: &kept,
                    identity: h.finish(),
                    name_error: MetricName::parse(&metric.name).err().map(invalid),
                };
                let at = |kind, index| PointAt { resource: r, scope: s, metric: m, kind, index };
                let mut c = Converter { common, settings, streams, now_ms, out: &mut out, faults, at: &at };
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

/// Attributes into a key, in key order (their order on the wire is not part of the identity).
fn write_attributes(h: &mut KeyHasher, attributes: &[KeyValue]) {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for kv in sorted {
        h.write_str(&kv.key);
        h.write_str(&text(kv.value.as_ref()));
    }
}

pub(super) struct Converter<'s, 'a> {
    pub common: Common<'s, 'a>,
    settings: &'s Settings,
    streams: &'s mut Streams,
    now_ms: i64,
    out: &'s mut Converted<'a>,
    faults: &'s Faults,
    at: &'s dyn Fn(&'static str, usize) -> PointAt,
}

/// What one point amounts to.
pub(super) enum Outcome {
    Publish(Vec<crate::domain::payload::GivenValues>),
    Empty,
}

/// One cumulative point, for [`Converter::observe`].
pub(super) struct Observed<'d, 'a> {
    pub kind: &'static str,
    pub dimensions: &'d GivenDimensions<'a>,
    pub time_unix_nano: u64,
    pub reading: Reading,
}

impl<'a> Converter<'_, 'a> {
    /// A point the decoder refused already.
    pub fn fault(&self, kind: &'static str, index: usize) -> Option<Refused> {
        if self.faults.is_empty() {
            return None;
        }
        self.faults.get(&(self.at)(kind, index)).cloned()
    }

    /// The increase of a cumulative stream, or `None` when the reading only sets a baseline.
    /// The point is checked as the pipeline will check it first: a point it would refuse must
    /// not become the stream's last reading.
    pub fn observe(&mut self, o: Observed<'_, 'a>) -> Result<Option<(Vec<f64>, f64)>, Refused> {
        if let Some(e) = &self.common.name_error {
            return Err(e.clone());
        }
        let defaults = DefaultDimensions::default();
        Dimensions::merge(o.dimensions, &[], &defaults).map_err(invalid)?;
        let timestamp = ms(o.time_unix_nano).map(GivenTime::EpochMillis);
        Timestamp::check(timestamp.as_ref(), Resolution::Standard, self.now_ms).map_err(invalid)?;
        let mut h = self.streams.hasher();
        h.write_key(self.common.identity);
        h.write_str(o.kind);
        let mut sorted: Vec<&(Cow<'_, str>, Cow<'_, str>)> = o.dimensions.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, v) in sorted {
            h.write_str(k);
            h.write_str(v);
        }
        let key = h.finish();
        let first = match o.reading.start_ms {
            Some(start) if start >= self.settings.started_ms => First::FromZero,
            _ => First::Baseline,
        };
        let (change, previous) =
            self.streams.observe(key, o.reading, first, self.now_ms).map_err(|full| match full {
                Full::Streams => refuse(
                    OtlpReject::TooManyStreams,
                    "the sidecar already tracks max_streams cumulative streams: this new stream is not tracked",
                ),
                Full::Bytes => refuse(
                    OtlpReject::StreamStateFull,
                    "the cumulative streams already hold max_stream_state_bytes: this stream is not tracked",
                ),
            })?;
        self.out.undo.push(Undo { point: self.out.points.len(), key, previous });
        Ok(match change {
            Change::Increase(d) | Change::Reset(d) => Some((d.counts, d.sum)),
            Change::Baseline | Change::Rebased | Change::TooManyStreams => None,
        })
    }

    /// Records a point's outcome: its candidates, or why it was refused.
    pub fn finish(
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
    pub fn dimensions(&self, attributes: &'a [KeyValue]) -> Result<GivenDimensions<'a>, Refused> {
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

pub(super) fn temporality_error(t: i32) -> Refused {
    refuse(OtlpReject::Temporality, format!("aggregationTemporality: must be 1 (DELTA) or 2 (CUMULATIVE), got {t}"))
}

/// Nanoseconds since the epoch as milliseconds; 0 (unset) is `None`.
pub(super) fn ms(ns: u64) -> Option<i64> {
    (ns > 0).then_some((ns / 1_000_000) as i64)
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
