//! Bench-only baseline: the physical limit `scripts/bench.sh` compares cw-sidecar with, on the
//! sidecar's stack (axum on hyper), decoding the bodies and doing nothing else:
//! - `POST /v1/metrics`, a JSON array of records, parsed into a borrowed struct with
//!   serde_json (202 with the count), or an OTLP `ExportMetricsServiceRequest`
//!   (`application/x-protobuf`) decoded with prost (200, an empty response);
//! - `POST /api/v1/write`, remote-write 1.0: snappy decompressed, the `WriteRequest` decoded
//!   with prost (204);
//! - with a second address, OTLP/gRPC's `MetricsService/Export` there, over hyper's HTTP/2 as
//!   the sidecar's gRPC listener serves it: the 5-byte prefix checked, the message decoded
//!   with prost, `grpc-status` 0 in the trailers.
//!
//!   bench_parse_only [<listen>] [<grpc-listen>]

use std::collections::BTreeMap;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cw_core::ingest::remote_write::wire::WriteRequest;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use prost::Message;
use serde::Deserialize;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

#[derive(Deserialize)]
#[allow(dead_code)] // parsed, never read: parsing is the point
struct Record<'a> {
    name: &'a str,
    value: Option<f64>,
    unit: Option<&'a str>,
    #[serde(borrow)]
    dimensions: Option<BTreeMap<&'a str, &'a str>>,
    timestamp: Option<i64>,
}

async fn ingest(headers: HeaderMap, body: Bytes) -> Response {
    let protobuf =
        headers.get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/x-protobuf"));
    if protobuf {
        return match ExportMetricsServiceRequest::decode(body) {
            Ok(_) => {
                let answer = ExportMetricsServiceResponse::default().encode_to_vec();
                ([(header::CONTENT_TYPE, "application/x-protobuf")], answer).into_response()
            }
            Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        };
    }
    match serde_json::from_slice::<Vec<Record>>(&body) {
        Ok(records) => (StatusCode::ACCEPTED, format!("{{\"accepted\":{}}}", records.len())).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn write(body: Bytes) -> Response {
    let decoded = snap::raw::Decoder::new().decompress_vec(&body).map_err(|e| e.to_string());
    match decoded.and_then(|raw| WriteRequest::decode(raw.as_slice()).map_err(|e| e.to_string())) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e).into_response(),
    }
}

async fn export(body: Bytes) -> Response {
    let message = match body.first().zip(body.get(1..5)) {
        Some((0, len)) if u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize == body.len() - 5 => {
            body.slice(5..)
        }
        _ => return grpc_answer(Vec::new(), "3"),
    };
    match ExportMetricsServiceRequest::decode(message) {
        Ok(_) => {
            let answer = ExportMetricsServiceResponse::default().encode_to_vec();
            let mut framed = vec![0];
            framed.extend_from_slice(&(answer.len() as u32).to_be_bytes());
            framed.extend_from_slice(&answer);
            grpc_answer(framed, "0")
        }
        Err(_) => grpc_answer(Vec::new(), "3"),
    }
}

/// The framed response, then `grpc-status` in the trailers.
fn grpc_answer(framed: Vec<u8>, status: &'static str) -> Response {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static(status));
    let body = Full::new(Bytes::from(framed)).with_trailers(async move { Some(Ok(trailers)) });
    let mut response = Response::new(Body::new(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}

/// The gRPC listener: hyper's HTTP/2 connections (prior knowledge) serving `router`, as the
/// sidecar's does (no `TCP_NODELAY` either).
async fn serve_grpc(listener: tokio::net::TcpListener, router: Router) {
    let mut http = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http.timer(TokioTimer::new()).max_concurrent_streams(100);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(router.clone()));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:25891".into());
    if let Some(grpc) = args.next() {
        let listener = tokio::net::TcpListener::bind(&grpc).await.expect("bind the gRPC address");
        tokio::spawn(serve_grpc(listener, Router::new().route(EXPORT_PATH, post(export))));
    }
    let app = Router::new().route("/v1/metrics", post(ingest)).route("/api/v1/write", post(write));
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
