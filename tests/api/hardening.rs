//! Regressions from a hostile-input run: each of these was accepted, lost or misanswered.

use std::io::Write;

use serde_json::json;

use crate::helpers::{TestApp, mid_window_ms};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn timestamps_at_the_edge_of_i64_are_rejected_and_their_batch_mates_published() {
    let app = TestApp::spawn(|_| {}).await;
    let ts = mid_window_ms();
    let mut records: Vec<_> = (0..7).map(|i| json!({"name": "Mate", "value": i, "timestamp": ts})).collect();
    records.insert(2, json!({"name": "Evil", "value": 1, "timestamp": i64::MIN}));
    records.insert(5, json!({"name": "Evil", "value": 1, "timestamp": i64::MIN + 1}));
    records.push(json!({"name": "Evil", "value": 1, "timestamp": i64::MAX}));
    let (status, body) = app.post_json(json!(records)).await;
    assert_eq!((status, body["accepted"].as_u64()), (202, Some(7)), "{body}");
    let errors: Vec<(u64, &str)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["error"].as_str().unwrap()))
        .collect();
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 5, 9]);
    assert!(errors.iter().all(|(_, e)| e.starts_with("timestamp: ")), "{errors:?}");
    let (status, counts) = app.flush().await;
    assert_eq!(status, 200, "nothing left retrying: {counts}");
    let mate: f64 =
        app.fake.datums("Test").iter().flat_map(|d| d.values.iter().zip(&d.counts)).map(|(v, c)| v * c).sum();
    assert_eq!(mate, 21.0, "every batch-mate published");
    app.shutdown().await;
}

#[tokio::test]
async fn a_flush_needs_the_token_and_probes_do_not() {
    let app = TestApp::spawn(|c| c.auth_token = Some("s3cret".into())).await;
    let flush = |auth: Option<&'static str>| {
        let mut r = app.http.post(format!("{}/v1/flush", app.base));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let r = flush(None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(flush(Some("bearer s3cret")).await.unwrap().status(), 200, "the scheme is case-insensitive");
    assert_eq!(flush(Some("Bearer s3cret")).await.unwrap().status(), 200);
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(app.get(path).await.0, 200, "{path} stays open");
    }
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"unauthorized\"").await, 1.0);
    app.shutdown().await;
}

#[tokio::test]
async fn admission_counts_series_windows_not_records_and_never_says_retry_when_it_cannot_pass() {
    let app = TestApp::spawn(|c| c.max_buffered_datums = 100).await;
    let ts = mid_window_ms();
    // 5000 records of one series take one slot.
    let one_series: Vec<_> = (0..5000).map(|i| json!({"name": "Hot", "value": i % 7, "timestamp": ts})).collect();
    let (status, body) = app.post_json(json!(one_series)).await;
    assert_eq!((status, body["accepted"].as_u64()), (202, Some(5000)), "{body}");
    // 101 distinct series-windows can never fit: 413, and no Retry-After.
    let wide: Vec<_> = (0..101).map(|i| json!({"name": format!("S{i}"), "value": 1, "timestamp": ts})).collect();
    let (status, body, headers) = app.post("application/json", json!(wide).to_string()).await;
    assert_eq!(status, 413, "{body}");
    assert!(headers.get("retry-after").is_none());
    assert!(body["error"].as_str().unwrap().contains("101 series-windows"), "{body}");
    // 100 of them fit beside nothing else; with the hot series buffered, 503 and retry later.
    let (status, _, headers) = app.post("application/json", json!(wide[..100]).to_string()).await;
    assert_eq!(status, 503);
    assert!(headers.get("retry-after").is_some());
    assert_eq!(app.flush().await.0, 200);
    assert_eq!(app.post_json(json!(wide[..100])).await.0, 202);
    app.shutdown().await;
}

#[tokio::test]
async fn names_that_could_forge_a_log_line_are_rejected() {
    let app = TestApp::spawn(|_| {}).await;
    let forged = "x\n2026-11-30T00:00:00Z INFO cw_sidecar: shutdown complete";
    let (status, body) = app
        .post_json(json!([
            {"name": forged, "value": 1},
            {"name": "Caf\u{e9}", "value": 1},
            {"name": "x", "value": 1, "namespace": "App\u{1b}[31m"},
        ]))
        .await;
    assert_eq!(status, 400, "{body}");
    let errors: Vec<&str> = body["rejected"].as_array().unwrap().iter().map(|r| r["error"].as_str().unwrap()).collect();
    assert_eq!(errors[0], "name: name must be ASCII without control characters, found '\\n'");
    assert!(errors[1].starts_with("name: name must be ASCII"), "{}", errors[1]);
    assert!(errors[2].starts_with("namespace: namespace must be ASCII"), "{}", errors[2]);
    app.shutdown().await;
}

#[tokio::test]
async fn encodings_limits_and_shapes_are_answered_in_json() {
    let app = TestApp::spawn(|c| c.max_body_bytes = 4096).await;
    let url = format!("{}/v1/metrics", app.base);
    let record = br#"[{"name":"A","value":1}]"#;
    let send = |encoding: &'static str, body: Vec<u8>| {
        app.http
            .post(&url)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    for name in ["GZIP", "x-gzip", "X-Gzip"] {
        assert_eq!(send(name, gzip(record)).await.unwrap().status(), 202, "{name} is gzip");
    }
    let r = send("br", record.to_vec()).await.unwrap();
    assert_eq!(r.status(), 415);
    assert!(r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("`br`"));
    // Every member of a multi-member body is read; bytes after the last one are an error.
    let mut two = gzip(br#"{"name":"M","value":1}"#);
    two.extend(gzip(b"\n{\"name\":\"M\",\"value\":2}\n"));
    let r = app
        .http
        .post(&url)
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .body(two.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["accepted"], 2);
    let mut trailing = gzip(record);
    trailing.extend_from_slice(b"garbage");
    let r = send("gzip", trailing).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("gzip"));
    // Over the limit by Content-Length or chunked: 413 with a JSON body either way.
    let big = vec![b' '; 5000];
    let (status, body, _) = app.post("application/json", big.clone()).await;
    assert_eq!(status, 413);
    assert!(body["error"].as_str().unwrap().contains("max_body_bytes"), "{body}");
    let (status, body) = post_chunked(&app.base, &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("max_body_bytes"), "{body}");
    // A record is an object, not a positional array.
    let (status, body) = app.post_json(json!([["A", 1], {"name": "A", "value": 1}])).await;
    assert_eq!(status, 202);
    assert!(body["rejected"][0]["error"].as_str().unwrap().contains("expected a record object"), "{body}");
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"too_large\"").await, 2.0);
    app.shutdown().await;
}

/// POSTs `body` with `Transfer-Encoding: chunked` (no Content-Length) over a raw socket.
async fn post_chunked(base: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    let mut request = b"POST /v1/metrics HTTP/1.1\r\nHost: sidecar\r\nContent-Type: application/json\r\n\
        Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_vec();
    for chunk in body.chunks(1000) {
        request.extend(format!("{:x}\r\n", chunk.len()).bytes());
        request.extend(chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}
