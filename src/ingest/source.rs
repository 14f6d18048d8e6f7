//! The one trait of an input: built from its config section ([`Build`]), bound, started, and
//! stopped at shutdown, with its addresses for tests and logs. [`crate::app`] lists the
//! inputs once; adding one is a module that implements this and a line in that list.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use cw_core::pipeline::Pipeline;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::ingest::http::Http;
use crate::ingest::otlp::Otlp;
use crate::telemetry::Telemetry;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What every input is built from.
pub struct Shared {
    pub config: Arc<Config>,
    /// Where every input submits.
    pub pipeline: Arc<Pipeline>,
    pub telemetry: Arc<Telemetry>,
    pub clock: SharedClock,
    /// The HTTP toolkit's state (token, body limits, the body budget), shared by every HTTP
    /// listener.
    pub http: Arc<Http>,
    /// The OTLP input, whose cumulative state the API's `/v1/metrics` and the OTLP listeners
    /// share.
    pub otlp: Arc<Otlp>,
}

/// An address an input listens on, by what it serves there (`udp`, `tcp`, `http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub kind: &'static str,
    pub addr: SocketAddr,
}

/// An input, bound and ready to serve.
pub trait Source: Send + 'static {
    /// Its name (`statsd`, `emf`, ...), as in its config section and its counters' `input`.
    fn name(&self) -> &'static str;

    /// Where it listens, if it listens.
    fn addresses(&self) -> Vec<Address>;

    /// Starts serving.
    fn start(self: Box<Self>) -> std::io::Result<Box<dyn Running>>;
}

/// An input while it serves.
pub trait Running: Send + 'static {
    /// Stops taking input and submits what was read: shutdown calls it before the pipeline
    /// closes.
    fn stop(&mut self) -> BoxFuture<'_, ()>;

    /// Closes what serves to the end (an HTTP listener answers 503 while the sidecar drains):
    /// shutdown calls it after the last flush.
    fn close(self: Box<Self>) -> BoxFuture<'static, std::io::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Builds an input from its config section; `None` when the section turns nothing on.
pub type Build = for<'a> fn(&'a Shared) -> BoxFuture<'a, std::io::Result<Option<Box<dyn Source>>>>;
