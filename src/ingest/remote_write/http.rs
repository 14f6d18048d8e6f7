//! `POST /api/v1/write`: the answers a remote-write sender acts on. Senders retry 5xx (with
//! backoff) and never other 4xx, so:
//! - 204 when the request was taken (samples ignored as already seen included: a resent
//!   request is a success that publishes nothing more);
//! - 400 naming the problem: headers that are not remote-write 1.0's (`Content-Encoding:
//!   snappy`, `Content-Type: application/x-protobuf`, `X-Prometheus-Remote-Write-Version:
//!   0.1.0`), framed snappy, a body that is not snappy block format around a `WriteRequest`,
//!   or a request of which every sample was rejected;
//! - 413 for a body over `max_body_bytes` (before or after decompression, the snappy header's
//!   length checked before decompressing), a request over `max_series_per_request` or
//!   `max_samples_per_request` (counted before decoding), or one that could never fit the
//!   buffer: retrying it unchanged could never succeed;
//! - 503 with `Retry-After` for a full buffer or spool, shutting down, or the bodies in memory
//!   at their bound: the sender retries;
//! - 401 and 408 as for every HTTP input.
//!
//! Every refusal is counted by reason in `requests_refused_total`; body reading (limits, the
//! bytes-in-flight budget, the timeout) is the HTTP toolkit's.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::RemoteWrite;
use crate::ingest::http::{self, Http, IngestError, off_the_workers};
use cw_core::ingest::remote_write::wire::{self, Headers, Refusal};

/// Where senders post.
pub const PATH: &str = "/api/v1/write";

/// What the handler needs: the HTTP toolkit and the input.
pub struct Listener {
    pub http: Arc<Http>,
    pub remote_write: Arc<RemoteWrite>,
}

/// `POST /api/v1/write`, to merge into the API's router.
pub fn router(listener: Arc<Listener>) -> Router {
    http::traced(Router::new().route(PATH, post(write))).with_state(listener)
}

/// The remote-write headers' problem, if any.
fn check(headers: &HeaderMap) -> Result<(), IngestError> {
    let get = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("(not text)"));
    let given = Headers {
        content_encoding: get(header::CONTENT_ENCODING.as_str()),
        content_type: get(header::CONTENT_TYPE.as_str()),
        version: get("x-prometheus-remote-write-version"),
    };
    wire::check_headers(&given).map_err(IngestError::BadHeaders)
}

async fn write(State(listener): State<Arc<Listener>>, request: axum::extract::Request) -> Response {
    let Listener { http, remote_write } = &*listener;
    let (parts, body) = request.into_parts();
    let (bytes, _held) = match http.read_raw(&parts.headers, body, check).await {
        Ok(read) => read,
        Err(e) => return refused(http, e),
    };
    let decoded = match wire::decode(&bytes, remote_write.bounds) {
        Ok(decoded) => decoded,
        Err(Refusal::Malformed(why)) => return refused(http, IngestError::MalformedBody(why)),
        Err(Refusal::TooLarge { max, .. }) => return refused(http, IngestError::BodyTooLarge { max, decoded: true }),
        Err(Refusal::TooMuch(t)) => {
            return refused(http, IngestError::OverBudget { reason: t.reason, message: t.message });
        }
    };
    match off_the_workers(bytes.len(), || remote_write.write(&decoded)) {
        Ok(answer) if answer.refused => {
            let body = format!("no sample of the request was taken: {}", answer.message);
            (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "error": body }))).into_response()
        }
        Ok(_) => {
            http.pipeline.durable().await;
            StatusCode::NO_CONTENT.into_response()
        }
        // Counted by the pipeline.
        Err(refusal) => IngestError::Refused(refusal).into_response(),
    }
}

/// Counts a refusal decided here and answers it.
fn refused(http: &Http, e: IngestError) -> Response {
    http.refusal(&e);
    e.into_response()
}
