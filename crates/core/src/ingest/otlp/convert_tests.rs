use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, exponential_histogram_data_point, metric::Data,
    number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::*;
use crate::domain::payload::GivenValues;
use crate::ingest::otlp::attributes::text;

const STARTED_MS: i64 = 1_000_000;
const NOW_MS: i64 = 2_000_000;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        ..Default::default()
    }
}

fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: resource, ..Default::default() }),
            scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric { name: name.into(), unit: unit.into(), data: Some(data), ..Default::default() }
}

fn number(start_ms: u64, v: f64, attributes: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: start_ms * 1_000_000,
        time_unix_nano: 1_500_000 * 1_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn sum(points: Vec<NumberDataPoint>, temporality: i32, monotonic: bool) -> Data {
    Data::Sum(Sum { data_points: points, aggregation_temporality: temporality, is_monotonic: monotonic })
}

fn settings() -> Settings {
    Settings { resource_dimensions: vec!["service.name".into()], started_ms: STARTED_MS }
}

fn bounded(max_streams: usize, max_bytes: usize) -> Streams {
    Streams::new(crate::ingest::otlp::streams::Bounds { max_streams, max_bytes, idle_ms: 3_600_000 })
}

fn streams() -> Streams {
    bounded(100, 1 << 20)
}

/// Each candidate's single value, or its (values, counts).
fn values(c: &Converted<'_>) -> Vec<GivenValues> {
    c.candidates.iter().map(|c| c.values.clone()).collect()
}

fn single(v: f64) -> GivenValues {
    GivenValues { value: Some(v), ..GivenValues::default() }
}

fn run(req: &ExportMetricsServiceRequest, s: &mut Streams) -> Vec<GivenValues> {
    values(&convert(req, &settings(), s, NOW_MS))
}

#[test]
fn gauges_and_delta_sums_are_samples_in_the_mapped_unit() {
    let req = request(
        vec![kv("service.name", "api"), kv("host.name", "h1")],
        vec![
            metric("queue", "{item}", Data::Gauge(Gauge { data_points: vec![number(0, 7.0, vec![])] })),
            metric("latency", "ns", sum(vec![number(0, 2500.0, vec![kv("route", "/a")])], DELTA, true)),
        ],
    );
    let c = convert(&req, &settings(), &mut streams(), NOW_MS);
    assert_eq!(values(&c), vec![single(7.0), single(2.5)]);
    assert_eq!(c.candidates[0].unit.as_deref(), Some("Count"));
    assert_eq!(c.candidates[1].unit.as_deref(), Some("Microseconds"));
    assert_eq!(c.candidates[1].timestamp, Some(GivenTime::EpochMillis(1_500_000)));
    // Only the configured resource attribute is a dimension; the point's own come first.
    let dims: Vec<(String, String)> =
        c.candidates[1].dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(dims, vec![("route".into(), "/a".into()), ("service.name".into(), "api".into())]);
    assert_eq!((c.points.len(), c.empty, c.refused.len()), (2, 0, 0));
}

#[test]
fn a_cumulative_counter_baselines_then_publishes_increases_and_resets() {
    let mut s = streams();
    let counter = |start: u64, v: f64| {
        request(vec![], vec![metric("hits", "1", sum(vec![number(start, v, vec![])], CUMULATIVE, true))])
    };
    // Started before the sidecar: the first point only sets the baseline.
    assert_eq!(run(&counter(10, 100.0), &mut s), vec![]);
    assert_eq!(run(&counter(10, 103.0), &mut s), vec![single(3.0)]);
    assert_eq!(run(&counter(10, 103.0), &mut s), vec![single(0.0)], "no change is an increase of 0");
    // A lower value is a reset: the value is what was counted since.
    assert_eq!(run(&counter(10, 2.0), &mut s), vec![single(2.0)]);
    // A new start time is a reset too, even with a higher value.
    assert_eq!(run(&counter(20, 50.0), &mut s), vec![single(50.0)]);
    assert_eq!(run(&counter(20, 51.0), &mut s), vec![single(1.0)]);
}

#[test]
fn a_stream_started_after_the_sidecar_counts_from_zero() {
    let mut s = streams();
    let req =
        request(vec![], vec![metric("hits", "", sum(vec![number(STARTED_MS as u64, 4.0, vec![])], CUMULATIVE, true))]);
    assert_eq!(run(&req, &mut s), vec![single(4.0)]);
    // A stream without a start time cannot say: baseline.
    let req = request(vec![], vec![metric("other", "", sum(vec![number(0, 4.0, vec![])], CUMULATIVE, true))]);
    assert_eq!(run(&req, &mut s), vec![]);
}

#[test]
fn streams_are_told_apart_by_attributes_and_resource() {
    let mut s = streams();
    let req = |host: &str, route: &str, v: f64| {
        request(
            vec![kv("host.name", host)],
            vec![metric("hits", "", sum(vec![number(10, v, vec![kv("route", route)])], CUMULATIVE, true))],
        )
    };
    for (host, route) in [("a", "/x"), ("a", "/y"), ("b", "/x")] {
        assert_eq!(run(&req(host, route, 10.0), &mut s), vec![]);
    }
    assert_eq!(run(&req("b", "/x", 12.0), &mut s), vec![single(2.0)]);
    assert_eq!(run(&req("a", "/x", 15.0), &mut s), vec![single(5.0)]);
    assert_eq!(s.len(), 3);
}

#[test]
fn a_non_monotonic_cumulative_sum_is_a_gauge() {
    let req = request(vec![], vec![metric("inflight", "", sum(vec![number(10, -3.0, vec![])], CUMULATIVE, false))]);
    assert_eq!(run(&req, &mut streams()), vec![single(-3.0)]);
}

#[test]
fn an_unspecified_temporality_is_refused_with_the_field() {
    let req = request(vec![], vec![metric("x", "", sum(vec![number(10, 1.0, vec![])], 0, true))]);
    let c = convert(&req, &settings(), &mut streams(), NOW_MS);
    assert_eq!(c.refused.len(), 1);
    assert_eq!(c.refused[0].1.reason, OtlpReject::Temporality);
    assert_eq!(
        c.points[0].describe(&c.refused[0].1.message),
        "metric `x` (sum) dataPoints[0]: aggregationTemporality: must be 1 (DELTA) or 2 (CUMULATIVE), got 0"
    );
}

fn histogram(start_ms: u64, counts: &[u64], bounds: &[f64], sum: f64, min: f64, max: f64) -> HistogramDataPoint {
    HistogramDataPoint {
        start_time_unix_nano: start_ms * 1_000_000,
        time_unix_nano: 1_500_000 * 1_000_000,
        count: counts.iter().sum(),
        sum: Some(sum),
        bucket_counts: counts.to_vec(),
        explicit_bounds: bounds.to_vec(),
        min: Some(min),
        max: Some(max),
        ..Default::default()
    }
}

/// (SampleCount, Sum, Min, Max) of what the candidates carry.
fn stats(values: &[GivenValues]) -> (f64, f64, f64, f64) {
    let pairs: Vec<(f64, f64)> =
        values.iter().flat_map(|v| v.values.clone().unwrap().into_iter().zip(v.counts.clone().unwrap())).collect();
    let n = pairs.iter().map(|p| p.1).sum();
    let s = pairs.iter().map(|p| p.0 * p.1).sum();
    let min = pairs.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let max = pairs.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    (n, s, min, max)
}

#[test]
fn a_delta_histogram_keeps_count_sum_min_and_max() {
    let p = histogram(10, &[1, 2, 0, 1], &[10.0, 100.0, 1000.0], 1350.0, 5.0, 1200.0);
    let req = request(
        vec![],
        vec![metric("lat", "ms", Data::Histogram(Histogram { data_points: vec![p], aggregation_temporality: DELTA }))],
    );
    let v = run(&req, &mut streams());
    assert_eq!(stats(&v), (4.0, 1350.0, 5.0, 1200.0));
}

#[test]
fn a_cumulative_histogram_publishes_bucket_increases_without_the_points_min_and_max() {
    let mut s = streams();
    let h = |counts: &[u64], sum: f64| {
        let p = histogram(10, counts, &[10.0, 100.0], sum, 1.0, 500.0);
        request(
            vec![],
            vec![metric(
                "lat",
                "s",
                Data::Histogram(Histogram { data_points: vec![p], aggregation_temporality: CUMULATIVE }),
            )],
        )
    };
    assert_eq!(run(&h(&[1, 1, 1], 560.0), &mut s), vec![], "the baseline");
    // Two more in (10, 100], summing 100: min and max (1, 500) are the lifetime's, not these.
    let v = run(&h(&[1, 3, 1], 660.0), &mut s);
    let (n, sum, min, max) = stats(&v);
    assert_eq!((n, sum), (2.0, 100.0));
    assert!((10.0..=100.0).contains(&min) && (10.0..=100.0).contains(&max), "{min} {max}");
    assert!(run(&h(&[1, 3, 1], 660.0), &mut s).is_empty(), "no new samples: nothing to publish");
}

#[test]
fn inconsistent_buckets_are_refused() {
    let mut p = histogram(10, &[1, 2], &[10.0], 30.0, 1.0, 20.0);
    p.count = 5;
    let q = histogram(10, &[1, 2, 3], &[10.0], 30.0, 1.0, 20.0);
    let req = request(
        vec![],
        vec![metric("h", "", Data::Histogram(Histogram { data_points: vec![p, q], aggregation_temporality: DELTA }))],
    );
    let c = convert(&req, &settings(), &mut streams(), NOW_MS);
    assert_eq!(c.refused.iter().map(|r| r.1.reason).collect::<Vec<_>>(), vec![OtlpReject::Buckets; 2]);
    assert!(c.refused[0].1.message.starts_with("count: 5 is not the sum"), "{:?}", c.refused);
    assert!(c.refused[1].1.message.contains("one more entry than the bounds"), "{:?}", c.refused);
}

#[test]
fn an_exponential_histogram_of_many_buckets_spreads_over_candidates() {
    let counts: Vec<u64> = (0..200).map(|i| 1 + i % 3).collect();
    let total: u64 = counts.iter().sum();
    // A sum the buckets allow: every sample inside its bucket (base 2^(1/8) at scale 3).
    let sum: f64 = counts.iter().enumerate().map(|(i, &c)| c as f64 * ((i as f64 + 0.5) / 8.0).exp2()).sum();
    let p = ExponentialHistogramDataPoint {
        time_unix_nano: 1_500_000 * 1_000_000,
        count: total,
        sum: Some(sum),
        scale: 3,
        positive: Some(exponential_histogram_data_point::Buckets { offset: 0, bucket_counts: counts }),
        ..Default::default()
    };
    let data =
        Data::ExponentialHistogram(ExponentialHistogram { data_points: vec![p], aggregation_temporality: DELTA });
    let v = run(&request(vec![], vec![metric("e", "ms", data)]), &mut streams());
    assert_eq!(v.len(), 2, "200 buckets: 150 and 50");
    assert!(v.iter().all(|g| g.values.as_ref().unwrap().len() <= 150));
    let (n, s, _, _) = stats(&v);
    assert_eq!(n, total as f64);
    assert!((s - sum).abs() <= sum * 1e-12, "{s} {sum}");
}

#[test]
fn a_summary_publishes_count_and_sum_increases() {
    let mut s = streams();
    let summary = |count: u64, sum: f64| {
        let p = SummaryDataPoint {
            start_time_unix_nano: 10_000_000,
            time_unix_nano: 1_500_000_000_000,
            count,
            sum,
            ..Default::default()
        };
        request(vec![], vec![metric("rpc", "ms", Data::Summary(Summary { data_points: vec![p] }))])
    };
    assert!(run(&summary(10, 100.0), &mut s).is_empty());
    let v = run(&summary(14, 180.0), &mut s);
    assert_eq!(stats(&v), (4.0, 80.0, 20.0, 20.0));
}

#[test]
fn more_than_30_dimensions_are_refused_never_truncated() {
    let attrs: Vec<KeyValue> = (0..30).map(|i| kv(&format!("k{i}"), "v")).collect();
    let req = request(
        vec![kv("service.name", "api")],
        vec![metric(
            "g",
            "",
            Data::Gauge(Gauge {
                data_points: vec![number(0, 1.0, attrs.clone()), number(0, 1.0, attrs[..29].to_vec())],
            }),
        )],
    );
    let c = convert(&req, &settings(), &mut streams(), NOW_MS);
    assert_eq!(c.refused.len(), 1);
    assert_eq!(c.refused[0].0, 0);
    assert_eq!(c.refused[0].1.reason, OtlpReject::TooManyDimensions);
    assert!(c.refused[0].1.message.starts_with("attributes: 31 dimensions"), "{:?}", c.refused);
    assert_eq!(c.candidates.len(), 1);
    assert_eq!(c.candidates[0].dimensions.len(), 30, "29 attributes and service.name");
}

#[test]
fn the_bound_on_streams_refuses_new_ones() {
    let mut s = bounded(1, 1 << 20);
    let req = |route: &str| {
        request(vec![], vec![metric("hits", "", sum(vec![number(10, 1.0, vec![kv("r", route)])], CUMULATIVE, true))])
    };
    assert!(convert(&req("/a"), &settings(), &mut s, NOW_MS).refused.is_empty());
    let b = req("/b");
    let c = convert(&b, &settings(), &mut s, NOW_MS);
    assert_eq!(c.refused[0].1.reason, OtlpReject::TooManyStreams);
}

#[test]
fn undo_takes_a_request_back() {
    let mut s = streams();
    let counter =
        |v: f64| request(vec![], vec![metric("hits", "", sum(vec![number(10, v, vec![])], CUMULATIVE, true))]);
    let _ = convert(&counter(100.0), &settings(), &mut s, NOW_MS);
    let second = counter(110.0);
    let refused = convert(&second, &settings(), &mut s, NOW_MS);
    take_back(&mut s, refused.undo, |_| true, NOW_MS);
    // The retry publishes the same increase.
    assert_eq!(run(&counter(110.0), &mut s), vec![single(10.0)]);
}

#[test]
fn attribute_values_as_text() {
    let v = |value| text(Some(&AnyValue { value: Some(value) })).into_owned();
    assert_eq!(v(any_value::Value::IntValue(-3)), "-3");
    assert_eq!(v(any_value::Value::BoolValue(true)), "true");
    assert_eq!(v(any_value::Value::DoubleValue(1.5)), "1.5");
    assert_eq!(v(any_value::Value::StringValue(String::new())), "<empty>");
    assert_eq!(text(None), "<empty>");
}

/// Issue 25's findings 1, 7, 8 and 11 (OTLP), each with the issue's figures.
#[path = "findings_tests.rs"]
mod findings;
