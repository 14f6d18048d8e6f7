use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};

use super::*;
use crate::clock::ManualClock;

const NOW: i64 = 1_700_000_010_000;

fn otlp(tune: impl FnOnce(&mut OtlpConfig)) -> (Otlp, Arc<ManualClock>) {
    let mut config = OtlpConfig::default();
    tune(&mut config);
    let clock = ManualClock::new(NOW);
    let (pipeline, telemetry) = crate::test_support::pipeline(Some("Test"), 1000, clock.clone());
    (Otlp::new(pipeline, telemetry, clock.clone(), &config, None), clock)
}

fn point(start_ms: i64, at_ms: i64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        start_time_unix_nano: start_ms as u64 * 1_000_000,
        time_unix_nano: at_ms as u64 * 1_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn request(metrics: Vec<Metric>) -> Decoded {
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
            ..Default::default()
        }],
    };
    Decoded { request, faults: Default::default() }
}

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    Metric { name: name.into(), data: Some(Data::Gauge(Gauge { data_points: points })), ..Default::default() }
}

#[test]
fn the_partial_success_names_ten_points_and_counts_the_rest() {
    let (o, _) = otlp(|_| {});
    // 12 points the pipeline refuses (not finite), one it takes.
    let mut points: Vec<NumberDataPoint> = (0..12).map(|_| point(0, NOW, f64::NAN)).collect();
    points.push(point(0, NOW, 1.0));
    let answer = o.export(&request(vec![gauge("g", points)])).unwrap();
    assert_eq!(answer.rejected, 12);
    let parts: Vec<&str> = answer.message.split("; ").collect();
    assert_eq!(parts.len(), 11, "{}", answer.message);
    assert!(parts[0].starts_with("metric `g` (gauge) dataPoints[0]: value: must be finite"), "{}", parts[0]);
    assert!(parts[9].starts_with("metric `g` (gauge) dataPoints[9]: "), "{}", parts[9]);
    assert_eq!(parts[10], "and 2 more points");
    let text = o.telemetry.encode();
    assert!(text.contains("cw_sidecar_otlp_points_rejected_total{reason=\"invalid\"} 12"), "{text}");
    assert!(text.contains("cw_sidecar_otlp_points_total{outcome=\"accepted\"} 1"), "{text}");
    // Nothing refused: no partial success at all.
    let answer = o.export(&request(vec![gauge("g", vec![point(0, NOW, 2.0)])])).unwrap();
    assert_eq!(answer, Answer { rejected: 0, message: String::new() });
}

#[test]
fn an_idle_stream_is_forgotten_and_its_next_point_is_a_baseline_again() {
    let (o, clock) = otlp(|c| c.stream_idle_timeout = Duration::from_secs(600));
    let counter = |v: f64, at: i64| {
        let sum = Sum { data_points: vec![point(NOW - 5_000, at, v)], aggregation_temporality: 2, is_monotonic: true };
        request(vec![Metric { name: "c".into(), data: Some(Data::Sum(sum)), ..Default::default() }])
    };
    let streams = |o: &Otlp| o.state.lock().unwrap().streams.len();
    o.export(&counter(10.0, NOW)).unwrap();
    assert_eq!(streams(&o), 1);
    clock.advance(Duration::from_secs(300));
    o.export(&counter(12.0, NOW + 300_000)).unwrap();
    clock.advance(Duration::from_secs(601));
    o.export(&counter(15.0, NOW + 901_000)).unwrap();
    assert_eq!(streams(&o), 1, "forgotten, then baselined again");
    let text = o.telemetry.encode();
    assert!(text.contains("cw_sidecar_otlp_points_total{outcome=\"empty\"} 2"), "two baselines: {text}");
    assert!(text.contains("cw_sidecar_otlp_points_total{outcome=\"accepted\"} 1"), "{text}");
}
