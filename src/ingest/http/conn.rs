//! What one connection is waiting for, and since when, so that [`super::server`] can close
//! it when it waits too long. Its IO reports arriving bytes and its service reports requests
//! going in and responses coming out; everything happens on the connection's own task.
//!
//! The phases, and the time each may take:
//! - head: from the connection's start, or from the first byte of a next request, until the
//!   request head is complete: `header_read_timeout`;
//! - busy: a request is being served; its body is read under `body_read_timeout` by the
//!   handler that reads it (`read.rs`), so no deadline here;
//! - idle: kept alive after a response, no byte of a next request yet: `idle_timeout`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use cw_core::reasons::TimeoutPhase;

const HEAD: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// How long a connection may wait in each phase that has a deadline.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

impl Timeouts {
    /// How often a busy connection looks at its phase again.
    pub fn recheck(&self) -> Duration {
        self.header.min(self.idle)
    }
}

/// The phase of one connection and when it began.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    phase: AtomicU8,
    /// When the phase began, in milliseconds since `start`.
    since_ms: AtomicU64,
    /// Requests being served (more than one at a time on HTTP/2).
    in_flight: AtomicUsize,
}

impl Activity {
    /// A new connection waits for its first request head.
    pub fn new() -> Activity {
        Activity {
            start: Instant::now(),
            phase: AtomicU8::new(HEAD),
            since_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn enter(&self, phase: u8) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.since_ms.store(ms, Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// Bytes arrived: on an idle connection, a next request has begun.
    fn bytes_arrived(&self) {
        if self.phase.load(Ordering::Relaxed) == IDLE {
            self.enter(HEAD);
        }
    }

    /// The head is complete and the request goes to the service.
    pub fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.enter(BUSY);
    }

    /// The service answered; the connection waits for a next request.
    pub fn response_ready(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) <= 1 {
            self.enter(IDLE);
        }
    }

    /// When the current phase runs out of time, and which phase it is; `None` while a
    /// request is being served.
    pub fn deadline(&self, timeouts: &Timeouts) -> Option<(TimeoutPhase, Instant)> {
        let since = self.start + Duration::from_millis(self.since_ms.load(Ordering::Relaxed));
        match self.phase.load(Ordering::Relaxed) {
            HEAD => Some((TimeoutPhase::Header, since + timeouts.header)),
            IDLE => Some((TimeoutPhase::Idle, since + timeouts.idle)),
            _ => None,
        }
    }
}

/// A TCP stream that tells its connection's [`Activity`] when bytes arrive.
pub struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    pub fn new(stream: TcpStream, activity: Arc<Activity>) -> Watched {
        Watched { stream, activity }
    }
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_phase_has_its_deadline_and_a_served_request_none() {
        let timeouts = Timeouts { header: Duration::from_secs(10), idle: Duration::from_secs(120) };
        let a = Activity::new();
        let (phase, at) = a.deadline(&timeouts).unwrap();
        assert_eq!(phase, TimeoutPhase::Header, "a new connection owes its first head");
        assert!(at <= Instant::now() + timeouts.header);
        a.bytes_arrived();
        assert_eq!(a.deadline(&timeouts).unwrap().0, TimeoutPhase::Header, "bytes of a head do not extend it");
        a.request_started();
        assert!(a.deadline(&timeouts).is_none());
        a.bytes_arrived();
        assert!(a.deadline(&timeouts).is_none(), "body bytes are the handler's business");
        a.response_ready();
        assert_eq!(a.deadline(&timeouts).unwrap().0, TimeoutPhase::Idle);
        a.bytes_arrived();
        assert_eq!(a.deadline(&timeouts).unwrap().0, TimeoutPhase::Header, "a next request has begun");
        // HTTP/2: idle only once the last of the requests in flight is answered.
        a.request_started();
        a.request_started();
        a.response_ready();
        assert!(a.deadline(&timeouts).is_none(), "one still in flight");
        a.response_ready();
        assert_eq!(a.deadline(&timeouts).unwrap().0, TimeoutPhase::Idle);
    }
}
