//! OTLP over HTTP: the answers the OTLP specification defines, in the request's encoding.
//! - 200 with `ExportMetricsServiceResponse`, its `partial_success` naming refused points;
//! - 400 with a `google.rpc.Status` for a body that cannot be parsed;
//! - 503 with `Retry-After` (retryable for OTLP clients) for a full buffer, shutting down or
//!   the bodies in memory at their bound;
//! - 413 for a body too large, or a request whose series-windows could not fit even an empty
//!   buffer (`max_buffered_datums`): retrying it unchanged could never succeed, and OTLP
//!   clients do not retry a 413;
//! - 401, 408, 415 as for our own records.
//!
//! Body reading (limits, gzip, the bytes-in-flight budget, the timeout) is the HTTP input's.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::ingest::http::{HttpState, IngestError, MediaType, media_type, off_the_workers, read_request, refused};
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

/// The OTLP listener: `POST /v1/metrics` only, every JSON body taken as OTLP.
pub fn router(state: Arc<HttpState>) -> Router {
    crate::ingest::http::traced(Router::new().route("/v1/metrics", post(ingest))).with_state(state)
}

async fn ingest(State(state): State<Arc<HttpState>>, headers: HeaderMap, body: Body) -> Response {
    let encoding = content_encoding(&headers);
    match read_request(&state, &headers, body, encoding.is_some()).await {
        Ok((bytes, _held)) => export(&state, &bytes, encoding.unwrap_or(Encoding::Json)).await,
        Err(e) => refused(&state, e, Some(encoding.unwrap_or(Encoding::Json))),
    }
}

/// Decodes, converts and submits an OTLP body, and answers (with a spool, once what it
/// submitted is durable).
pub async fn export(state: &HttpState, bytes: &[u8], encoding: Encoding) -> Response {
    let request = match wire::decode(bytes, encoding) {
        Ok(r) => r,
        Err(message) => return refused(state, IngestError::MalformedBody(message), Some(encoding)),
    };
    match off_the_workers(bytes.len(), || state.otlp.export(&request)) {
        Ok(answer) => {
            state.pipeline.durable().await;
            let body = wire::response(answer.rejected as i64, answer.message, encoding);
            ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
        }
        Err(refusal) => error_response(IngestError::Refused(refusal), encoding),
    }
}

/// An [`IngestError`] as OTLP answers it: the same status and headers (`Retry-After`), with
/// a `google.rpc.Status` body in the request's encoding.
pub fn error_response(e: IngestError, encoding: Encoding) -> Response {
    let grpc = match &e {
        IngestError::Unauthorized => code::UNAUTHENTICATED,
        IngestError::Refused(
            Refusal::ShuttingDown | Refusal::BufferFull { .. } | Refusal::SpoolFull { .. } | Refusal::SpoolFailed,
        )
        | IngestError::BodiesInFlight { .. } => code::UNAVAILABLE,
        IngestError::Refused(Refusal::NeverFits { .. }) | IngestError::BodyTooLarge { .. } => code::RESOURCE_EXHAUSTED,
        _ => code::INVALID_ARGUMENT,
    };
    let body = wire::status(grpc, e.to_string(), encoding);
    let (mut parts, _) = e.into_response().into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(encoding.content_type()));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
