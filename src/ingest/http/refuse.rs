//! What a connection over `max_connections` is told before it is closed, in its listener's
//! protocol, so that its client retries later rather than seeing a silent close:
//! - HTTP/1: a `503` with `Retry-After: 1`, written at once without reading the request;
//! - HTTP/2 (gRPC): a minimal HTTP/2 exchange. The server's preface, the client's first call
//!   answered trailers-only `UNAVAILABLE` with a one-second `RetryInfo` (what a full buffer
//!   answers: every SDK retries it, after the delay), then `GOAWAY` and the close. gRPC has no
//!   status for a refused connection, and grpc-go and the collector refuse none (a
//!   `GOAWAY` alone, or a close, fails the call as `UNAVAILABLE` without a reason, after the
//!   client's own reconnect backoff); the status says why and when to retry.
//!
//! An HTTP/2 refusal holds its descriptor for at most `header_read_timeout`, and at most
//! [`ANSWERING`] are answered at once; past them a connection is closed unanswered. Each is
//! counted in `cw_sidecar_connections_refused_total{reason="max_connections",answer}`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio_util::sync::CancellationToken;

use super::grpc::{Status, status};
use cw_core::ingest::otlp::wire::code;

/// HTTP/2 refusals answered at once.
pub const ANSWERING: usize = 8;

/// Answer to an HTTP/1 connection over the limit.
const REFUSED_BODY: &str = r#"{"error":"too many open connections (max_connections); retry shortly"}"#;

/// The status of a gRPC call on a connection over the limit.
pub const GRPC_MESSAGE: &str = "too many open connections (max_connections); retry shortly";

/// Best effort: a 503 the client can read if it has not sent much yet; then the stream closes.
pub fn http1(stream: &TcpStream) {
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{REFUSED_BODY}",
        REFUSED_BODY.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

/// Serves HTTP/2 on `stream` until its first call is answered `UNAVAILABLE`, then shuts the
/// connection down (`GOAWAY`, the answer finished) and closes it; all within `within`, or at
/// `abort`. `_slot` is one of the [`ANSWERING`], held to the end. Whether a call was answered.
pub async fn http2(stream: TcpStream, within: Duration, abort: CancellationToken, _slot: OwnedSemaphorePermit) -> bool {
    let called = Arc::new(Notify::new());
    let service = {
        let called = called.clone();
        hyper::service::service_fn(move |_| {
            called.notify_one();
            let answer = status(Status {
                code: code::UNAVAILABLE,
                message: GRPC_MESSAGE.into(),
                retry: Some(Duration::from_secs(1)),
            });
            async move { Ok::<_, Infallible>(answer) }
        })
    };
    let mut http = http2::Builder::new(TokioExecutor::new());
    http.timer(TokioTimer::new()).max_concurrent_streams(1);
    let conn = http.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let deadline = tokio::time::sleep(within);
    let mut deadline = std::pin::pin!(deadline);
    tokio::select! {
        _ = conn.as_mut() => return false,
        _ = called.notified() => conn.as_mut().graceful_shutdown(),
        _ = deadline.as_mut() => return false,
        _ = abort.cancelled() => return false,
    }
    tokio::select! {
        _ = conn => {}
        _ = deadline => {}
        _ = abort.cancelled() => {}
    }
    true
}
