//! Issue 25's OTLP findings, as the hostile-input run reproduced them on the conversion: each
//! test failed on the code before the fix.

use super::*;
use crate::ingest::otlp::budget::{Bounds as Budget, Refusal};
use crate::ingest::otlp::wire::{self, Encoding};
use prost::Message;

fn counter(start: u64, v: f64, attributes: Vec<KeyValue>) -> Metric {
    metric("hits", "", sum(vec![number(start, v, attributes)], CUMULATIVE, true))
}

fn reasons(c: &Converted<'_>) -> Vec<OtlpReject> {
    c.refused.iter().map(|r| r.1.reason).collect()
}

fn exponential(count: u64, scale: i32, offset: i32, counts: Vec<u64>) -> ExportMetricsServiceRequest {
    let p = ExponentialHistogramDataPoint {
        time_unix_nano: 1_500_000 * 1_000_000,
        count,
        scale,
        positive: Some(exponential_histogram_data_point::Buckets { offset, bucket_counts: counts }),
        ..Default::default()
    };
    let data =
        Data::ExponentialHistogram(ExponentialHistogram { data_points: vec![p], aggregation_temporality: DELTA });
    request(vec![], vec![metric("e", "ms", data)])
}

#[test]
fn finding_1_a_megabyte_resource_costs_a_stream_no_more_than_any_other() {
    let mut s = streams();
    let huge = "x".repeat(1 << 20);
    let points: Vec<NumberDataPoint> = (0..100).map(|i| number(10, 1.0, vec![kv("i", &i.to_string())])).collect();
    let req = request(
        vec![kv("service.name", "api"), kv("blob", &huge)],
        vec![metric("hits", "", sum(points, CUMULATIVE, true))],
    );
    let c = convert(&req, &settings(), &mut s, NOW_MS);
    assert_eq!((c.empty, c.refused.len()), (100, 0), "100 baselines");
    assert_eq!(s.len(), 100);
    // Each stream is charged its fixed part and one count: the megabyte is in none of them.
    assert_eq!(s.bytes(), 100 * (crate::ingest::otlp::streams::STREAM_BYTES + 8));
}

#[test]
fn finding_1_a_streams_first_point_is_validated_before_it_makes_a_stream() {
    let mut s = streams();
    let long = "v".repeat(2_000);
    let points: Vec<NumberDataPoint> =
        (0..200).map(|i| number(10, 1.0, vec![kv("i", &format!("{i}{long}"))])).collect();
    let req = request(vec![], vec![metric("hits", "", sum(points, CUMULATIVE, true))]);
    let c = convert(&req, &settings(), &mut s, NOW_MS);
    assert_eq!(reasons(&c), vec![OtlpReject::Invalid; 200], "a 2,000-character dimension value");
    assert!(c.refused[0].1.message.contains("1024") || c.refused[0].1.message.contains("1,024"), "{:?}", c.refused[0]);
    assert_eq!(s.len(), 0, "no stream made by a refused point");
}

#[test]
fn finding_7_a_rejected_nan_never_becomes_the_streams_last_reading() {
    let mut s = streams();
    assert_eq!(run(&request(vec![], vec![counter(10, 100.0, vec![])]), &mut s), vec![]);
    let nan = request(vec![], vec![counter(10, f64::NAN, vec![])]);
    let c = convert(&nan, &settings(), &mut s, NOW_MS);
    assert_eq!(reasons(&c), vec![OtlpReject::Value]);
    // The next valid point is the increase since the last one taken, not "got NaN".
    let next = request(vec![], vec![counter(10, 110.0, vec![])]);
    let c = convert(&next, &settings(), &mut s, NOW_MS);
    assert_eq!((values(&c), c.refused.len()), (vec![single(10.0)], 0), "{:?}", c.refused);
}

#[test]
fn finding_7_a_negative_monotonic_sum_is_refused_delta_or_cumulative() {
    let mut s = streams();
    for temporality in [DELTA, CUMULATIVE] {
        let req = request(vec![], vec![metric("hits", "", sum(vec![number(10, -5.0, vec![])], temporality, true))]);
        let c = convert(&req, &settings(), &mut s, NOW_MS);
        assert_eq!((reasons(&c), c.candidates.len()), (vec![OtlpReject::Value], 0), "temporality {temporality}");
        assert!(c.refused[0].1.message.contains("-5"), "{:?}", c.refused[0]);
    }
    assert_eq!(s.len(), 0);
}

#[test]
fn finding_7_a_start_time_flipping_between_two_values_publishes_no_increase() {
    let mut s = streams();
    let mut published = 0.0;
    // The later start time first (a first move forward would be a reset, rightly).
    assert_eq!(run(&request(vec![], vec![counter(20, 100.0, vec![])]), &mut s), vec![]);
    for i in 0..200 {
        let start = if i % 2 == 0 { 10 } else { 20 };
        for v in run(&request(vec![], vec![counter(start, 100.0, vec![])]), &mut s) {
            published += v.value.unwrap();
        }
    }
    assert_eq!(published, 0.0, "the true increase is 0 (200 was published before the fix)");
}

#[test]
fn finding_8_a_count_check_that_would_overflow_refuses_the_point() {
    let mut p = histogram(10, &[5], &[], 1.0, 1.0, 1.0);
    p.bucket_counts = vec![u64::MAX, 5];
    p.explicit_bounds = vec![10.0];
    p.count = u64::MAX;
    let req = request(
        vec![],
        vec![metric("h", "", Data::Histogram(Histogram { data_points: vec![p], aggregation_temporality: DELTA }))],
    );
    let c = convert(&req, &settings(), &mut streams(), NOW_MS);
    assert_eq!((reasons(&c), c.candidates.len()), (vec![OtlpReject::Buckets], 0));
    assert!(c.refused[0].1.message.contains("18446744073709551620"), "the exact sum: {:?}", c.refused[0]);
}

#[test]
fn finding_8_min_above_max_is_refused() {
    let p = histogram(10, &[1, 1], &[10.0], 50.0, 100.0, -5.0);
    let req = request(
        vec![],
        vec![metric("h", "", Data::Histogram(Histogram { data_points: vec![p], aggregation_temporality: DELTA }))],
    );
    let c = convert(&req, &settings(), &mut streams(), NOW_MS);
    assert_eq!((reasons(&c), c.candidates.len()), (vec![OtlpReject::Buckets], 0));
    assert!(c.refused[0].1.message.contains("min: 100 is greater than max: -5"), "{:?}", c.refused[0]);
}

#[test]
fn finding_8_an_exponential_count_is_checked_against_its_buckets() {
    let wrong = exponential(100, 0, 0, vec![1, 2, 3]);
    let c = convert(&wrong, &settings(), &mut streams(), NOW_MS);
    assert_eq!((reasons(&c), c.candidates.len()), (vec![OtlpReject::Buckets], 0));
    assert!(c.refused[0].1.message.starts_with("count: 100 is not"), "{:?}", c.refused[0]);
    // The same buckets with their true count publish their 6 samples.
    let right = exponential(6, 0, 0, vec![1, 2, 3]);
    let c = convert(&right, &settings(), &mut streams(), NOW_MS);
    assert_eq!(c.refused.len(), 0, "{:?}", c.refused);
    assert_eq!(values(&c).iter().map(|v| v.counts.as_ref().unwrap().iter().sum::<f64>()).sum::<f64>(), 6.0);
}

#[test]
fn finding_8_exponential_buckets_beyond_a_double_are_refused_at_either_end() {
    // Published as 0.0 before (huge), while tiny ones refused the point: now both refuse it.
    for offset in [1_100, -1_200] {
        let req = exponential(2, 0, offset, vec![1, 1]);
        let c = convert(&req, &settings(), &mut streams(), NOW_MS);
        assert_eq!((reasons(&c), c.candidates.len()), (vec![OtlpReject::Buckets], 0), "offset {offset}");
        assert!(c.refused[0].1.message.contains("beyond the range of a double"), "{:?}", c.refused[0]);
    }
}

fn json_counter(value: &str) -> String {
    format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"g","gauge":{{"dataPoints":[
        {{"timeUnixNano":"1500000000000000","asDouble":{value}}},
        {{"timeUnixNano":"1500000000000000","asDouble":2.5}}]}}}}]}}]}}]}}"#
    )
}

#[test]
fn finding_11_json_nan_as_a_string_is_nan_not_no_value() {
    let body = json_counter(r#""NaN""#);
    let d = wire::decode(body.as_bytes(), Encoding::Json, Budget::default()).unwrap();
    let c = convert_with(&d.request, &d.faults, &settings(), &mut streams(), NOW_MS);
    // A gauge's NaN goes to the pipeline as NaN, which refuses it as not finite; before, the
    // decoder dropped the string and the point was refused as having no value.
    assert_eq!((c.refused.len(), c.candidates.len()), (0, 2), "{:?}", c.refused);
    assert!(values(&c)[0].value.is_some_and(f64::is_nan), "{:?}", values(&c));
    assert_eq!(values(&c)[1], single(2.5), "the other point is published");
    // A number in quotes is that number.
    let body = json_counter(r#""7.25""#);
    let d = wire::decode(body.as_bytes(), Encoding::Json, Budget::default()).unwrap();
    let c = convert_with(&d.request, &d.faults, &settings(), &mut streams(), NOW_MS);
    assert_eq!(values(&c), vec![single(7.25), single(2.5)]);
}

#[test]
fn finding_11_one_json_number_beyond_a_double_refuses_that_point_alone() {
    let body = json_counter("1e400");
    let d = wire::decode(body.as_bytes(), Encoding::Json, Budget::default()).unwrap();
    let c = convert_with(&d.request, &d.faults, &settings(), &mut streams(), NOW_MS);
    assert_eq!(reasons(&c), vec![OtlpReject::Value]);
    assert!(c.refused[0].1.message.contains("1e400"), "{:?}", c.refused[0]);
    assert_eq!(values(&c), vec![single(2.5)]);
}

/// The issue's bodies: empty points, 2 bytes of protobuf each.
fn empty_points(n: usize) -> Vec<u8> {
    let points = vec![NumberDataPoint::default(); n];
    request(vec![], vec![metric("g", "", Data::Gauge(Gauge { data_points: points }))]).encode_to_vec()
}

#[test]
fn finding_3_points_are_counted_before_decoding_and_past_the_bound_refuse_the_request() {
    let budget = Budget { max_points: 1_000, max_buckets_per_point: 100 };
    assert!(wire::decode(&empty_points(1_000), Encoding::Protobuf, budget).is_ok());
    match wire::decode(&empty_points(1_001), Encoding::Protobuf, budget) {
        Err(Refusal::TooMuch(t)) => {
            assert_eq!(t.reason, crate::reasons::RefuseReason::TooManyPoints);
            assert!(t.message.contains("max_points_per_request"), "{}", t.message);
        }
        other => panic!("{other:?}"),
    }
    // JSON likewise, counted by the walk.
    let one = r#"{"timeUnixNano":"1"}"#;
    let json = |n: usize| {
        format!(
            r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"g","gauge":{{"dataPoints":[{}]}}}}]}}]}}]}}"#,
            vec![one; n].join(",")
        )
    };
    assert!(wire::decode(json(1_000).as_bytes(), Encoding::Json, budget).is_ok());
    assert!(matches!(wire::decode(json(1_001).as_bytes(), Encoding::Json, budget), Err(Refusal::TooMuch(_))));
}

#[test]
fn finding_3_a_point_with_too_many_buckets_refuses_the_request() {
    let budget = Budget { max_points: 1_000, max_buckets_per_point: 100 };
    let ok = exponential(100, 0, 0, vec![1; 100]).encode_to_vec();
    assert!(wire::decode(&ok, Encoding::Protobuf, budget).is_ok());
    let wide = exponential(101, 0, 0, vec![1; 101]).encode_to_vec();
    match wire::decode(&wide, Encoding::Protobuf, budget) {
        Err(Refusal::TooMuch(t)) => {
            assert_eq!(t.reason, crate::reasons::RefuseReason::TooManyBuckets);
            assert!(t.message.contains("exponentialHistogram.dataPoints[0]"), "{}", t.message);
        }
        other => panic!("{other:?}"),
    }
    // Packed or not, bounds count too.
    let mut p = histogram(10, &[1; 50], &[], 1.0, 1.0, 1.0);
    p.explicit_bounds = (0..101).map(f64::from).collect();
    let req = request(
        vec![],
        vec![metric("h", "", Data::Histogram(Histogram { data_points: vec![p], aggregation_temporality: DELTA }))],
    );
    assert!(matches!(wire::decode(&req.encode_to_vec(), Encoding::Protobuf, budget), Err(Refusal::TooMuch(_))));
}
