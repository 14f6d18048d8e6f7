//! The HTTP server: an accept loop over hyper's HTTP/1 connections (or HTTP/2 ones, for
//! gRPC), so that what clients can hold is bounded (`axum::serve` bounds none of it):
//! - at most `max_connections` open connections, capped at startup to the open-files limit
//!   less [`RESERVED_FDS`](crate::ingest::descriptors::RESERVED_FDS) kept for publishing; one more is answered in its
//!   protocol and closed ([`super::refuse`]: HTTP/1 a 503 at once, HTTP/2 `UNAVAILABLE`);
//! - a request head within `header_read_timeout` and of at most `max_header_bytes` (431);
//! - a kept-alive connection waits at most `idle_timeout` for its next request (an HTTP/2 one
//!   once none of its requests is in flight);
//! - an HTTP/2 connection has at most `max_concurrent_streams` requests in flight (the
//!   client queues the rest) and headers of at most `max_header_bytes`;
//! - the body's time and the memory of all bodies are bounded where bodies are read
//!   (`read.rs`).
//!
//! What is closed for time is counted by phase ([`super::conn`]). On stop the loop stops
//! accepting, lets the requests in flight finish for up to `drain`, and closes the rest.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use std::future::Future;
use std::pin::Pin;

use hyper::server::conn::{http1, http2};
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use super::conn::Timeouts;
use super::conn::{Activity, Watched};
use super::refuse;
use crate::ingest::descriptors::needs_pause;
use crate::telemetry::{OverLimit, Telemetry};
use cw_core::reasons::RefuseReason;

/// hyper's smallest read buffer; `max_header_bytes` below it is enforced by the header size.
const MIN_BUF_SIZE: usize = 8192;

#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Effective bound on open connections (see [`connection_limit`](crate::ingest::descriptors::connection_limit)).
    pub max_connections: usize,
    /// Largest request head.
    pub max_header_bytes: usize,
    pub timeouts: Timeouts,
    pub protocol: Protocol,
}

/// What a listener's connections speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    /// HTTP/2 without TLS (prior knowledge), as gRPC clients speak to `http://` addresses.
    Http2 {
        max_concurrent_streams: u32,
    },
}

/// A protocol's connection builder.
#[derive(Clone)]
enum Builder {
    Http1(http1::Builder),
    Http2(http2::Builder<TokioExecutor>),
}

/// Serves `router` on `listener` within `limits` until `stop`, then drains for up to `drain`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    telemetry: Arc<Telemetry>,
    stop: CancellationToken,
    drain: Duration,
) -> io::Result<()> {
    let http = match limits.protocol {
        Protocol::Http1 => {
            let mut http = http1::Builder::new();
            // Header time is ours (conn.rs): hyper's would also count a kept-alive connection's
            // idle time as header time, and would not say which phase ran out.
            http.header_read_timeout(None)
                .max_buf_size(limits.max_header_bytes.max(MIN_BUF_SIZE))
                .max_header_size(limits.max_header_bytes);
            Builder::Http1(http)
        }
        Protocol::Http2 { max_concurrent_streams } => {
            let mut http = http2::Builder::new(TokioExecutor::new());
            http.timer(hyper_util::rt::TokioTimer::new())
                .max_concurrent_streams(max_concurrent_streams)
                .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
            Builder::Http2(http)
        }
    };
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let answering = Arc::new(Semaphore::new(refuse::ANSWERING));
    telemetry.http.set_limit(limits.max_connections);
    let connections = TaskTracker::new();
    let abort = CancellationToken::new();
    let shared = Shared {
        router,
        http,
        timeouts: limits.timeouts,
        telemetry: telemetry.clone(),
        stop: stop.clone(),
        abort: abort.clone(),
    };
    let mut last_warning = None;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                accept_failed(e, &telemetry, &mut last_warning).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            over_limit(stream, &shared, &answering, &connections);
            continue;
        };
        let open = Open::new(permit, telemetry.clone());
        let task = connection(stream, shared.clone());
        connections.spawn(async move {
            task.await;
            drop(open);
        });
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(drain, connections.wait()).await.is_err() {
        tracing::warn!(open = connections.len(), "closing the connections still serving {drain:?} after stop");
        abort.cancel();
        connections.wait().await;
    }
    Ok(())
}

/// An open connection: its slot and its count in `connections_active`, both given back on drop.
struct Open {
    _permit: OwnedSemaphorePermit,
    telemetry: Arc<Telemetry>,
}

impl Open {
    fn new(permit: OwnedSemaphorePermit, telemetry: Arc<Telemetry>) -> Open {
        telemetry.http.opened();
        Open { _permit: permit, telemetry }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.telemetry.http.closed();
    }
}

/// Answers a connection over the limit in its protocol ([`refuse`]) and counts how.
fn over_limit(stream: TcpStream, shared: &Shared, answering: &Arc<Semaphore>, connections: &TaskTracker) {
    let telemetry = shared.telemetry.clone();
    if let Builder::Http1(_) = shared.http {
        telemetry.http.refused(OverLimit::Http503);
        refuse::http1(&stream);
        return;
    }
    let Ok(slot) = answering.clone().try_acquire_owned() else {
        telemetry.http.refused(OverLimit::Closed);
        return;
    };
    let refusal = refuse::http2(stream, shared.timeouts.header, shared.abort.clone(), slot);
    connections.spawn(async move {
        let answered = refusal.await;
        telemetry.http.refused(if answered { OverLimit::GrpcUnavailable } else { OverLimit::Closed });
    });
}

/// The peer's own failures need nothing; running out of descriptors or memory needs a pause,
/// or the loop would spin. Warns at most every 10 s.
async fn accept_failed(e: io::Error, telemetry: &Telemetry, last_warning: &mut Option<Instant>) {
    telemetry.http.accept_error();
    if !needs_pause(&e) {
        return;
    }
    if last_warning.is_none_or(|at: Instant| at.elapsed() >= Duration::from_secs(10)) {
        tracing::warn!(error = %e, "accepting a connection failed; pausing 100ms");
        *last_warning = Some(Instant::now());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// What a connection needs besides its stream.
#[derive(Clone)]
struct Shared {
    router: Router,
    http: Builder,
    timeouts: Timeouts,
    telemetry: Arc<Telemetry>,
    stop: CancellationToken,
    abort: CancellationToken,
}

/// Drives one connection until it ends, runs out of time (dropping it closes the socket) or
/// is aborted; on `stop` it finishes what it serves and closes.
async fn connection(stream: TcpStream, shared: Shared) {
    let Shared { router, http, timeouts, telemetry, stop, abort } = shared;
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched::new(stream, activity.clone()));
    let router = TowerToHyperService::new(router);
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |request| {
            let serving = Serving::new(activity.clone());
            let response = router.call(request);
            async move {
                let response = response.await;
                drop(serving);
                response
            }
        })
    };
    let watch = Watch { activity, timeouts, telemetry, stop, abort };
    match http {
        Builder::Http1(http) => watch.drive(http.serve_connection(io, service), |c| c.graceful_shutdown()).await,
        Builder::Http2(http) => watch.drive(http.serve_connection(io, service), |c| c.graceful_shutdown()).await,
    }
}

/// A request being served: answered when dropped, also when its client gave it up (an HTTP/2
/// stream reset), so that the connection can go idle again.
struct Serving(Arc<Activity>);

impl Serving {
    fn new(activity: Arc<Activity>) -> Serving {
        activity.request_started();
        Serving(activity)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.response_ready();
    }
}

/// What watches a connection as it is served.
struct Watch {
    activity: Arc<Activity>,
    timeouts: Timeouts,
    telemetry: Arc<Telemetry>,
    stop: CancellationToken,
    abort: CancellationToken,
}

impl Watch {
    /// Serves `conn` to its end, its time running out, or abort; on stop, `graceful` lets it
    /// finish what it serves.
    async fn drive<C>(self, conn: C, graceful: impl Fn(Pin<&mut C>))
    where
        C: Future<Output = Result<(), hyper::Error>>,
    {
        let Watch { activity, timeouts, telemetry, stop, abort } = self;
        let mut conn = std::pin::pin!(conn);
        let mut draining = false;
        loop {
            let wake = match activity.deadline(&timeouts) {
                Some((_, at)) => at,
                None => Instant::now() + timeouts.recheck(),
            };
            tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(e) = ended {
                        if e.is_parse_too_large() {
                            telemetry.request_refused(RefuseReason::HeadersTooLarge);
                        }
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = tokio::time::sleep_until(wake) => {
                    if let Some((phase, at)) = activity.deadline(&timeouts)
                        && at <= Instant::now()
                    {
                        telemetry.http.timed_out(phase);
                        return;
                    }
                }
                _ = stop.cancelled(), if !draining => {
                    draining = true;
                    graceful(conn.as_mut());
                }
                _ = abort.cancelled() => return,
            }
        }
    }
}
