//! gRPC's answers on an HTTP/2 listener: the response headers of a call, `OK` with its one
//! message, and a failure as a trailers-only answer (`grpc-status`, `grpc-message`, the
//! `google.rpc.Status` in `grpc-status-details-bin`, and the `RetryInfo` a retryable one
//! carries). The OTLP/gRPC handler answers with them, and so does the accept loop to a
//! connection over the limit ([`super::refuse`]).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use http_body_util::{BodyExt, Full};

use cw_core::ingest::otlp::grpc as wire;

pub const CONTENT_TYPE: &str = "application/grpc";

/// A call's failure, as its trailers say it.
pub struct Status {
    pub code: i32,
    pub message: String,
    /// When to retry (`RetryInfo`).
    pub retry: Option<Duration>,
}

fn grpc_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert("grpc-accept-encoding", HeaderValue::from_static(wire::ACCEPTED));
}

/// `OK`: the framed response, then the trailers.
pub fn ok(framed: Vec<u8>) -> Response {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let body = Full::new(Bytes::from(framed)).with_trailers(async move { Some(Ok(trailers)) });
    let mut response = Response::new(Body::new(body));
    grpc_headers(&mut response);
    response
}

/// A failure as a trailers-only answer: status, message and details in the headers of an
/// empty stream. The `RetryInfo` is in the details (grpc-go, the collector) and also in a
/// `google.rpc.retryinfo-bin` trailer, where the Python SDK looks for it.
pub fn status(s: Status) -> Response {
    let mut response = Response::new(Body::empty());
    grpc_headers(&mut response);
    let details = wire::status_details(s.code, &s.message, s.retry);
    let headers = response.headers_mut();
    headers.insert("grpc-status", HeaderValue::from(s.code));
    if let Ok(message) = HeaderValue::from_str(&wire::percent_encoded(&s.message)) {
        headers.insert("grpc-message", message);
    }
    let base64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    if let Ok(details) = HeaderValue::from_str(&base64.encode(details)) {
        headers.insert("grpc-status-details-bin", details);
    }
    if let Some(delay) = s.retry
        && let Ok(info) = HeaderValue::from_str(&base64.encode(wire::retry_info(delay)))
    {
        headers.insert("google.rpc.retryinfo-bin", info);
    }
    response
}
