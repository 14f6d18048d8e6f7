//! OTLP/HTTP metrics: protobuf and OTLP JSON at `/v1/metrics` beside our own records and on
//! the OTLP listener, answered as the OTLP specification says; and the OpenTelemetry SDKs
//! for Python (protobuf) and Node (JSON), compared exactly with what reaches the fake
//! CloudWatch.

use std::collections::BTreeMap;

use cw_sidecar::config::Config;
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{Value, json};

use crate::fake_cloudwatch::ReceivedDatum;
use crate::helpers::{Stats, TestApp, now_ms};

const NAMESPACE: &str = "Otel";

async fn spawn(tune: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn(|c| {
        c.otlp.listen = Some("127.0.0.1:0".parse().unwrap());
        c.otlp.namespace = Some(NAMESPACE.into());
        tune(c);
    })
    .await
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        ..Default::default()
    }
}

/// A cumulative monotonic counter point that started now (so it counts from zero).
fn counter(name: &str, value: f64, start_ms: i64, attributes: Vec<KeyValue>) -> Metric {
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

fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: vec![kv("service.name", "shop")], ..Default::default() }),
            scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
            ..Default::default()
        }],
    }
}

async fn post(
    app: &TestApp,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Vec<u8>, reqwest::header::HeaderMap) {
    let r = app.http.post(url).header("content-type", content_type).body(body).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.bytes().await.unwrap().to_vec(), headers)
}

/// `google.rpc.Status`, as OTLP answers a failure.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

#[tokio::test]
async fn protobuf_on_both_ports_with_partial_success_and_our_json_unchanged() {
    let app = spawn(|_| {}).await;
    let start = now_ms();
    let listener = format!("http://{}/v1/metrics", app.otlp.unwrap());
    let main = format!("{}/v1/metrics", app.base);
    let wide: Vec<KeyValue> = (0..30).map(|i| kv(&format!("k{i}"), "v")).collect();
    let first =
        request(vec![counter("orders", 5.0, start, vec![kv("route", "/a")]), counter("wide", 1.0, start, wide)]);
    let (status, body, headers) = post(&app, &listener, "application/x-protobuf", first.encode_to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-protobuf");
    let answer = ExportMetricsServiceResponse::decode(body.as_slice()).unwrap();
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_data_points, 1);
    assert!(
        partial.error_message.starts_with("metric `wide` (sum) dataPoints[0]: attributes: 31 dimensions"),
        "{}",
        partial.error_message
    );
    // The same stream on the API's port: the increase since the first point.
    let second = request(vec![counter("orders", 12.0, start, vec![kv("route", "/a")])]);
    let (status, body, _) = post(&app, &main, "application/x-protobuf", second.encode_to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(ExportMetricsServiceResponse::decode(body.as_slice()).unwrap().partial_success, None);
    // Our own JSON records still go their way.
    let (status, report) = app.post_json(json!([{"name": "mine", "value": 1}])).await;
    assert_eq!((status, report), (202, json!({"accepted": 1, "rejected": []})));
    // An undecodable body: 400 with a google.rpc.Status.
    let (status, body, _) = post(&app, &listener, "application/x-protobuf", b"\x0a\xff".to_vec()).await;
    assert_eq!(status, 400);
    let s = Status::decode(body.as_slice()).unwrap();
    assert_eq!(s.code, 3);
    assert!(s.message.starts_with("body is not a protobuf ExportMetricsServiceRequest"), "{}", s.message);
    // Only /v1/metrics on the OTLP listener, and only OTLP's content types.
    let (status, _, _) = post(&app, &listener, "text/plain", b"x".to_vec()).await;
    assert_eq!(status, 415);
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"received\"").await, 3.0);
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"accepted\"").await, 2.0);
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"rejected\"").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_otlp_points_rejected_total", "reason=\"too_many_dimensions\"").await, 1.0);
    assert_eq!(app.metric("cw_sidecar_otlp_streams", "").await, 1.0, "orders; wide was refused before its stream");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let orders: Vec<ReceivedDatum> = fake.datums(NAMESPACE).into_iter().filter(|d| d.name == "orders").collect();
    let s = Stats::of_datums(&orders);
    assert_eq!((s.count, s.sum), (2.0, 12.0), "5 from zero, then 7: {orders:?}");
    let dims: BTreeMap<String, String> =
        [("route", "/a"), ("service.name", "shop")].map(|(k, v)| (k.into(), v.into())).into();
    assert!(orders.iter().all(|d| d.dimensions == dims && d.unit.as_deref() == Some("Count")), "{orders:?}");
    assert!(fake.datums(NAMESPACE).iter().all(|d| d.name != "wide"));
}

#[tokio::test]
async fn otlp_json_is_told_apart_from_our_records_at_the_api() {
    let app = spawn(|_| {}).await;
    let main = format!("{}/v1/metrics", app.base);
    let t = (now_ms() as u64 * 1_000_000).to_string();
    let doc = json!({"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]},
        "scopeMetrics": [{"metrics": [{"name": "depth", "unit": "1", "gauge": {"dataPoints": [
            {"timeUnixNano": t, "asInt": "42"},
            {"timeUnixNano": t, "asDouble": 1.0, "attributes": [{"key": "", "value": {"stringValue": "x"}}]}]}}]}]}]});
    let (status, body, headers) = post(&app, &main, "application/json", doc.to_string().into_bytes()).await;
    assert_eq!(
        (status, &headers["content-type"]),
        (200, &"application/json".parse::<reqwest::header::HeaderValue>().unwrap())
    );
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["partialSuccess"]["rejectedDataPoints"], 1, "{answer}");
    let message = answer["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(message.starts_with("metric `depth` (gauge) dataPoints[1]: "), "{message}");
    assert_eq!(app.metric("cw_sidecar_otlp_points_rejected_total", "reason=\"invalid\"").await, 1.0);
    // Malformed OTLP JSON: 400 with a Status in JSON.
    let bad = json!({"resourceMetrics": [{"scopeMetrics": 3}]});
    let (status, body, _) = post(&app, &main, "application/json", bad.to_string().into_bytes()).await;
    let status_body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, status_body["code"].clone()), (400, json!(3)), "{status_body}");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let depth = fake.datums(NAMESPACE);
    assert_eq!(depth.len(), 1, "{depth:?}");
    assert_eq!((depth[0].values.as_slice(), depth[0].unit.as_deref()), ([42.0].as_slice(), Some("None")));
}

#[tokio::test]
async fn a_full_buffer_is_503_with_retry_after_and_the_retry_publishes_the_same_increases() {
    // One series-window fits at a time.
    let app = spawn(|c| c.max_buffered_datums = 1).await;
    let url = format!("http://{}/v1/metrics", app.otlp.unwrap());
    let start = now_ms();
    let send = async |name: &'static str, v: f64| {
        let (status, body, headers) =
            post(&app, &url, "application/x-protobuf", request(vec![counter(name, v, start, vec![])]).encode_to_vec())
                .await;
        if status == 503 {
            assert!(headers.contains_key("retry-after"), "{headers:?}");
            assert_eq!(Status::decode(body.as_slice()).unwrap().code, 14);
        }
        status
    };
    assert_eq!(send("a", 3.0).await, 200);
    assert_eq!(app.flush().await.0, 200);
    assert_eq!(send("b", 4.0).await, 200);
    // The buffer holds b's window: a known stream and a new one are refused, retryably.
    assert_eq!(send("a", 10.0).await, 503);
    assert_eq!(send("c", 5.0).await, 503);
    assert_eq!(app.flush().await.0, 200);
    // The client retries the same requests: the same increases, 7 and 5 (from zero).
    assert_eq!(send("a", 10.0).await, 200);
    assert_eq!(send("c", 5.0).await, 503);
    assert_eq!(app.flush().await.0, 200);
    assert_eq!(send("c", 5.0).await, 200);
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"refused\"").await, 3.0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let sums: BTreeMap<String, f64> = ["a", "b", "c"]
        .iter()
        .map(|n| (n.to_string(), Stats::of_datums(fake.datums(NAMESPACE).iter().filter(|d| d.name == *n)).sum))
        .collect();
    assert_eq!(sums, [("a", 10.0), ("b", 4.0), ("c", 5.0)].map(|(k, v)| (k.to_string(), v)).into());
}

#[tokio::test]
async fn gzip_is_read_and_a_request_that_never_fits_is_413_not_retryable() {
    use std::io::Write;
    let app = spawn(|c| c.max_buffered_datums = 1).await;
    let url = format!("http://{}/v1/metrics", app.otlp.unwrap());
    let start = now_ms();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&request(vec![counter("zipped", 2.0, start, vec![])]).encode_to_vec()).unwrap();
    let r = app
        .http
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.flush().await.0, 200);
    // Two series-windows can never fit a buffer of one: 413, no Retry-After.
    let two = request(vec![counter("x", 1.0, start, vec![]), counter("y", 1.0, start, vec![])]);
    let (status, body, headers) = post(&app, &url, "application/x-protobuf", two.encode_to_vec()).await;
    assert_eq!(status, 413);
    assert!(!headers.contains_key("retry-after"));
    let s = Status::decode(body.as_slice()).unwrap();
    assert_eq!(s.code, 8);
    assert!(s.message.contains("max_buffered_datums"), "{}", s.message);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let names: Vec<String> = fake.datums(NAMESPACE).into_iter().map(|d| d.name).collect();
    assert_eq!(names, vec!["zipped"]);
}
