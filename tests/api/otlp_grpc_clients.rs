//! The OpenTelemetry SDKs' OTLP/gRPC exporters against the real app's gRPC listener: Python's
//! `opentelemetry-exporter-otlp-proto-grpc` (grpcio) and Node's
//! `@opentelemetry/exporter-metrics-otlp-grpc` (grpc-js), configured by the standard
//! environment variables only, each with cumulative temporality and explicit-bucket histograms
//! and with delta temporality and exponential histograms
//! (`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`). What reaches the fake
//! CloudWatch is compared with what the client recorded exactly as for OTLP/HTTP
//! ([`crate::otlp_clients`]): SampleCount and Sum of every series and minute, percentiles
//! within their bucket, delta Minimum and Maximum.
//!
//! Cumulative exponential histograms are left out: when a later point's scale or bucket range
//! changes, the sidecar starts a new baseline and that interval is lost by design (the README
//! advises delta temporality for them), so they cannot be compared exactly.
//!
//! Three short ones drive the Python SDK into the sidecar's refusals: a full buffer, and a
//! connection over `max_connections`, answer UNAVAILABLE with a RetryInfo, which the SDK
//! honours and retries until the data arrives, exactly once; a wrong token answers
//! UNAUTHENTICATED, which the SDK logs and drops.
//!
//! They need the clients (`scripts/clients.sh`), so a plain `cargo test` skips them;
//! `scripts/test.sh` runs them, and without the clients they fail.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, now_ms, until};
use crate::otlp_clients::{Histograms, NAMESPACE, ROUNDS, clients, compare, run, run_logged};

async fn sdk(client: &str, service: &str, temporality: &str, histograms: Histograms) {
    let app = TestApp::spawn(|c| {
        c.otlp.grpc_listen = Some("127.0.0.1:0".parse().unwrap());
        c.otlp.namespace = Some(NAMESPACE.into());
    })
    .await;
    let grpc = app.addr("otlp", "grpc").unwrap();
    let aggregation = match histograms {
        Histograms::Explicit => "explicit_bucket_histogram",
        Histograms::Exponential => "base2_exponential_bucket_histogram",
    };
    // An http:// endpoint is a plaintext (insecure) gRPC channel for both SDKs.
    let env = [
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", format!("http://{grpc}")),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc".into()),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", temporality.into()),
        ("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", aggregation.into()),
    ];
    let rounds = match client {
        "python" => run(clients().join(".venv/bin/python"), "otel_client.py", &env).await,
        _ => run(PathBuf::from("node"), "otel_client.js", &env).await,
    };
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "outcome=\"rejected\"").await, 0.0);
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "").await, 0.0);
    let accepted = app.metric("cw_sidecar_otlp_points_total", "outcome=\"accepted\"").await;
    // Four instruments, two routes, one point each per round.
    assert_eq!(accepted, 4.0 * 2.0 * rounds.len() as f64, "every export arrived over gRPC");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    compare(&rounds, &fake.datums(NAMESPACE), service, temporality == "delta", histograms);
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn python_grpc_cumulative_explicit_histograms() {
    sdk("python", "py-shop", "cumulative", Histograms::Explicit).await;
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn python_grpc_delta_exponential_histograms() {
    sdk("python", "py-shop", "delta", Histograms::Exponential).await;
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn node_grpc_cumulative_explicit_histograms() {
    sdk("node", "node-shop", "cumulative", Histograms::Explicit).await;
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn node_grpc_delta_exponential_histograms() {
    sdk("node", "node-shop", "delta", Histograms::Exponential).await;
}

/// The Python SDK's environment for the gRPC listener at `grpc`, cumulative, explicit buckets.
fn python_env(grpc: std::net::SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", format!("http://{grpc}")),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc".into()),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative".into()),
        // Retries take seconds: a round starts well before its minute ends.
        ("OTEL_CLIENT_MINUTE_MARGIN_MS", "12000".into()),
    ]
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn python_grpc_retries_a_full_buffer_after_its_retry_info_and_the_data_arrives_once() {
    const SLOTS: usize = 64;
    let app = TestApp::spawn(|c| {
        c.otlp.grpc_listen = Some("127.0.0.1:0".parse().unwrap());
        c.otlp.namespace = Some(NAMESPACE.into());
        c.max_buffered_datums = SLOTS;
        // The RetryInfo's delay is the flush interval.
        c.flush_interval = Duration::from_secs(2);
    })
    .await;
    let grpc = app.addr("otlp", "grpc").unwrap();
    // The buffer is full of records of a window an hour ahead, which no periodic flush
    // publishes: the SDK's first export is refused until the test flushes.
    let ahead = now_ms() + 3_600_000;
    let fill: Vec<Value> =
        (0..SLOTS).map(|i| json!({"name": format!("fill{i}"), "value": 1, "timestamp": ahead})).collect();
    assert_eq!(app.post_json(Value::Array(fill)).await.0, 202);
    assert_eq!(app.metric("cw_sidecar_buffered_datums", "").await, SLOTS as f64);
    let env = python_env(grpc);
    let client =
        tokio::spawn(async move { run_logged(clients().join(".venv/bin/python"), "otel_client.py", &env).await });
    let refused = async || app.metric("cw_sidecar_requests_refused_total", "reason=\"buffer_full\"").await;
    until("the SDK's first export is refused", async || refused().await >= 1.0).await;
    assert_eq!(app.flush().await.0, 200);
    let (rounds, log) = client.await.unwrap();
    // The SDK waited the RetryInfo's 2 s (its own backoff would be 1 s with jitter).
    assert!(log.contains("Transient error StatusCode.UNAVAILABLE"), "{log}");
    assert!(log.contains("retrying in 2.00s"), "the RetryInfo was not honoured: {log}");
    assert!(!log.contains("Failed to export"), "{log}");
    let accepted = app.metric("cw_sidecar_otlp_points_total", "outcome=\"accepted\"").await;
    assert_eq!(accepted, 4.0 * 2.0 * ROUNDS as f64, "each export was accepted once");
    let refusals = refused().await;
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    assert!(refusals >= 1.0);
    compare(&rounds, &fake.datums(NAMESPACE), "py-shop", false, Histograms::Explicit);
    assert_eq!(fake.datums("Test").len(), SLOTS, "the fill, published once");
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn python_grpc_with_a_wrong_token_is_unauthenticated_and_nothing_is_published() {
    let app = TestApp::spawn(|c| {
        c.otlp.grpc_listen = Some("127.0.0.1:0".parse().unwrap());
        c.otlp.namespace = Some(NAMESPACE.into());
        c.auth_token = Some("s3cret".into());
    })
    .await;
    let mut env = python_env(app.addr("otlp", "grpc").unwrap());
    env.push(("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "authorization=Bearer%20wrong".into()));
    let (_, log) = run_logged(clients().join(".venv/bin/python"), "otel_client.py", &env).await;
    // Not retryable: one refusal per round, logged by the SDK (which folds repeats).
    assert!(log.contains("error code: StatusCode.UNAUTHENTICATED"), "{log}");
    assert!(!log.contains("Transient error"), "{log}");
    assert_eq!(app.metric("cw_sidecar_requests_refused_total", "reason=\"unauthorized\"").await, ROUNDS as f64);
    assert_eq!(app.metric("cw_sidecar_otlp_points_total", "").await, 0.0);
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    assert!(fake.datums(NAMESPACE).is_empty());
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry clients: scripts/clients.sh; scripts/test.sh runs it"]
async fn python_grpc_over_max_connections_retries_after_the_retry_info_until_a_slot_frees() {
    use crate::grpc_client::{Channel, EXPORT, call_with};
    let app = TestApp::spawn(|c| {
        c.otlp.grpc_listen = Some("127.0.0.1:0".parse().unwrap());
        c.otlp.namespace = Some(NAMESPACE.into());
        c.max_connections = 1;
    })
    .await;
    let grpc = app.addr("otlp", "grpc").unwrap();
    // A raw call holds the listener's only connection, its message still arriving.
    let (tx, rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(1);
    let held = tokio::spawn(call_with(grpc, EXPORT, &[], Channel(rx)));
    tx.send(vec![0u8, 0].into()).await.unwrap();
    until("the slot held", async || app.metric("cw_sidecar_connections_active", "").await >= 2.0).await;
    let env = python_env(grpc);
    let client =
        tokio::spawn(async move { run_logged(clients().join(".venv/bin/python"), "otel_client.py", &env).await });
    let refused = "reason=\"max_connections\",answer=\"grpc_unavailable\"";
    until("the SDK refused", async || app.metric("cw_sidecar_connections_refused_total", refused).await >= 1.0).await;
    drop(tx);
    assert_eq!(held.await.unwrap().code(), 3, "the held call's frame is truncated");
    let (rounds, log) = client.await.unwrap();
    assert!(log.contains("too many open connections (max_connections)"), "{log}");
    assert!(log.contains("retrying in 1.00s"), "the RetryInfo was not honoured: {log}");
    assert!(!log.contains("Failed to export"), "{log}");
    let accepted = app.metric("cw_sidecar_otlp_points_total", "outcome=\"accepted\"").await;
    assert_eq!(accepted, 4.0 * 2.0 * ROUNDS as f64, "each export was accepted once");
    let fake = app.fake.clone();
    assert!(app.shutdown().await.complete());
    compare(&rounds, &fake.datums(NAMESPACE), "py-shop", false, Histograms::Explicit);
}
