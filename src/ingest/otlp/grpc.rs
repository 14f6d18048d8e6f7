//! OTLP over gRPC: `opentelemetry.proto.collector.metrics.v1.MetricsService/Export` on a
//! listener of its own (HTTP/2 without TLS, 127.0.0.1:4317 with `grpc = true`). The call's one
//! message ([`cw_core::ingest::otlp::grpc`]) is decoded, converted and submitted by the same
//! OTLP input as OTLP/HTTP's bodies ([`super::Otlp::export`]), and its answer is theirs in
//! gRPC's terms:
//! - `OK` with `ExportMetricsServiceResponse`, its `partial_success` naming refused points;
//! - `INVALID_ARGUMENT` for a frame or message that cannot be decoded;
//! - `RESOURCE_EXHAUSTED` for a message over `grpc_max_message_bytes` (from its length
//!   prefix, before it is read) or over the decoded-size budget, and a request that could not
//!   fit even an empty buffer: the SDKs do not retry it;
//! - `UNAVAILABLE` with a `google.rpc.RetryInfo` (the SDKs retry after its delay; it is in the
//!   status's details and, for the Python SDK, in a `google.rpc.retryinfo-bin` trailer: see
//!   [`crate::ingest::http::grpc`]) for a full buffer or spool, shutting down, or the bodies in memory at their bound;
//! - `UNAUTHENTICATED` without the bearer token (`authorization` metadata), `UNIMPLEMENTED`
//!   for another method or a `grpc-encoding` other than gzip or identity, and
//!   `DEADLINE_EXCEEDED` for a message not read within `body_read_timeout`.
//!
//! Every refusal is counted by reason as the HTTP inputs' are. The message draws on the
//! process-wide body budget (`max_body_bytes_in_flight`) as its frames arrive.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::BodyExt;

use super::Otlp;
use super::http::grpc_code;
use crate::ingest::http::grpc::{CONTENT_TYPE, Status, ok, status};
use crate::ingest::http::listener::HttpListener;
use crate::ingest::http::read::Reservation;
use crate::ingest::http::server::{Protocol, ServerLimits};
use crate::ingest::http::{self, Http, IngestError, authorized, off_the_workers};
use crate::ingest::source::{BoxFuture, Shared, Source};
use cw_core::ingest::otlp::grpc::{self as wire, Failure};
use cw_core::ingest::otlp::wire::code;
use cw_core::reasons::RefuseReason;

/// What the gRPC listener's handler needs.
pub struct Listener {
    pub http: Arc<Http>,
    pub otlp: Arc<Otlp>,
    /// `grpc_max_message_bytes`.
    pub max_message: usize,
}

/// Binds the OTLP/gRPC listener that `[otlp]` turns on (`grpc_listen`, or `grpc = true`):
/// the API's connection limits and timeouts, over HTTP/2.
pub fn build(shared: &Shared) -> BoxFuture<'_, std::io::Result<Option<Box<dyn Source>>>> {
    Box::pin(async move {
        let otlp = &shared.config.otlp;
        let Some(address) = otlp.grpc_address() else { return Ok(None) };
        let limits = ServerLimits {
            protocol: Protocol::Http2 { max_concurrent_streams: otlp.grpc_max_concurrent_streams },
            ..ServerLimits::of(&shared.config)
        };
        let listener =
            Listener { http: shared.http.clone(), otlp: shared.otlp.clone(), max_message: otlp.grpc_max_message_bytes };
        let router = router(Arc::new(listener));
        let listener = HttpListener::bind("otlp", address, router, limits, shared.telemetry.clone()).await?;
        Ok(Some(Box::new(listener) as Box<dyn Source>))
    })
}

/// `MetricsService/Export` only; any other method is `UNIMPLEMENTED`.
pub fn router(listener: Arc<Listener>) -> Router {
    let unimplemented = || async {
        status(Status {
            code: code::UNIMPLEMENTED,
            message: "only MetricsService/Export is served".into(),
            retry: None,
        })
    };
    http::traced(Router::new().route(wire::EXPORT_PATH, post(export)).fallback(unimplemented)).with_state(listener)
}

impl From<Failure> for Status {
    fn from(f: Failure) -> Status {
        Status { code: f.code, message: f.message, retry: None }
    }
}

impl From<IngestError> for Status {
    fn from(e: IngestError) -> Status {
        let (code, retry) = match &e {
            IngestError::BodyTimeout(_) => (code::DEADLINE_EXCEEDED, None),
            IngestError::BodiesInFlight { .. } => (code::UNAVAILABLE, Some(Duration::from_secs(1))),
            IngestError::Refused(refusal) => (grpc_code(&e), refusal.retry_after()),
            _ => (grpc_code(&e), None),
        };
        Status { code, message: e.to_string(), retry }
    }
}

async fn export(State(listener): State<Arc<Listener>>, headers: HeaderMap, body: Body) -> Response {
    let Listener { http, otlp, max_message } = &*listener;
    let is_grpc = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        t.strip_prefix(CONTENT_TYPE).is_some_and(|rest| rest.is_empty() || rest.starts_with(['+', ';']))
    });
    if !is_grpc {
        // Not a gRPC client: plain HTTP's answer, as the gRPC protocol asks.
        http.telemetry.request_refused(RefuseReason::UnsupportedMediaType);
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content-type must be application/grpc").into_response();
    }
    if !authorized(http.auth_token.as_deref(), &headers) {
        return refused(http, IngestError::Unauthorized);
    }
    let encoding = headers.get("grpc-encoding").map(|v| v.to_str().unwrap_or("?"));
    let Some(compression) = wire::compression(encoding) else {
        http.telemetry.request_refused(RefuseReason::UnsupportedMediaType);
        let message = format!("grpc-encoding `{}` is not taken: send gzip or identity", encoding.unwrap_or_default());
        return status(Status { code: code::UNIMPLEMENTED, message, retry: None });
    };
    if let Err(refusal) = http.pipeline.check_open() {
        return refused(http, IngestError::Refused(refusal));
    }
    let (bytes, _held) = match read(http, body, *max_message).await {
        Ok(read) => read,
        Err(Read::Refused(e)) => return refused(http, e),
        Err(Read::Failed(f)) => return failed(http, f),
    };
    let decoded = match wire::decode(&bytes, compression, *max_message, otlp.bounds) {
        Ok(decoded) => decoded,
        Err(f) => return failed(http, f),
    };
    match off_the_workers(bytes.len(), || otlp.export(&decoded)) {
        Ok(answer) => {
            http.pipeline.durable().await;
            ok(wire::response(answer.rejected as i64, answer.message))
        }
        // Counted by the pipeline.
        Err(refusal) => status(IngestError::Refused(refusal).into()),
    }
}

enum Read {
    Refused(IngestError),
    Failed(Failure),
}

/// The call's body: its frames until the end of the stream, or until there are more bytes
/// than its first message's prefix announced (the decoder then says so). The prefix is
/// checked as soon as it has arrived, so a length over the bound is refused unread.
async fn read(http: &Http, mut body: Body, max_message: usize) -> Result<(Vec<u8>, Reservation<'_>), Read> {
    let timeout = http.body_limits.timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut held = http.bodies.reserve();
    let mut bytes: Vec<u8> = Vec::new();
    let mut total = None;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(Read::Refused(IngestError::BodyTimeout(timeout))),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(Read::Refused(IngestError::UnreadableBody(e.to_string()))),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        if !held.grow(data.len()) {
            return Err(Read::Refused(IngestError::BodiesInFlight { limit: http.bodies.limit() }));
        }
        bytes.extend_from_slice(&data);
        if total.is_none() {
            total = wire::frame_length(&bytes, max_message).map_err(Read::Failed)?;
            if let Some(total) = total {
                bytes.reserve(total.saturating_sub(bytes.len()));
            }
        }
        if total.is_some_and(|t| bytes.len() > t) {
            break;
        }
    }
    Ok((bytes, held))
}

/// Counts a refusal decided here and answers it.
fn refused(http: &Http, e: IngestError) -> Response {
    http.refusal(&e);
    status(e.into())
}

fn failed(http: &Http, f: Failure) -> Response {
    http.telemetry.request_refused(f.reason);
    status(f.into())
}
