//! Prometheus remote-write 1.0 at `POST /api/v1/write`: the answers a sender acts on (204,
//! 400, 413, 503 with `Retry-After`), what reaches the fake CloudWatch, and a resent request
//! that publishes nothing more. The real Prometheus server is in `remote_write_prometheus.rs`.

use std::collections::BTreeMap;

use cw_core::ingest::remote_write::wire::{self, Label, Sample, TimeSeries, WriteRequest};
use cw_sidecar::config::Config;
use serde_json::Value;

use crate::fake_cloudwatch::ReceivedDatum;
use crate::helpers::{Stats, TestApp, mid_window_ms};

const NAMESPACE: &str = "Prom";

async fn spawn(tune: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn(|c| {
        c.remote_write.namespace = Some(NAMESPACE.into());
        tune(c);
    })
    .await
}

fn series(name: &str, labels: &[(&str, &str)], value: f64, at: i64) -> TimeSeries {
    let mut all = vec![Label { name: "__name__".into(), value: name.into() }];
    let job = [("instance", "127.0.0.1:8000"), ("job", "shop")];
    all.extend(job.iter().chain(labels).map(|(k, v)| Label { name: k.to_string(), value: v.to_string() }));
    TimeSeries { labels: all, samples: vec![Sample { value, timestamp: at }] }
}

/// Counter, gauge and histogram (buckets 0.1, 1, +Inf) as Prometheus forwards one scrape.
fn scrape(at: i64, requests: f64, depth: f64, buckets: [f64; 3], sum: f64) -> WriteRequest {
    let mut timeseries =
        vec![series("http_requests_total", &[("code", "200")], requests, at), series("queue_depth", &[], depth, at)];
    for (le, v) in ["0.1", "1", "+Inf"].into_iter().zip(buckets) {
        timeseries.push(series("latency_seconds_bucket", &[("le", le)], v, at));
    }
    timeseries.push(series("latency_seconds_count", &[], buckets[2], at));
    timeseries.push(series("latency_seconds_sum", &[], sum, at));
    WriteRequest { timeseries }
}

/// Posts `body` with the headers Prometheus sends, `changed` replacing them (an empty value
/// leaves one out).
async fn post(app: &TestApp, body: Vec<u8>, changed: &[(&str, &str)]) -> (u16, String, reqwest::header::HeaderMap) {
    let mut headers: BTreeMap<&str, &str> = [
        ("content-encoding", "snappy"),
        ("content-type", "application/x-protobuf"),
        ("x-prometheus-remote-write-version", "0.1.0"),
        ("user-agent", "Prometheus/2.42.0"),
    ]
    .into();
    headers.extend(changed.iter().copied());
    let mut request = app.http.post(format!("{}/api/v1/write", app.base));
    for (name, value) in headers.into_iter().filter(|(_, v)| !v.is_empty()) {
        request = request.header(name, value);
    }
    let r = request.body(body).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.text().await.unwrap(), headers)
}

async fn write(app: &TestApp, request: &WriteRequest) -> u16 {
    post(app, wire::encode(request), &[]).await.0
}

fn error(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["error"].as_str().unwrap().to_string()
}

fn dims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn a_good_body_is_204_with_its_dimensions_and_increases_and_a_resent_one_publishes_nothing_more() {
    let app = spawn(|_| {}).await;
    let t0 = mid_window_ms() - 15_000;
    assert_eq!(write(&app, &scrape(t0, 10.0, 3.0, [1.0, 2.0, 2.0], 1.5)).await, 204);
    // 5 more requests; 3 more observations: 0.05, 0.5 and 2.
    let second = scrape(t0 + 15_000, 15.0, 4.0, [2.0, 4.0, 5.0], 4.05);
    let (status, body, _) = post(&app, wire::encode(&second), &[]).await;
    assert_eq!((status, body.as_str()), (204, ""));
    assert_eq!(app.flush().await.0, 200);
    // Prometheus resends a request whose answer it did not get: nothing more is published.
    assert_eq!(write(&app, &second).await, 204);
    assert_eq!(app.metric("cw_sidecar_remote_write_samples_ignored_total", "reason=\"old_timestamp\"").await, 7.0);
    assert_eq!(app.flush().await.0, 200);
    assert_eq!(app.metric("cw_sidecar_remote_write_samples_total", "outcome=\"received\"").await, 21.0);
    assert_eq!(
        app.metric("cw_sidecar_remote_write_samples_total", "outcome=\"published\"").await,
        8.0,
        "2 gauges, 1 increase, 5 histogram parts"
    );
    assert_eq!(app.metric("cw_sidecar_remote_write_samples_total", "outcome=\"baseline\"").await, 6.0);
    assert_eq!(app.metric("cw_sidecar_remote_write_series", "").await, 8.0, "7 series and 1 histogram");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let datums = fake.datums(NAMESPACE);
    let of = |name: &str| -> Vec<ReceivedDatum> { datums.iter().filter(|d| d.name == name).cloned().collect() };
    let job = [("instance", "127.0.0.1:8000"), ("job", "shop")];
    let requests = of("http_requests_total");
    assert_eq!(Stats::of_datums(&requests).sum, 5.0, "{requests:?}");
    assert!(requests.iter().all(|d| d.dimensions == dims(&[job[0], job[1], ("code", "200")])), "{requests:?}");
    assert_eq!(requests[0].unit.as_deref(), Some("Count"));
    let depth = of("queue_depth");
    assert_eq!(Stats::of_datums(&depth), Stats::of_samples(&[3.0, 4.0]));
    assert!(depth.iter().all(|d| d.dimensions == dims(&job)), "{depth:?}");
    let latency = of("latency_seconds");
    let s = Stats::of_datums(&latency);
    assert_eq!(s.count, 3.0, "{latency:?}");
    assert!((s.sum - 2.55).abs() < 1e-9, "{latency:?}");
    assert!(latency.iter().all(|d| d.dimensions == dims(&job) && d.unit.as_deref() == Some("Seconds")));
    assert!(of("latency_seconds_count").is_empty() && of("latency_seconds_bucket").is_empty());
}

#[tokio::test]
async fn headers_and_bodies_that_are_not_remote_write_are_400_naming_the_problem() {
    let app = spawn(|_| {}).await;
    let body = wire::encode(&scrape(mid_window_ms(), 1.0, 1.0, [0.0, 0.0, 0.0], 0.0));
    let (status, text, _) = post(&app, body.clone(), &[("content-encoding", "")]).await;
    assert_eq!(status, 400);
    assert!(error(&text).contains("Content-Encoding is missing"), "{text}");
    let (status, text, _) = post(&app, body.clone(), &[("content-encoding", "gzip")]).await;
    assert_eq!(status, 400);
    assert!(error(&text).contains("must be snappy"), "{text}");
    let (status, text, _) = post(&app, body.clone(), &[("content-type", "application/json")]).await;
    assert_eq!(status, 400, "{text}");
    assert!(error(&text).contains("application/x-protobuf"), "{text}");
    let (status, text, _) = post(&app, body.clone(), &[("x-prometheus-remote-write-version", "2.0.0")]).await;
    assert_eq!(status, 400, "{text}");
    // Framed snappy: the stream identifier, then a chunk.
    let mut framed = wire::FRAMED_MAGIC.to_vec();
    framed.extend_from_slice(&[0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
    let (status, text, _) = post(&app, framed, &[]).await;
    assert_eq!(status, 400);
    assert!(error(&text).contains("framed snappy is not remote-write's block format"), "{text}");
    let (status, text, _) = post(&app, b"\x10not snappy at all".to_vec(), &[]).await;
    assert_eq!(status, 400);
    assert!(error(&text).contains("not snappy block format"), "{text}");
    let refused = |reason: &str| format!("reason=\"{reason}\"");
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", &refused("bad_headers")).await, 4.0);
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", &refused("malformed_body")).await, 2.0);
    // A request every sample of which is rejected: 400 with the first problems.
    let nameless = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label { name: "job".into(), value: "x".into() }],
            samples: vec![Sample { value: 1.0, timestamp: mid_window_ms() }],
        }],
    };
    let (status, text, _) = post(&app, wire::encode(&nameless), &[]).await;
    assert_eq!(status, 400);
    assert!(error(&text).contains("without __name__"), "{text}");
    assert_eq!(app.metric("cw_sidecar_remote_write_samples_rejected_total", "reason=\"no_name\"").await, 1.0);
    // Off: the path is not served.
    let off = spawn(|c| c.remote_write.enabled = false).await;
    assert_eq!(post(&off, body, &[]).await.0, 404);
}

#[tokio::test]
async fn past_the_decoded_size_budget_is_413() {
    let app = spawn(|c| {
        c.remote_write.max_series_per_request = 5;
        c.remote_write.max_samples_per_request = 6;
        c.max_body_bytes = 64 * 1024;
    })
    .await;
    let at = mid_window_ms();
    let many = |n: usize| WriteRequest { timeseries: (0..n).map(|i| series(&format!("m{i}"), &[], 1.0, at)).collect() };
    let (status, text, headers) = post(&app, wire::encode(&many(6)), &[]).await;
    assert_eq!(status, 413);
    assert!(!headers.contains_key("retry-after"));
    assert!(error(&text).contains("max_series_per_request"), "{text}");
    let mut samples = many(2);
    samples.timeseries[0].samples = (0..7).map(|i| Sample { value: 1.0, timestamp: at + i }).collect();
    let (status, text, _) = post(&app, wire::encode(&samples), &[]).await;
    assert_eq!((status, error(&text).contains("max_samples_per_request")), (413, true), "{text}");
    // Small on the wire, over max_body_bytes decompressed: refused by the snappy header.
    let big = WriteRequest { timeseries: vec![series("big", &[("blob", &"x".repeat(100 * 1024))], 1.0, at)] };
    let body = wire::encode(&big);
    assert!(body.len() < 64 * 1024);
    let (status, text, _) = post(&app, body, &[]).await;
    assert_eq!(status, 413);
    assert!(error(&text).contains("after decompression"), "{text}");
    for reason in ["too_many_series", "too_many_samples", "too_large"] {
        let n = app.metric("cw_sidecar_requests_refused_total", &format!("reason=\"{reason}\"")).await;
        assert_eq!(n, 1.0, "{reason}");
    }
    assert_eq!(write(&app, &many(5)).await, 204);
}

#[tokio::test]
async fn backpressure_is_503_with_retry_after_and_the_retry_publishes_the_same() {
    // One series-window fits at a time.
    let app = spawn(|c| c.max_buffered_datums = 1).await;
    let at = mid_window_ms();
    let counter = |name: &str, v: f64, t: i64| WriteRequest { timeseries: vec![series(name, &[], v, t)] };
    assert_eq!(write(&app, &counter("a_total", 1.0, at - 10_000)).await, 204);
    assert_eq!(write(&app, &counter("b_total", 1.0, at - 10_000)).await, 204);
    assert_eq!(write(&app, &counter("a_total", 4.0, at)).await, 204);
    // The buffer holds a's window: a new series is refused, retryably.
    let b = counter("b_total", 3.0, at);
    let (status, text, headers) = post(&app, wire::encode(&b), &[]).await;
    assert_eq!(status, 503, "{text}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert!(error(&text).contains("buffer full"), "{text}");
    assert_eq!(app.metric("cw_sidecar_remote_write_samples_total", "outcome=\"refused\"").await, 1.0);
    assert_eq!(app.flush().await.0, 200);
    // Prometheus retries the same request: it counts, as the refusal took nothing of it.
    assert_eq!(write(&app, &b).await, 204);
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"buffer_full\"").await, 1.0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    let sum = |name: &str| Stats::of_datums(fake.datums(NAMESPACE).iter().filter(|d| d.name == name)).sum;
    assert_eq!((sum("a_total"), sum("b_total")), (3.0, 2.0));
}

#[tokio::test]
async fn shutting_down_is_503_with_retry_after() {
    let mut app = spawn(|_| {}).await;
    let request = |v: f64| WriteRequest { timeseries: vec![series("up", &[], v, mid_window_ms())] };
    assert_eq!(write(&app, &request(1.0)).await, 204);
    // CloudWatch is down, so shutdown stays in its publishing phase, HTTP still served.
    app.fake.stop();
    let shutting_down = app.begin_shutdown();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.metric("cw_sidecar_put_metric_data_calls_total", "outcome=\"transient\"").await < 1.0 {
        assert!(std::time::Instant::now() < deadline, "shutdown did not start publishing");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (status, text, headers) = post(&app, wire::encode(&request(2.0)), &[]).await;
    assert_eq!(status, 503, "{text}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert!(error(&text).contains("shutting down"), "{text}");
    app.fake.restart().await;
    assert!(shutting_down.report().await.complete());
}
