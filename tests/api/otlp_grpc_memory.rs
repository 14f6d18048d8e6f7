//! Hostile OTLP/gRPC calls against the binary, its peak RSS (`VmHWM`) read from /proc, with
//! margins wide enough not to flake: 100,000 series in one call, eight calls at once that
//! announce 100 MB messages and stall, eight gzip bombs of 64 MiB at once, truncated frames and
//! attributes that are not UTF-8. Each gets its status, and the sidecar stays small.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data, number_data_point,
};
use prost::Message;

use crate::fake_cloudwatch::FakeCloudWatch;
use crate::grpc_client::{EXPORT, Stalled, call, call_with, frame};
use crate::helpers::{Sidecar, now_ms, proc_status_kb};

fn kv(k: &str, v: String) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v)) }),
        ..Default::default()
    }
}

/// One gauge with `series` points, each of a series of its own.
fn gauge(series: usize, key: &str) -> Vec<u8> {
    let time = u64::try_from(now_ms()).unwrap() * 1_000_000;
    let data_points = (0..series)
        .map(|i| NumberDataPoint {
            attributes: vec![kv(key, i.to_string())],
            time_unix_nano: time,
            value: Some(number_data_point::Value::AsDouble(1.0)),
            ..Default::default()
        })
        .collect();
    let metric = Metric { name: "g".into(), data: Some(Data::Gauge(Gauge { data_points })), ..Default::default() };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics { metrics: vec![metric], ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[tokio::test]
async fn hostile_calls_are_answered_and_memory_stays_bounded() {
    use std::io::Write;
    let fake = FakeCloudWatch::start().await;
    let grpc = free_port();
    let bin = Sidecar::start(&fake, &["--namespace", "Mem", "--otlp-grpc-listen", &grpc.to_string()]).await;
    // 100,000 series in one call of about 3.5 MB: taken within the default bounds (100,000
    // points a request, 100,000 buffered datums).
    let wide = gauge(100_000, "i");
    assert!(wide.len() < 4 << 20, "{}", wide.len());
    let a = call(grpc, &[], frame(&wide, false)).await;
    assert_eq!(a.code(), 0, "{a:?} {}", a.message());
    assert_eq!(bin.metric("cw_sidecar_otlp_points_total", "outcome=\"accepted\"").await, 100_000.0);
    // Attributes that are not UTF-8: the protobuf decoder refuses the message.
    let mut bad = gauge(3, "@@@@");
    let at = bad.windows(4).position(|w| w == b"@@@@").unwrap();
    bad[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xc0, 0x80]);
    let a = call(grpc, &[], frame(&bad, false)).await;
    assert_eq!(a.code(), 3, "{a:?}");
    assert!(a.message().contains("UTF-8"), "{}", a.message());
    // Eight calls at once that announce 100 MB and stall: refused from the prefix.
    let mut prefix = vec![0u8];
    prefix.extend_from_slice(&100_000_000u32.to_be_bytes());
    prefix.extend_from_slice(&[0u8; 60_000]);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let body = Stalled(Some(prefix.clone().into()));
        calls.spawn(async move { call_with(grpc, EXPORT, &[], body).await.code() });
    }
    let codes = tokio::time::timeout(Duration::from_secs(20), calls.join_all()).await.unwrap();
    assert_eq!(codes, vec![8; 8]);
    // Eight gzip bombs at once: each stops at 4 MiB decompressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&vec![0u8; 64 << 20]).unwrap();
    let bomb = frame(&gz.finish().unwrap(), true);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let bomb = bomb.clone();
        calls.spawn(async move { call(grpc, &[("grpc-encoding", "gzip")], bomb).await.code() });
    }
    assert_eq!(calls.join_all().await, vec![8; 8]);
    // Truncated frames, many.
    for cut in [1, 4, 5, 100, 10_000] {
        assert_eq!(call(grpc, &[], frame(&wide, false)[..cut].to_vec()).await.code(), 3, "cut at {cut}");
    }
    assert_eq!(bin.metric("cw_sidecar_requests_refused_total", "reason=\"too_large\"").await, 16.0);
    assert_eq!(bin.metric("cw_sidecar_requests_refused_total", "reason=\"malformed_body\"").await, 6.0);
    let peak = proc_status_kb(bin.pid(), "VmHWM") / 1024;
    println!("peak RSS, 100,000 series in one gRPC call, 8 stalled 100 MB prefixes, 8 gzip bombs: {peak} MB");
    // 141 MB measured; the bombs decompressed whole would hold 512 MB, the prefixes believed 800 MB.
    assert!(peak < 400, "peak RSS {peak} MB");
    bin.kill().await;
}
