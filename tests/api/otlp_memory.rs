//! Issue 25, findings 1 and 3, with the bodies against the binary, its peak RSS
//! (`VmHWM`) read from /proc: margins wide enough not to flake, narrow enough to fail as before.
//! - Five 1 MB requests, each with a 1 MB resource attribute and 100 cumulative points, took
//!   RSS from 11 to 800 MB (every stream's key held the whole resource).
//! - 5 MB protobuf bodies of 2.5M empty points peaked at 634 MB, eight at once at 2.4–2.6 GB.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::helpers::{Sidecar, now_ms, proc_status_kb};

fn kv(k: &str, v: String) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v)) }),
        ..Default::default()
    }
}

fn request(resource: Vec<KeyValue>, metric: Metric) -> Vec<u8> {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: resource, ..Default::default() }),
            scope_metrics: vec![ScopeMetrics { metrics: vec![metric], ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// `points` cumulative counter points (one stream each), under a resource attribute of
/// `resource_bytes` bytes, distinct per `n`.
fn wide_resource(n: usize, resource_bytes: usize, points: usize) -> Vec<u8> {
    let time = u64::try_from(now_ms()).unwrap() * 1_000_000;
    let data_points = (0..points)
        .map(|i| NumberDataPoint {
            attributes: vec![kv("i", i.to_string())],
            start_time_unix_nano: 1,
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsDouble(5.0)),
            ..Default::default()
        })
        .collect();
    let sum = Data::Sum(Sum { data_points, aggregation_temporality: 2, is_monotonic: true });
    let blob = format!("{n}{}", "x".repeat(resource_bytes));
    request(vec![kv("blob", blob)], Metric { name: "hits".into(), data: Some(sum), ..Default::default() })
}

fn peak_mb(bin: &Sidecar) -> u64 {
    proc_status_kb(bin.pid(), "VmHWM") / 1024
}

async fn post(bin: &Sidecar, body: Vec<u8>) -> (u16, String) {
    post_to(&bin.http, &bin.base, body).await
}

async fn post_to(http: &reqwest::Client, base: &str, body: Vec<u8>) -> (u16, String) {
    let r = http
        .post(format!("{base}/v1/metrics"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, String::from_utf8_lossy(&r.bytes().await.unwrap()).into_owned())
}

#[tokio::test]
async fn megabyte_resources_on_cumulative_streams_stay_bounded() {
    let fake = FakeCloudWatch::start().await;
    let bin = Sidecar::start(&fake, &["--namespace", "Mem", "--max-body-bytes", "8MiB"]).await;
    for n in 0..5 {
        let (status, body) = post(&bin, wide_resource(n, 1 << 20, 100)).await;
        assert_eq!(status, 200, "{body}");
    }
    // One 4 MB request with 1,000 such points aborted a sidecar limited to 3 GiB.
    let (status, body) = post(&bin, wide_resource(9, 4 << 20, 1_000)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(bin.metric("cw_sidecar_otlp_streams", "").await, 1_500.0);
    let peak = peak_mb(&bin);
    println!("peak RSS, 1,500 streams under megabyte resources: {peak} MB");
    assert!(peak < 150, "peak RSS {peak} MB (800 MB before, and an abort at 3 GiB)");
    bin.kill().await;
}

/// `n` empty gauge points: 2 bytes of protobuf each.
fn empty_points(n: usize) -> Vec<u8> {
    let gauge = Data::Gauge(Gauge { data_points: vec![NumberDataPoint::default(); n] });
    request(vec![], Metric { name: "g".into(), data: Some(gauge), ..Default::default() })
}

#[tokio::test]
async fn bodies_of_millions_of_empty_points_are_refused_before_decoding() {
    let fake = FakeCloudWatch::start().await;
    let bin = Sidecar::start(&fake, &["--namespace", "Mem", "--max-body-bytes", "8MiB"]).await;
    let body = empty_points(2_500_000);
    assert!((4_900_000..5_100_000).contains(&body.len()), "{}", body.len());
    let (status, message) = post(&bin, body.clone()).await;
    assert_eq!(status, 413, "{message}");
    assert!(message.contains("max_points_per_request"), "{message}");
    // Eight at once, 40 MB inside the 64 MiB body budget.
    let mut eight = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, base, body) = (bin.http.clone(), bin.base.clone(), body.clone());
        eight.spawn(async move { post_to(&http, &base, body).await });
    }
    let answers = eight.join_all().await;
    assert!(answers.iter().all(|(s, _)| *s == 413), "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    assert_eq!(bin.metric("cw_sidecar_requests_refused_total", "reason=\"too_many_points\"").await, 9.0);
    let peak = peak_mb(&bin);
    println!("peak RSS, nine 5 MB bodies of 2.5M empty points: {peak} MB");
    assert!(peak < 250, "peak RSS {peak} MB (634 MB for one before, 2.4–2.6 GB for eight)");
    bin.kill().await;
}
