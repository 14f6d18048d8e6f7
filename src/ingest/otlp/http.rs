//! OTLP over HTTP: the answers the OTLP specification defines, in the request's encoding.
//! - 200 with `ExportMetricsServiceResponse`, its `partial_success` naming refused points;
//! - 400 with a `google.rpc.Status` for a body that cannot be parsed;
//! - 503 with `Retry-After` (retryable for OTLP clients) for a full buffer, shutting down or
//!   the bodies in memory at their bound;
//! - 413 for a body too large, a request over the decoded-size budget (`max_points_per_request`,
//!   `max_buckets_per_point`, counted before decoding), or a request whose series-windows could not fit even an empty
//!   buffer (`max_buffered_datums`): retrying it unchanged could never succeed, and OTLP
//!   clients do not retry a 413;
//! - 401, 408, 415 as for our own records.
//!
//! Body reading (limits, gzip, the bytes-in-flight budget, the timeout) is the HTTP toolkit's.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::Otlp;
use crate::ingest::http::listener::HttpListener;
use crate::ingest::http::server::ServerLimits;
use crate::ingest::http::{self, Http, IngestError, MediaType, media_type, off_the_workers};
use crate::ingest::source::{BoxFuture, Shared, Source};
use cw_core::ingest::otlp::budget::{self, TooMuch};
use cw_core::ingest::otlp::wire::{self, Encoding, code};
use cw_core::pipeline::Refusal;

/// The encoding named by `Content-Type`, if it is one OTLP uses (`application/x-protobuf`,
/// also spelled `application/protobuf`; `application/json`).
pub fn content_encoding(headers: &HeaderMap) -> Option<Encoding> {
    match media_type(headers)? {
        MediaType::Protobuf => Some(Encoding::Protobuf),
        MediaType::Json => Some(Encoding::Json),
        MediaType::NdJson => None,
    }
}

/// What the OTLP listener's handler needs: the HTTP toolkit and the OTLP input.
pub struct Listener {
    pub http: Arc<Http>,
    pub otlp: Arc<Otlp>,
}

/// Binds the OTLP listener that `[otlp]` turns on: the input's [`Source`]; `None` when it
/// is off (`POST /v1/metrics` of the API takes OTLP regardless).
pub fn build(shared: &Shared) -> BoxFuture<'_, std::io::Result<Option<Box<dyn Source>>>> {
    Box::pin(async move {
        let Some(address) = shared.config.otlp.address() else { return Ok(None) };
        let router = router(Arc::new(Listener { http: shared.http.clone(), otlp: shared.otlp.clone() }));
        let limits = ServerLimits::of(&shared.config);
        let listener = HttpListener::bind("otlp", address, router, limits, shared.telemetry.clone()).await?;
        Ok(Some(Box::new(listener) as Box<dyn Source>))
    })
}

/// The OTLP listener: `POST /v1/metrics` only, every JSON body taken as OTLP.
pub fn router(listener: Arc<Listener>) -> Router {
    http::traced(Router::new().route("/v1/metrics", post(ingest))).with_state(listener)
}

async fn ingest(State(listener): State<Arc<Listener>>, headers: HeaderMap, body: Body) -> Response {
    let encoding = content_encoding(&headers);
    let Listener { http, otlp } = &*listener;
    match http.read_request(&headers, body, encoding.is_some()).await {
        Ok((bytes, _held)) => export(http, otlp, &bytes, encoding.unwrap_or(Encoding::Json)).await,
        Err(e) => refused(http, e, encoding.unwrap_or(Encoding::Json)),
    }
}

/// Counts a refusal decided here and answers it as OTLP does.
fn refused(http: &Http, e: IngestError, encoding: Encoding) -> Response {
    http.refusal(&e);
    error_response(e, encoding)
}

/// Decodes, converts and submits an OTLP body, and answers (with a spool, once what it
/// submitted is durable).
pub async fn export(http: &Http, otlp: &Otlp, bytes: &[u8], encoding: Encoding) -> Response {
    let decoded = match wire::decode(bytes, encoding, otlp.bounds) {
        Ok(d) => d,
        Err(budget::Refusal::Malformed(message)) => {
            return refused(http, IngestError::MalformedBody(message), encoding);
        }
        Err(budget::Refusal::TooMuch(too_much)) => return too_much_response(http, too_much, encoding),
    };
    match off_the_workers(bytes.len(), || otlp.export(&decoded)) {
        Ok(answer) => {
            http.pipeline.durable().await;
            let body = wire::response(answer.rejected as i64, answer.message, encoding);
            ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
        }
        Err(refusal) => error_response(IngestError::Refused(refusal), encoding),
    }
}

/// A request over the decoded-size budget: 413 with a `google.rpc.Status`
/// (`RESOURCE_EXHAUSTED`) naming the bound; OTLP clients do not retry it. Counted by reason.
fn too_much_response(http: &Http, too_much: TooMuch, encoding: Encoding) -> Response {
    http.telemetry.request_refused(too_much.reason);
    let body = wire::status(code::RESOURCE_EXHAUSTED, too_much.message, encoding);
    (StatusCode::PAYLOAD_TOO_LARGE, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}

/// An [`IngestError`] as OTLP answers it: the same status and headers (`Retry-After`), with
/// a `google.rpc.Status` body in the request's encoding.
pub fn error_response(e: IngestError, encoding: Encoding) -> Response {
    let body = wire::status(grpc_code(&e), e.to_string(), encoding);
    let (mut parts, _) = e.into_response().into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// The gRPC code of an [`IngestError`], in OTLP/HTTP's `google.rpc.Status` and OTLP/gRPC's
/// status alike.
pub fn grpc_code(e: &IngestError) -> i32 {
    match e {
        IngestError::Unauthorized => code::UNAUTHENTICATED,
        IngestError::Refused(
            Refusal::ShuttingDown
            | Refusal::BufferFull { .. }
            | Refusal::SpoolFull { .. }
            | Refusal::SpoolFailed
            | Refusal::MemoryHigh { .. },
        )
        | IngestError::BodiesInFlight { .. } => code::UNAVAILABLE,
        IngestError::Refused(Refusal::NeverFits { .. }) | IngestError::BodyTooLarge { .. } => code::RESOURCE_EXHAUSTED,
        _ => code::INVALID_ARGUMENT,
    }
}
