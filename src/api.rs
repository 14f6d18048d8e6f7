//! The API listener (`listen`, 127.0.0.1:25889): `POST /v1/metrics` takes our records and
//! OTLP bodies (told apart by `Content-Type` for protobuf, by the document's top-level
//! `resourceMetrics` for JSON), `POST /api/v1/write` Prometheus remote-write (unless
//! `[remote_write]` is off); `/v1/flush`, `/healthz`, `/readyz` and `/metrics` sit beside
//! them. This module composes the HTTP inputs on the API's port; each input's handler is its
//! own, on the shared toolkit of [`crate::ingest::http`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use cw_core::ingest::json::BodyKind;
use cw_core::ingest::otlp::wire::{self, Encoding};

use crate::cost::CostSettings;
use crate::flush::Flusher;
use crate::ingest::http::{self, Http, IngestError, MediaType, authorized, media_type};
use crate::ingest::otlp::{self, Otlp};
use crate::ingest::records;
use crate::ingest::remote_write::{self, RemoteWrite, http::Listener};
use cw_core::reasons::RefuseReason;

/// What the API's handlers share.
pub struct Api {
    pub http: Arc<Http>,
    pub otlp: Arc<Otlp>,
    /// Remote-write, unless `[remote_write]` is off.
    pub remote_write: Option<Arc<RemoteWrite>>,
    pub flusher: Arc<Flusher>,
    /// Set once the app serves; `/readyz` answers 503 before.
    pub started: AtomicBool,
    pub cost: CostSettings,
}

pub fn router(api: Arc<Api>) -> Router {
    let router = Router::new()
        .route("/v1/metrics", post(ingest))
        .route("/v1/flush", post(flush))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/cost", get(cost))
        .route("/v1/series", get(series));
    let remote_write = api.remote_write.clone().map(|remote_write| Listener { http: api.http.clone(), remote_write });
    let router = http::traced(router).with_state(api);
    match remote_write {
        Some(listener) => router.merge(remote_write::http::router(Arc::new(listener))),
        None => router,
    }
}

async fn ingest(State(api): State<Arc<Api>>, request: axum::extract::Request) -> Response {
    // The request's own headers (a `HeaderMap` extractor would copy them).
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // OTLP protobuf is told by its content type; OTLP JSON by the document's shape.
    let media = media_type(headers);
    let protobuf = media == Some(MediaType::Protobuf);
    let kind = records::kind(media);
    let (bytes, _held) = match api.http.read_request(headers, body, protobuf || kind.is_some()).await {
        Ok(read) => read,
        Err(e) => return refused(&api, e, protobuf.then_some(Encoding::Protobuf)),
    };
    let kind = match kind {
        None => return otlp::http::export(&api.http, &api.otlp, &bytes, Encoding::Protobuf).await,
        Some(BodyKind::Json) if wire::is_otlp_json(&bytes) => {
            return otlp::http::export(&api.http, &api.otlp, &bytes, Encoding::Json).await;
        }
        Some(kind) => kind,
    };
    match records::submit(&api.http, &bytes, kind).await {
        Ok(report) => records::answer(&report),
        Err(e) => refused(&api, e, None),
    }
}

/// Counts a refusal decided here (the pipeline counts its own) and answers it: in our JSON,
/// or as OTLP answers in its `otlp` encoding.
fn refused(api: &Api, e: IngestError, otlp: Option<Encoding>) -> Response {
    api.http.refusal(&e);
    match otlp {
        Some(encoding) => otlp::http::error_response(e, encoding),
        None => e.into_response(),
    }
}

/// Every operation needs the token when one is set: a flush costs PutMetricData calls.
async fn flush(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    if !authorized(api.http.auth_token.as_deref(), &headers) {
        api.http.telemetry.request_refused(RefuseReason::Unauthorized);
        return IngestError::Unauthorized.into_response();
    }
    let counts = api.flusher.flush_and_wait().await;
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
async fn readyz(State(api): State<Arc<Api>>) -> Response {
    let not_ready = |why: &str| (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": why })));
    if !api.started.load(Ordering::Acquire) {
        return not_ready("starting").into_response();
    }
    if api.http.pipeline.is_closed() {
        return not_ready("shutting down").into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(State(api): State<Arc<Api>>) -> Response {
    api.flusher.update_gauges();
    let http = &api.http;
    http.telemetry.http.set_body_bytes_in_flight(http.bodies.held());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], http.telemetry.encode()).into_response()
}

/// The bill in view; no token, as `/metrics` (it tells what `/metrics` tells, priced).
async fn cost(State(api): State<Arc<Api>>) -> Response {
    let now = api.flusher.clock.now_ms();
    axum::Json(crate::cost::report(&api.http.pipeline, &api.http.telemetry, &api.cost, now)).into_response()
}

/// The metrics of the active series with their dimension sets (what `cw-sidecar catalog
/// suggest` starts a catalog from); the series budget keeps them, so 404 without it.
async fn series(State(api): State<Arc<Api>>) -> Response {
    match api.http.pipeline.seen_metrics() {
        Some(metrics) => axum::Json(serde_json::json!({ "metrics": metrics })).into_response(),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            "the series are known with the series budget only (cardinality.enabled = true)\n",
        )
            .into_response(),
    }
}
