//! The ingest contract: statuses, per-record errors, precedence, encodings, limits.

use std::io::Write;

use serde_json::json;

use crate::helpers::{TestApp, now_ms};

#[tokio::test]
async fn each_validation_rule_is_answered_with_its_error_by_index() {
    let app = TestApp::spawn(|_| {}).await;
    let old = now_ms() - 15 * 24 * 3600 * 1000;
    let future = now_ms() + 3 * 3600 * 1000;
    let long_name = "n".repeat(256);
    let many_dims: serde_json::Map<String, serde_json::Value> =
        (0..31).map(|i| (format!("d{i}"), json!("v"))).collect();
    let cases = vec![
        (json!({"name": "Good", "value": 1}), None),
        (json!({"value": 1}), Some("name: required")),
        (json!({"name": long_name, "value": 1}), Some("name: name must be 1-255 characters")),
        (json!({"name": "  ", "value": 1}), Some("must not be only whitespace")),
        (json!({"name": "x", "value": 1, "namespace": "AWS/EC2"}), Some("must not start with AWS/")),
        (json!({"name": "x", "value": 1, "dimensions": many_dims}), Some("at most 30")),
        (json!({"name": "x", "value": 1, "dimensions": {":a": "v"}}), Some("must not start with `:`")),
        (json!({"name": "x", "value": 1, "dimensions": {"a": "caf\u{e9}"}}), Some("ASCII")),
        (json!({"name": "x", "value": 1e300}), Some("2^360")),
        (json!({"name": "x", "values": [1, 2], "counts": [1]}), Some("as many entries")),
        (json!({"name": "x", "values": [1], "counts": [0]}), Some("counts[0]: must be finite and greater than 0")),
        (json!({"name": "x", "statistics": {"sample_count": 2, "sum": 100, "min": 1, "max": 2}}), Some("between")),
        (
            json!({"name": "x", "statistics": {"sample_count": 1, "sum": 1, "min": 3, "max": 2}}),
            Some("must not exceed"),
        ),
        (json!({"name": "x", "value": 1, "unit": "ms"}), Some("not a CloudWatch standard unit")),
        (json!({"name": "x", "value": 1, "timestamp": old}), Some("14 days")),
        (json!({"name": "x", "value": 1, "timestamp": future}), Some("2 hours")),
        (json!({"name": "x", "value": 1, "storage_resolution": 30}), Some("must be 1 or 60")),
        (json!({"name": "x", "value": "12"}), Some("value: invalid type: string")),
        (json!({"name": "x", "value": 1, "value2": 3}), Some("unknown field `value2`")),
        (json!({"name": "x"}), Some("exactly one of")),
        (json!(42), Some("invalid type")),
    ];
    let body: Vec<_> = cases.iter().map(|(r, _)| r.clone()).collect();
    let (status, answer) = app.post_json(json!(body)).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), cases.len() - 1, "{answer}");
    for (index, (_, want)) in cases.iter().enumerate().skip(1) {
        let got = rejected.iter().find(|r| r["index"] == index).unwrap_or_else(|| panic!("no error for {index}"));
        let error = got["error"].as_str().unwrap();
        assert!(error.contains(want.unwrap()), "record {index}: {error:?} should say {want:?}");
    }
    assert_eq!(app.metric("cw_sidecar_records_rejected_total", "reason=\"timestamp\"").await, 2.0);
    app.shutdown().await;
}

#[tokio::test]
async fn nothing_valid_is_a_400_with_the_same_body_and_garbage_is_a_400_error() {
    let app = TestApp::spawn(|_| {}).await;
    let (status, body) = app.post_json(json!([{"name": ""}])).await;
    assert_eq!(status, 400);
    assert_eq!(body["accepted"], 0);
    assert_eq!(body["rejected"][0]["index"], 0);
    let (status, body) = app.post_json(json!([])).await;
    assert_eq!((status, body["accepted"].as_u64()), (400, Some(0)));
    let (status, body, _) = app.post("application/json", "{not json").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("envelope"), "{body}");
    let (status, body, _) = app.post("text/plain", "x").await;
    assert_eq!(status, 415);
    assert!(body["error"].as_str().unwrap().contains("application/x-ndjson"));
    app.shutdown().await;
}

#[tokio::test]
async fn envelope_record_and_default_precedence() {
    let app = TestApp::spawn(|c| {
        c.default_dimensions =
            [("Host".to_string(), "h1".to_string()), ("Service".to_string(), "default".to_string())].into();
    })
    .await;
    let body = json!({
        "namespace": "FromEnvelope",
        "dimensions": {"Service": "envelope", "Zone": "a"},
        "metrics": [
            {"name": "A", "value": 1},
            {"name": "B", "value": 1, "namespace": "FromRecord", "dimensions": {"Service": "record"}}
        ]
    });
    let (status, answer) = app.post_json(body).await;
    assert_eq!((status, answer["accepted"].as_u64()), (202, Some(2)), "{answer}");
    let (status, _) = app.post_json(json!([{"name": "C", "value": 1}])).await;
    assert_eq!(status, 202);
    assert_eq!(app.flush().await.0, 200);
    let dims = |ns: &str| app.fake.datums(ns)[0].dimensions.clone();
    let pairs = |p: &[(&str, &str)]| p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    assert_eq!(dims("FromEnvelope"), pairs(&[("Host", "h1"), ("Service", "envelope"), ("Zone", "a")]));
    assert_eq!(dims("FromRecord"), pairs(&[("Host", "h1"), ("Service", "record"), ("Zone", "a")]));
    assert_eq!(dims("Test"), pairs(&[("Host", "h1"), ("Service", "default")]));
    app.shutdown().await;
}

#[tokio::test]
async fn ndjson_and_gzip_bodies_are_accepted_and_bad_lines_rejected_by_index() {
    let app = TestApp::spawn(|_| {}).await;
    let ndjson = "{\"name\":\"A\",\"value\":1}\nnot json\n\n{\"name\":\"A\",\"value\":3}\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(ndjson.as_bytes()).unwrap();
    let compressed = gz.finish().unwrap();
    let r = app
        .http
        .post(format!("{}/v1/metrics", app.base))
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["rejected"][0]["index"], 1);
    app.flush().await;
    let datums = app.fake.datums("Test");
    assert_eq!(datums.len(), 1);
    assert_eq!(datums[0].values.iter().sum::<f64>(), 4.0);
    app.shutdown().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_also_after_decompression() {
    let app = TestApp::spawn(|c| c.max_body_bytes = 64 * 1024).await;
    let big = format!("[{}]", vec![r#"{"name":"A","value":1}"#; 5000].join(","));
    assert!(big.len() > 64 * 1024);
    let (status, _, _) = app.post("application/json", big.clone()).await;
    assert_eq!(status, 413);
    // Compressed, it is small on the wire but still too large once inflated.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(big.as_bytes()).unwrap();
    let compressed = gz.finish().unwrap();
    assert!(compressed.len() < 64 * 1024);
    let r = app
        .http
        .post(format!("{}/v1/metrics", app.base))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(compressed)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("after decompression"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_token_guards_ingest() {
    let app = TestApp::spawn(|c| c.auth_token = Some("s3cret".into())).await;
    let url = format!("{}/v1/metrics", app.base);
    let body = r#"[{"name":"A","value":1}]"#;
    let send = |auth: Option<&'static str>| {
        let mut r = app.http.post(&url).header("content-type", "application/json").body(body);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    assert_eq!(send(None).await.unwrap().status(), 401);
    assert_eq!(send(Some("Bearer wrong!")).await.unwrap().status(), 401);
    assert_eq!(send(Some("Bearer s3cret")).await.unwrap().status(), 202);
    app.shutdown().await;
}

#[tokio::test]
async fn a_full_buffer_answers_503_and_accepts_nothing_of_the_request() {
    let app = TestApp::spawn(|c| c.max_buffered_datums = 10).await;
    let series = |n: usize, prefix: &str| {
        json!((0..n).map(|i| json!({"name": format!("{prefix}{i}"), "value": 1})).collect::<Vec<_>>())
    };
    let (status, _) = app.post_json(series(8, "a")).await;
    assert_eq!(status, 202);
    // Each record reserves room for a window of its own: 8 + 3 > 10.
    let (status, body, headers) = app.post("application/json", series(3, "b").to_string()).await;
    assert_eq!(status, 503, "{body}");
    assert!(headers.get("retry-after").is_some());
    assert!(body["error"].as_str().unwrap().contains("buffer full"));
    assert_eq!(app.get("/readyz").await.0, 200);
    let (status, _) = app.post_json(series(2, "c")).await;
    assert_eq!(status, 202);
    // Readiness is started and not shutting down: a full buffer (a CloudWatch outage, say)
    // must not take the pod beside the sidecar out of its service. It shows in /metrics.
    assert_eq!(app.get("/readyz").await.0, 200, "a full buffer does not make the sidecar unready");
    assert_eq!(app.metric("cw_sidecar_buffered_datums", "").await, 10.0);
    assert_eq!(app.flush().await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
    let names: Vec<String> = app.fake.datums("Test").into_iter().map(|d| d.name).collect();
    assert_eq!(names.len(), 10);
    assert!(!names.iter().any(|n| n.starts_with('b')), "nothing of the refused request was published");
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"buffer_full\"").await, 1.0);
    // A request that could never fit is not told to retry.
    let (status, body) = app.post_json(series(11, "d")).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("split the request"));
    app.shutdown().await;
}

#[tokio::test]
async fn health_and_metrics_endpoints_answer() {
    let app = TestApp::spawn(|_| {}).await;
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
    let (status, text) = app.get("/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "records_received",
        "datums_published",
        "put_metric_data_calls",
        "buffered_datums",
        "active_series",
        "publish_latency_seconds",
    ] {
        assert!(text.contains(&format!("cw_sidecar_{name}")), "{name} missing from /metrics");
    }
    app.shutdown().await;
}
