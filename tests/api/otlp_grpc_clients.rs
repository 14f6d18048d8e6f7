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
//! They need the clients (`scripts/clients.sh`), so a plain `cargo test` skips them;
//! `scripts/test.sh` runs them, and without the clients they fail.

use std::path::PathBuf;

use crate::helpers::TestApp;
use crate::otlp_clients::{Histograms, NAMESPACE, clients, compare, run};

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
