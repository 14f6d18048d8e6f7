//! OTLP over gRPC (`MetricsService/Export` on the gRPC listener) against the real app, over
//! real HTTP/2: the same conversion and answers as OTLP/HTTP in gRPC's terms, and hostile
//! input (truncated frames, a 100 MB length prefix, garbage, a gzip bomb, other methods and
//! encodings), each answered with its status and counted by reason.

use std::collections::BTreeMap;
use std::io::Write;

use cw_sidecar::config::Config;
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use crate::grpc_client::{Channel, Stalled, call, call_with, frame};
use crate::helpers::{Stats, TestApp, now_ms};

const NAMESPACE: &str = "Otel";

pub(crate) async fn spawn(tune: impl FnOnce(&mut Config)) -> (TestApp, std::net::SocketAddr) {
    let app = TestApp::spawn(|c| {
        c.otlp.grpc_listen = Some("127.0.0.1:0".parse().unwrap());
        c.otlp.namespace = Some(NAMESPACE.into());
        tune(c);
    })
    .await;
    let addr = app.addr("otlp", "grpc").expect("the gRPC listener");
    (app, addr)
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        ..Default::default()
    }
}

pub(crate) fn counter(name: &str, value: f64, start_ms: i64, attributes: Vec<KeyValue>) -> Metric {
    let ns = |ms: i64| ms as u64 * 1_000_000;
    Metric {
        name: name.into(),
        unit: "{request}".into(),
        data: Some(Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes,
                start_time_unix_nano: ns(start_ms),
                time_unix_nano: ns(now_ms()),
                value: Some(number_data_point::Value::AsDouble(value)),
                ..Default::default()
            }],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

pub(crate) fn request(metrics: Vec<Metric>) -> Vec<u8> {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: vec![kv("service.name", "shop")], ..Default::default() }),
            scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn export_with_partial_success_gzip_and_the_http_streams_shared() {
    let (app, grpc) = spawn(|_| {}).await;
    let start = now_ms();
    let wide: Vec<KeyValue> = (0..30).map(|i| kv(&format!("k{i}"), "v")).collect();
    let first =
        request(vec![counter("orders", 5.0, start, vec![kv("route", "/a")]), counter("wide", 1.0, start, wide)]);
    let answer = call(grpc, &[], frame(&first, false)).await;
    assert_eq!((answer.http, &answer.headers["content-type"]), (200, &"application/grpc".parse().unwrap()));
    let partial = answer.response::<ExportMetricsServiceResponse>().partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 1);
    assert!(
        partial.error_message.starts_with("metric `wide` (sum) dataPoints[0]: attributes: 31 dimensions"),
        "{}",
        partial.error_message
    );
    // The same stream over OTLP/HTTP at the API: one state for both transports.
    let second = request(vec![counter("orders", 12.0, start, vec![kv("route", "/a")])]);
    let r = app
        .http
        .post(format!("{}/v1/metrics", app.base))
        .header("content-type", "application/x-protobuf")
        .body(second)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // And back over gRPC, gzip: 20 more.
    let third = gzip(&request(vec![counter("orders", 32.0, start, vec![kv("route", "/a")])]));
    let answer = call(grpc, &[("grpc-encoding", "gzip")], frame(&third, true)).await;
    assert_eq!(answer.response::<ExportMetricsServiceResponse>().partial_success, None);
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"received\"").await, 4.0);
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"rejected\"").await, 1.0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let orders: Vec<_> = fake.datums(NAMESPACE).into_iter().filter(|d| d.name == "orders").collect();
    let s = Stats::of_datums(&orders);
    assert_eq!((s.count, s.sum), (3.0, 32.0), "5 from zero, 7, then 20: {orders:?}");
    let dims: BTreeMap<String, String> =
        [("route", "/a"), ("service.name", "shop")].map(|(k, v)| (k.into(), v.into())).into();
    assert!(orders.iter().all(|d| d.dimensions == dims && d.unit.as_deref() == Some("Count")), "{orders:?}");
    assert!(fake.datums(NAMESPACE).iter().all(|d| d.name != "wide"));
}

#[tokio::test]
async fn hostile_frames_get_their_status_and_are_counted() {
    let (app, grpc) = spawn(|_| {}).await;
    let good = request(vec![counter("ok", 1.0, now_ms(), vec![])]);
    let full = frame(&good, false);
    let refused =
        async |reason: &str| app.metric("cw_sidecar_requests_refused_total", &format!("reason=\"{reason}\"")).await;
    // Truncated: the prefix says more than arrives.
    let a = call(grpc, &[], full[..full.len() - 3].to_vec()).await;
    assert_eq!((a.http, a.code()), (200, 3), "{a:?}");
    assert!(a.message().contains("truncated"), "{}", a.message());
    // Fewer bytes than a prefix, and two messages in a unary call.
    assert_eq!(call(grpc, &[], full[..2].to_vec()).await.code(), 3);
    let two = call(grpc, &[], [full.clone(), full.clone()].concat()).await;
    assert!((two.code(), two.message().contains("exactly one")) == (3, true), "{two:?}");
    // Garbage in a well-formed frame: the protobuf decoder's error.
    let garbage = call(grpc, &[], frame(b"\x0a\xff\xff\xff\xff\x0f", false)).await;
    assert_eq!(garbage.code(), 3);
    assert!(garbage.message().starts_with("body is not a protobuf ExportMetricsServiceRequest"), "{garbage:?}");
    // A compressed flag without grpc-encoding, garbage gzip.
    assert_eq!(call(grpc, &[], frame(&good, true)).await.code(), 3);
    assert_eq!(call(grpc, &[("grpc-encoding", "gzip")], frame(b"not gzip", true)).await.code(), 3);
    assert_eq!(refused("malformed_body").await, 6.0);
    // A 100 MB length prefix on a stream that never ends: refused from the prefix alone.
    let mut prefix = vec![0u8];
    prefix.extend_from_slice(&100_000_000u32.to_be_bytes());
    prefix.extend_from_slice(&[0x0a; 1000]);
    let huge = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        call_with(grpc, crate::grpc_client::EXPORT, &[], Stalled(Some(prefix.into()))),
    )
    .await
    .expect("answered before the body ends");
    assert_eq!(huge.code(), 8, "{huge:?}");
    assert!(huge.message().contains("over grpc_max_message_bytes (4194304 bytes)"), "{}", huge.message());
    // A gzip bomb: 64 MiB of zeros in a few kB.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 100 * 1024);
    let a = call(grpc, &[("grpc-encoding", "gzip")], frame(&bomb, true)).await;
    assert_eq!(a.code(), 8);
    assert!(a.message().contains("once decompressed"), "{}", a.message());
    assert_eq!(refused("too_large").await, 2.0);
    // Another encoding, another method, not gRPC at all.
    let a = call(grpc, &[("grpc-encoding", "snappy")], full.clone()).await;
    assert_eq!(a.code(), 12);
    assert_eq!(a.headers["grpc-accept-encoding"], "gzip,identity");
    let other = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let a = call_with(grpc, other, &[], http_body_util::Full::new(full.clone().into())).await;
    assert_eq!(a.code(), 12);
    let a = call(grpc, &[("content-type", "application/json")], full.clone()).await;
    assert_eq!(a.http, 415);
    assert_eq!(refused("unsupported_media_type").await, 2.0);
    // The listener still serves.
    assert_eq!(call(grpc, &[], full).await.code(), 0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    assert_eq!(fake.datums(NAMESPACE).len(), 1);
}

#[tokio::test]
async fn the_message_bound_is_configurable_and_the_points_budget_shared() {
    let (app, grpc) = spawn(|c| {
        c.otlp.grpc_max_message_bytes = 1024;
        c.otlp.max_points_per_request = 2;
    })
    .await;
    let start = now_ms();
    let big = request(vec![counter(&"n".repeat(1100), 1.0, start, vec![])]);
    let a = call(grpc, &[], frame(&big, false)).await;
    assert_eq!(a.code(), 8);
    assert!(a.message().contains("over grpc_max_message_bytes (1024 bytes)"), "{}", a.message());
    assert_eq!(a.retry_delay(), None, "not retryable");
    let three = request((0..3).map(|i| counter(&format!("c{i}"), 1.0, start, vec![])).collect());
    let a = call(grpc, &[], frame(&three, false)).await;
    assert_eq!(a.code(), 8);
    assert!(a.message().contains("max_points_per_request"), "{}", a.message());
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"too_many_points\"").await, 1.0);
    assert!(app.shutdown().await.complete());
}

#[tokio::test]
async fn a_token_is_required_as_bearer_metadata() {
    let (app, grpc) = spawn(|c| c.auth_token = Some("s3cret".into())).await;
    let body = frame(&request(vec![counter("ok", 1.0, now_ms(), vec![])]), false);
    for metadata in [vec![], vec![("authorization", "Bearer nope")]] {
        let a = call(grpc, &metadata, body.clone()).await;
        assert_eq!(a.code(), 16, "{metadata:?}: {a:?}");
        assert!(a.message().contains("bearer token"), "{}", a.message());
    }
    assert_eq!(call(grpc, &[("authorization", "Bearer s3cret")], body).await.code(), 0);
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"unauthorized\"").await, 2.0);
    assert!(app.shutdown().await.complete());
}

#[tokio::test]
async fn a_full_buffer_is_unavailable_with_retry_info_and_the_retry_publishes_the_same_increases() {
    let (app, grpc) = spawn(|c| c.max_buffered_datums = 1).await;
    let start = now_ms();
    let send = async |name: &str, v: f64| {
        let a = call(grpc, &[], frame(&request(vec![counter(name, v, start, vec![])]), false)).await;
        if a.code() == 14 {
            let delay = a.retry_delay().expect("RetryInfo");
            assert!(delay >= std::time::Duration::from_secs(1), "{delay:?}");
            assert_eq!(a.retry_info_trailer(), Some(delay), "the same delay for the Python SDK");
            assert!(a.message().contains("max_buffered_datums"), "{}", a.message());
        }
        a.code()
    };
    assert_eq!(send("a", 3.0).await, 0);
    assert_eq!(app.flush().await.0, 200);
    assert_eq!(send("b", 4.0).await, 0);
    assert_eq!(send("a", 10.0).await, 14);
    assert_eq!(app.flush().await.0, 200);
    // The retry: the same increase, 7.
    assert_eq!(send("a", 10.0).await, 0);
    // Two series-windows never fit a buffer of one: RESOURCE_EXHAUSTED, no RetryInfo.
    let two = request(vec![counter("x", 1.0, start, vec![]), counter("y", 1.0, start, vec![])]);
    assert_eq!(app.flush().await.0, 200);
    let a = call(grpc, &[], frame(&two, false)).await;
    assert_eq!((a.code(), a.retry_delay(), a.retry_info_trailer()), (8, None, None), "{a:?}");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let sum = |n: &str| Stats::of_datums(fake.datums(NAMESPACE).iter().filter(|d| d.name == n)).sum;
    assert_eq!((sum("a"), sum("b"), sum("x")), (10.0, 4.0, 0.0));
}

#[tokio::test]
async fn grpc_is_off_unless_configured_and_its_calls_answered_while_draining() {
    let app = TestApp::spawn(|_| {}).await;
    assert_eq!(app.addr("otlp", "grpc"), None);
    assert!(app.shutdown().await.complete());
    // A call whose message is still arriving when shutdown begins is answered (UNAVAILABLE
    // with RetryInfo once the pipeline is closed), not cut off.
    let (mut app, grpc) = spawn(|_| {}).await;
    let body = frame(&request(vec![counter("late", 1.0, now_ms(), vec![])]), false);
    let open = app.metric("cw_sidecar_connections_active", "").await;
    let (tx, rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(2);
    let answer = tokio::spawn(call_with(grpc, crate::grpc_client::EXPORT, &[], Channel(rx)));
    tx.send(body[..4].to_vec().into()).await.unwrap();
    // The call is in flight: its headers and first bytes are read.
    while app.metric("cw_sidecar_connections_active", "").await <= open {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let shutting = app.begin_shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    tx.send(body[4..].to_vec().into()).await.unwrap();
    drop(tx);
    let a = answer.await.unwrap();
    assert!(matches!(a.code(), 0 | 14), "{a:?}");
    if a.code() == 14 {
        assert!(a.retry_delay().is_some());
    }
    assert!(shutting.report().await.complete());
}
