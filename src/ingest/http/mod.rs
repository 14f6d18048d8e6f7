//! The HTTP toolkit every HTTP input shares, so that none of them writes its own: the accept
//! loop within connection limits and timeouts ([`server`]), body reading under
//! `max_body_bytes` and the process-wide body budget, with gzip ([`read`]), the body's format
//! and the bearer token ([`media`]), and the refusals every HTTP input answers, counted in
//! one place ([`error`], [`Http::refusal`]); [`listener`] makes a router a listening input. An input's handler checks and reads a request
//! with [`Http::read_request`], submits what it decoded, and answers in its own protocol.

mod conn;
pub mod error;
pub mod grpc;
pub mod listener;
pub mod media;
pub mod read;
mod refuse;
pub mod server;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use tower_http::trace::{DefaultOnFailure, TraceLayer};

use crate::telemetry::Telemetry;
use cw_core::pipeline::Pipeline;
use cw_core::reasons::TimeoutPhase;
pub use error::IngestError;
pub use media::{MediaType, authorized, media_type};
pub use read::{BodyBudget, BodyLimits};

/// What the HTTP inputs share: the pipeline they submit to, the token they require, how a
/// body may be read, and the bytes of all bodies in memory.
pub struct Http {
    pub pipeline: Arc<Pipeline>,
    pub telemetry: Arc<Telemetry>,
    pub auth_token: Option<String>,
    pub body_limits: BodyLimits,
    /// Bytes of bodies in memory over all requests (`max_body_bytes_in_flight`).
    pub bodies: BodyBudget,
}

impl Http {
    /// Checks the token, the content type (`type_ok`) and encoding, and that the pipeline is
    /// open, then reads the body: the decoded bytes with their share of the body budget (hold
    /// it while the bytes are in use).
    pub async fn read_request(
        &self,
        headers: &HeaderMap,
        body: axum::body::Body,
        type_ok: bool,
    ) -> Result<(Vec<u8>, read::Reservation<'_>), IngestError> {
        if !authorized(self.auth_token.as_deref(), headers) {
            return Err(IngestError::Unauthorized);
        }
        if !type_ok {
            return Err(IngestError::UnsupportedMediaType);
        }
        let encoding = read::encoding(headers)?;
        self.pipeline.check_open()?;
        read::read_body(body, encoding, self.body_limits, &self.bodies).await
    }

    /// Checks the token, the headers (`check`: for a protocol whose body has an encoding of its
    /// own, as remote-write's snappy), and that the pipeline is open, then reads the body as it
    /// came, within the same limits and budget as every body.
    pub async fn read_raw(
        &self,
        headers: &HeaderMap,
        body: axum::body::Body,
        check: impl FnOnce(&HeaderMap) -> Result<(), IngestError>,
    ) -> Result<(Vec<u8>, read::Reservation<'_>), IngestError> {
        if !authorized(self.auth_token.as_deref(), headers) {
            return Err(IngestError::Unauthorized);
        }
        check(headers)?;
        self.pipeline.check_open()?;
        read::read_body(body, read::Encoding::Identity, self.body_limits, &self.bodies).await
    }

    /// Counts a refusal decided here (the pipeline counts its own); the input answers it in
    /// its protocol.
    pub fn refusal(&self, e: &IngestError) {
        if let Some(reason) = e.uncounted_reason() {
            self.telemetry.request_refused(reason);
        }
        if let IngestError::BodyTimeout(_) = e {
            self.telemetry.http.timed_out(TimeoutPhase::Body);
        }
    }
}

/// Adds a span and debug events per request, when the log filter lets them through
/// (`RUST_LOG=tower_http=debug`); otherwise the layer would cost every request its checks for
/// nothing, and the filter cannot change while the sidecar runs.
pub fn traced<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    if !tracing::enabled!(target: "tower_http::trace::on_request", tracing::Level::DEBUG) {
        return router;
    }
    // Our own 503s (buffer full, still retrying) are answers, not server failures.
    router.layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)))
}

/// Bodies from this size on are parsed into records and aggregated with the runtime told so.
const LARGE_BODY_BYTES: usize = 64 * 1024;

/// Runs `submit`, for a large body as blocking work ([`tokio::task::block_in_place`]): that
/// CPU work grows with the body (a single record may carry a huge `values` array), and
/// meanwhile the worker's other tasks, `/healthz` among them, move to another thread. Inline
/// on a current-thread runtime, which has no other thread (tests).
pub fn off_the_workers<T>(body_bytes: usize, submit: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi_thread = Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if body_bytes >= LARGE_BODY_BYTES && multi_thread { tokio::task::block_in_place(submit) } else { submit() }
}
