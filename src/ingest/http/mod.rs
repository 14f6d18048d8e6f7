//! The HTTP API. Bad input is answered with what was wrong; it is never an internal error.

pub mod body;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;
use serde_json::json;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::app::Shared;
use crate::ingest::http::body::{BodyKind, parse_record, split_body};
use crate::pipeline::aggregate::encode_series_key;
use crate::pipeline::validate::{Inherited, Payload, validate};
use crate::publish::outbox::now_ms;
use crate::telemetry::reasons::{RefuseReason, RejectReason};

pub fn router(shared: Arc<Shared>) -> Router {
    let max_body = shared.config.max_body_bytes;
    Router::new()
        .route("/v1/metrics", post(ingest))
        .route("/v1/flush", post(flush))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        // Outermost first: the raw body is bounded, then decompressed (and bounded again
        // in `ingest`, after decompression).
        .layer(RequestDecompressionLayer::new())
        .layer(RequestBodyLimitLayer::new(max_body))
        // Our own 503s (buffer full, still retrying) are answers, not server failures.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)))
        .with_state(shared)
}

#[derive(Serialize)]
struct Rejection {
    index: usize,
    error: String,
}

#[derive(Serialize)]
struct IngestReport {
    accepted: usize,
    rejected: Vec<Rejection>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

fn unavailable(retry_after_secs: u64, message: String) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
    r
}

fn body_kind(headers: &HeaderMap) -> Option<BodyKind> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(BodyKind::Json),
        "application/x-ndjson" | "application/ndjson" => Some(BodyKind::NdJson),
        _ => None,
    }
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = &shared.config.auth_token else {
        return true;
    };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    // Compare in constant time so the token cannot be guessed byte by byte.
    given.is_some_and(|g| {
        g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

async fn ingest(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let t = &shared.telemetry;
    if !authorized(&shared, &headers) {
        t.request_refused(RefuseReason::Unauthorized);
        let mut r = error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token (Authorization: Bearer <token>)");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("valid header"));
        return r;
    }
    let Some(kind) = body_kind(&headers) else {
        t.request_refused(RefuseReason::UnsupportedMediaType);
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json or application/x-ndjson",
        );
    };
    if shared.gate.is_closed() {
        t.request_refused(RefuseReason::ShuttingDown);
        return unavailable(5, "shutting down: not accepting records".into());
    }
    let max = shared.config.max_body_bytes;
    let bytes = match Limited::new(body, max).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            t.request_refused(RefuseReason::TooLarge);
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body exceeds max_body_bytes ({max} bytes) after decompression"),
            );
        }
        Err(e) => {
            t.request_refused(RefuseReason::UnreadableBody);
            return error(StatusCode::BAD_REQUEST, format!("could not read the body: {e}"));
        }
    };
    let parsed = match split_body(&bytes, kind) {
        Ok(b) => b,
        Err(e) => {
            t.request_refused(RefuseReason::MalformedBody);
            return error(StatusCode::BAD_REQUEST, e);
        }
    };
    t.records_received(parsed.items.len());

    let now = now_ms();
    let config = &shared.config;
    let inherited = Inherited {
        envelope_namespace: parsed.namespace.as_ref().map(|n| n.as_str()),
        envelope_dimensions: parsed.dimensions.as_ref(),
        default_namespace: config.namespace.as_deref(),
        default_dimensions: &config.default_dimensions,
    };
    // Keys of all valid records, back to back, and where each one's key ends.
    let mut keys = Vec::with_capacity(parsed.items.len() * 64);
    let mut valid: Vec<(usize, i64, Payload)> = Vec::with_capacity(parsed.items.len());
    let mut rejected = Vec::new();
    for (index, item) in parsed.items.iter().enumerate() {
        let mut record = match parse_record(item) {
            Ok(r) => r,
            Err(e) => {
                t.record_rejected(RejectReason::Malformed);
                rejected.push(Rejection { index, error: e });
                continue;
            }
        };
        match validate(&mut record, &inherited, now) {
            Ok(sample) => {
                encode_series_key(&mut keys, &sample);
                let window = sample.window_start_ms();
                valid.push((keys.len(), window, sample.payload));
            }
            Err(e) => {
                t.record_rejected(e.reason);
                rejected.push(Rejection { index, error: e.message });
            }
        }
    }
    if valid.is_empty() {
        return (StatusCode::BAD_REQUEST, axum::Json(IngestReport { accepted: 0, rejected })).into_response();
    }

    let Some(_entered) = shared.gate.enter() else {
        t.request_refused(RefuseReason::ShuttingDown);
        return unavailable(5, "shutting down: not accepting records".into());
    };
    // Each record may open a new series-window: reserve for all, give back what merged.
    // A request that could never fit would get 503 forever: tell the client to split it.
    if valid.len() > shared.budget.max() {
        t.request_refused(RefuseReason::TooLarge);
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} valid records exceed max_buffered_datums ({}): split the request",
                valid.len(),
                shared.budget.max()
            ),
        );
    }
    let Ok(mut reservation) = shared.budget.try_reserve(valid.len()) else {
        t.request_refused(RefuseReason::BufferFull);
        return unavailable(
            config.flush_interval.as_secs().max(1),
            format!(
                "buffer full: {} of max_buffered_datums {} in use; nothing of this request was accepted",
                shared.budget.used(),
                shared.budget.max()
            ),
        );
    };
    let accepted = valid.len();
    let mut start = 0;
    let mut opened = 0;
    for (end, window, payload) in valid {
        opened += shared.aggregator.add(&keys[start..end], window, payload) as usize;
        start = end;
    }
    reservation.keep(opened);
    drop(reservation);
    t.records_accepted(accepted);
    (StatusCode::ACCEPTED, axum::Json(IngestReport { accepted, rejected })).into_response()
}

async fn flush(State(shared): State<Arc<Shared>>) -> Response {
    let counts = shared.flush_and_wait().await;
    let status = if counts.retrying > 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else if counts.rejected > 0 || counts.expired > 0 {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    (status, axum::Json(counts)).into_response()
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.started.load(Ordering::Acquire) {
        return error(StatusCode::SERVICE_UNAVAILABLE, "starting");
    }
    if shared.gate.is_closed() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if shared.budget.is_full() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "buffer full");
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    shared.update_gauges();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], shared.telemetry.encode()).into_response()
}
