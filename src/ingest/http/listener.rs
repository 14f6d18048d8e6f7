//! An HTTP listener as a [`Source`]: a router served by [`super::server`] within the limits
//! of the configuration, answering until the very end of shutdown (then 503: the pipeline
//! is closed), and drained last.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::server::{self, Protocol, ServerLimits, Timeouts};
use crate::config::Config;
use crate::ingest::descriptors::connection_limit;
use crate::ingest::source::{Address, BoxFuture, Running, Source};
use crate::telemetry::Telemetry;

/// How long requests in flight may take to finish once the listener closes, the last step of
/// shutdown.
pub const DRAIN: Duration = Duration::from_secs(1);

impl ServerLimits {
    /// The limits `config` sets for every HTTP listener (each has its own connections).
    pub fn of(config: &Config) -> ServerLimits {
        ServerLimits {
            max_connections: connection_limit(config.max_connections, "max_connections"),
            max_header_bytes: config.max_header_bytes,
            timeouts: Timeouts { header: config.header_read_timeout, idle: config.idle_timeout },
            protocol: Protocol::Http1,
        }
    }
}

/// A bound HTTP listener and what it serves.
pub struct HttpListener {
    name: &'static str,
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    telemetry: Arc<Telemetry>,
}

impl HttpListener {
    pub async fn bind(
        name: &'static str,
        address: SocketAddr,
        router: Router,
        limits: ServerLimits,
        telemetry: Arc<Telemetry>,
    ) -> std::io::Result<HttpListener> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {address}: {e}")))?;
        Ok(HttpListener { name, listener, router, limits, telemetry })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

struct Serving {
    name: &'static str,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Source for HttpListener {
    fn name(&self) -> &'static str {
        self.name
    }

    fn addresses(&self) -> Vec<Address> {
        // What a gRPC client is pointed at is told apart from an HTTP/1 listener.
        let kind = match self.limits.protocol {
            Protocol::Http1 => "http",
            Protocol::Http2 { .. } => "grpc",
        };
        self.local_addr().map(|addr| Address { kind, addr }).into_iter().collect()
    }

    fn start(self: Box<Self>) -> std::io::Result<Box<dyn Running>> {
        let stop = CancellationToken::new();
        let HttpListener { name, listener, router, limits, telemetry } = *self;
        let server = tokio::spawn(server::serve(listener, router, limits, telemetry, stop.clone(), DRAIN));
        Ok(Box::new(Serving { name, stop, server }))
    }
}

impl Running for Serving {
    /// Nothing: it answers to the end, 503 once the pipeline is closed.
    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// The server drains for [`DRAIN`], then closes what is left: the timeout is a safety net.
    fn close(self: Box<Self>) -> BoxFuture<'static, std::io::Result<()>> {
        Box::pin(async move {
            self.stop.cancel();
            match tokio::time::timeout(DRAIN + Duration::from_secs(1), self.server).await {
                Ok(Ok(result)) => result,
                _ => {
                    tracing::warn!(listener = self.name, "HTTP server did not stop in time");
                    Ok(())
                }
            }
        })
    }
}
