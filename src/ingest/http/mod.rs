//! The HTTP input: `POST /v1/metrics` turns JSON and NDJSON bodies into candidates for the
//! pipeline and maps its answer onto HTTP; `/v1/flush`, health and `/metrics` sit beside it.
//! [`server`] accepts the connections, bounded in number, time and header size.

mod conn;
mod error;
mod read;
pub mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

pub use error::IngestError;
pub use read::{BodyBudget, BodyLimits};

use crate::flush::Flusher;
use crate::ingest::otlp::{self, Otlp};
use crate::telemetry::Telemetry;
use cw_core::ingest::json::BodyKind;
use cw_core::ingest::json::submit::submit_body;
use cw_core::ingest::otlp::wire;
use cw_core::pipeline::{Accepted, Input, Pipeline};
use cw_core::reasons::{RefuseReason, TimeoutPhase};

/// What the HTTP handlers share.
pub struct HttpState {
    pub pipeline: Arc<Pipeline>,
    pub flusher: Arc<Flusher>,
    pub telemetry: Arc<Telemetry>,
    pub auth_token: Option<String>,
    pub body_limits: BodyLimits,
    /// Bytes of bodies in memory over all requests (`max_body_bytes_in_flight`).
    pub bodies: BodyBudget,
    /// OTLP bodies, at `/v1/metrics` here and on the OTLP listener.
    pub otlp: Arc<Otlp>,
    /// Set once the app serves; `/readyz` answers 503 before.
    pub started: AtomicBool,
}

pub fn router(state: Arc<HttpState>) -> Router {
    let router = Router::new()
        .route("/v1/metrics", post(ingest))
        .route("/v1/flush", post(flush))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    traced(router).with_state(state)
}

/// Adds a span and debug events per request, when the log filter lets them through
/// (`RUST_LOG=tower_http=debug`); otherwise the layer would cost every request its checks for
/// nothing, and the filter cannot change while the sidecar runs.
pub(crate) fn traced<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    if !tracing::enabled!(target: "tower_http::trace::on_request", tracing::Level::DEBUG) {
        return router;
    }
    // Our own 503s (buffer full, still retrying) are answers, not server failures.
    router.layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)))
}

/// The body formats a request's `Content-Type` can name (its essence, in any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaType {
    Json,
    NdJson,
    Protobuf,
}

pub(crate) fn media_type(headers: &HeaderMap) -> Option<MediaType> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next()?.trim();
    let is = |name: &str| essence.eq_ignore_ascii_case(name);
    if is("application/json") {
        Some(MediaType::Json)
    } else if is("application/x-ndjson") || is("application/ndjson") {
        Some(MediaType::NdJson)
    } else if is("application/x-protobuf") || is("application/protobuf") {
        Some(MediaType::Protobuf)
    } else {
        None
    }
}

/// `Authorization: Bearer <token>`, the scheme in any case (RFC 9110 §11.1).
fn authorized(token: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(token) = token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim());
    // Compare in constant time so the token cannot be guessed byte by byte.
    given.is_some_and(|g| {
        g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

async fn ingest(State(state): State<Arc<HttpState>>, request: axum::extract::Request) -> Response {
    // The request's own headers (a `HeaderMap` extractor would copy them).
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // OTLP protobuf is told by its content type; OTLP JSON by the document's shape.
    let media = media_type(headers);
    let protobuf = media == Some(MediaType::Protobuf);
    let kind = match media {
        Some(MediaType::Json) => Some(BodyKind::Json),
        Some(MediaType::NdJson) => Some(BodyKind::NdJson),
        _ => None,
    };
    let (bytes, _held) = match read_request(&state, headers, body, protobuf || kind.is_some()).await {
        Ok(read) => read,
        Err(e) => return refused(&state, e, protobuf.then_some(wire::Encoding::Protobuf)),
    };
    let kind = match kind {
        None => return otlp::http::export(&state, &bytes, wire::Encoding::Protobuf).await,
        Some(BodyKind::Json) if wire::is_otlp_json(&bytes) => {
            return otlp::http::export(&state, &bytes, wire::Encoding::Json).await;
        }
        Some(kind) => kind,
    };
    match submit(&state, &bytes, kind).await {
        Ok(report) => answer(&report),
        Err(e) => refused(&state, e, None),
    }
}

/// 202 with what was accepted and rejected (400 when nothing was accepted). The usual answer,
/// nothing rejected, is written directly: the same bytes serde_json would write.
fn answer(report: &Accepted) -> Response {
    let status = if report.accepted > 0 { StatusCode::ACCEPTED } else { StatusCode::BAD_REQUEST };
    if !report.rejected.is_empty() {
        return (status, axum::Json(report)).into_response();
    }
    const HEAD: &str = "{\"accepted\":";
    let mut body = String::with_capacity(HEAD.len() + 20 + 16);
    body.push_str(HEAD);
    body.push_str(itoa::Buffer::new().format(report.accepted));
    body.push_str(",\"rejected\":[]}");
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// Counts a refusal decided here (the pipeline counts its own) and answers it: in our JSON,
/// or as OTLP answers in its `otlp` encoding.
pub(crate) fn refused(state: &HttpState, e: IngestError, otlp: Option<wire::Encoding>) -> Response {
    if let Some(reason) = e.uncounted_reason() {
        state.telemetry.request_refused(reason);
    }
    if let IngestError::BodyTimeout(_) = e {
        state.telemetry.connection_timed_out(TimeoutPhase::Body);
    }
    match otlp {
        Some(encoding) => otlp::http::error_response(e, encoding),
        None => e.into_response(),
    }
}

/// Checks the token, the content type (`type_ok`) and encoding, and that the pipeline is
/// open, then reads the body: the decoded bytes with their share of the body budget (hold
/// it while the bytes are in use).
pub(crate) async fn read_request<'s>(
    state: &'s HttpState,
    headers: &HeaderMap,
    body: axum::body::Body,
    type_ok: bool,
) -> Result<(Vec<u8>, read::Reservation<'s>), IngestError> {
    if !authorized(state.auth_token.as_deref(), headers) {
        return Err(IngestError::Unauthorized);
    }
    if !type_ok {
        return Err(IngestError::UnsupportedMediaType);
    }
    let encoding = read::encoding(headers)?;
    state.pipeline.check_open()?;
    read::read_body(body, encoding, state.body_limits, &state.bodies).await
}

/// Submits a body of our format; with a spool, answers once its records are durable there.
async fn submit(state: &HttpState, bytes: &[u8], kind: BodyKind) -> Result<Accepted, IngestError> {
    let finished = off_the_workers(bytes.len(), || submit_body(&state.pipeline, Input::HTTP, bytes, kind));
    Ok(finished.map_err(IngestError::MalformedBody)?.durable().await?)
}

/// Bodies from this size on are parsed into records and aggregated with the runtime told so.
const LARGE_BODY_BYTES: usize = 64 * 1024;

/// Runs `submit`, for a large body as blocking work ([`tokio::task::block_in_place`]): that
/// CPU work grows with the body (a single record may carry a huge `values` array), and
/// meanwhile the worker's other tasks, `/healthz` among them, move to another thread. Inline
/// on a current-thread runtime, which has no other thread (tests).
pub(crate) fn off_the_workers<T>(body_bytes: usize, submit: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi_thread = Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if body_bytes >= LARGE_BODY_BYTES && multi_thread { tokio::task::block_in_place(submit) } else { submit() }
}

/// Every operation needs the token when one is set: a flush costs PutMetricData calls.
async fn flush(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if !authorized(state.auth_token.as_deref(), &headers) {
        state.telemetry.request_refused(RefuseReason::Unauthorized);
        return IngestError::Unauthorized.into_response();
    }
    let counts = state.flusher.flush_and_wait().await;
    let status = if counts.retrying > 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else if counts.rejected > 0 || counts.expired > 0 {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    (status, axum::Json(counts)).into_response()
}

/// Ready means started and not shutting down. A full buffer is not unreadiness: it shows in
/// `/metrics`, the self metrics and the 503s on ingest, while the pod beside the sidecar
/// stays in its service (a CloudWatch outage must not take it down).
async fn readyz(State(state): State<Arc<HttpState>>) -> Response {
    let not_ready = |why: &str| (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": why })));
    if !state.started.load(Ordering::Acquire) {
        return not_ready("starting").into_response();
    }
    if state.pipeline.is_closed() {
        return not_ready("shutting down").into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    state.flusher.update_gauges();
    state.telemetry.set_body_bytes_in_flight(state.bodies.held());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.telemetry.encode()).into_response()
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    #[tokio::test]
    async fn the_written_answer_is_what_serde_json_writes() {
        for accepted in [0, 1, 17, 1000, usize::MAX] {
            let report = Accepted { accepted, rejected: vec![] };
            let response = answer(&report);
            let want = if accepted > 0 { StatusCode::ACCEPTED } else { StatusCode::BAD_REQUEST };
            assert_eq!(response.status(), want);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(body, serde_json::to_vec(&report).unwrap());
        }
    }
}
