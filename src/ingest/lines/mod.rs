//! The socket machinery of the line-based inputs (StatsD, EMF), written once: a UDP listener
//! ([`udp`]) whose reader drains the socket into batches of datagrams, and a TCP listener
//! ([`tcp`]) that reassembles lines across reads, skips lines over 64 KiB, and stops reading
//! while the pipeline's buffer is full so that the client's writes block.
//!
//! An input implements [`LineInput`] ([`input`]): how a batch of lines becomes candidates,
//! and how it counts what happens to them. The transports do the rest, the same for every
//! input: UDP counts what the pipeline refuses as dropped, TCP retries it. Bound, an input's
//! listeners are its [`Source`]; they serve it behind its `allowed_namespaces` ([`filter`]).

pub mod filter;
pub mod input;
mod recv;
pub mod tcp;
pub mod udp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::LineListener;
use crate::ingest::descriptors::connection_limit;
use crate::ingest::source::{Address, BoxFuture, Running as SourceRunning, Source};
use filter::Filtered;
pub use input::LineInput;

/// How often a [`LineInput`] that keeps state is ticked.
const TICK: Duration = Duration::from_secs(1);

/// The bound sockets of one input, before they serve.
pub struct Listeners<I: LineInput> {
    input: Arc<Filtered<I>>,
    udp: Option<(std::net::UdpSocket, usize)>,
    tcp: Option<(tokio::net::TcpListener, tcp::Limits)>,
}

/// The listeners while they serve.
pub struct Running<I: LineInput> {
    input: Arc<Filtered<I>>,
    udp: Option<udp::UdpListener>,
    tcp: Option<tokio::task::JoinHandle<()>>,
    ticker: Option<tokio::task::JoinHandle<()>>,
    stop: CancellationToken,
}

impl<I: LineInput> Listeners<I> {
    /// Binds what `listener` turns on; `None` when it turns nothing on. `buffer_key` names
    /// the receive buffer's setting in the warning when the kernel gives less.
    pub async fn bind(listener: &LineListener, buffer_key: &str, input: I) -> std::io::Result<Option<Listeners<I>>> {
        let (udp_at, tcp_at) = (listener.udp, listener.tcp);
        if udp_at.is_none() && tcp_at.is_none() {
            return Ok(None);
        }
        let cannot = |kind: &'static str, at: SocketAddr| {
            move |e: std::io::Error| std::io::Error::new(e.kind(), format!("cannot listen on {kind} {at}: {e}"))
        };
        let udp = match udp_at {
            Some(a) => {
                let socket = udp::bind(a, listener.receive_buffer_bytes, buffer_key).map_err(cannot("udp", a))?;
                Some((socket, listener.max_batch_bytes))
            }
            None => None,
        };
        let tcp = match tcp_at {
            Some(a) => {
                let socket = tokio::net::TcpListener::bind(a).await.map_err(cannot("tcp", a))?;
                let key = format!("{}.max_connections", I::INPUT.name);
                let max_connections = connection_limit(listener.max_connections, &key);
                Some((socket, tcp::Limits { max_connections, idle_timeout: listener.idle_timeout }))
            }
            None => None,
        };
        let input = Arc::new(Filtered::new(input, &listener.allowed_namespaces));
        Ok(Some(Listeners { input, udp, tcp }))
    }

    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp.as_ref().and_then(|(s, _)| s.local_addr().ok())
    }

    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp.as_ref().and_then(|(s, _)| s.local_addr().ok())
    }
}

impl<I: LineInput> Source for Listeners<I> {
    fn name(&self) -> &'static str {
        I::INPUT.name
    }

    fn addresses(&self) -> Vec<Address> {
        let udp = self.udp_addr().map(|addr| Address { kind: "udp", addr });
        let tcp = self.tcp_addr().map(|addr| Address { kind: "tcp", addr });
        udp.into_iter().chain(tcp).collect()
    }

    fn start(self: Box<Self>) -> std::io::Result<Box<dyn SourceRunning>> {
        let (udp_at, tcp_at) = (self.udp_addr(), self.tcp_addr());
        let stop = CancellationToken::new();
        let udp = match self.udp {
            Some((socket, max_batch)) => Some(udp::UdpListener::start(socket, self.input.clone(), max_batch)?),
            None => None,
        };
        let tcp = self.tcp.map(|(l, limits)| tokio::spawn(tcp::serve(l, self.input.clone(), limits, stop.clone())));
        let ticker = I::TICKS.then(|| tokio::spawn(tick(self.input.clone(), stop.clone())));
        tracing::info!(input = I::INPUT.name, udp = ?udp_at, tcp = ?tcp_at, "listening");
        Ok(Box::new(Running { input: self.input, udp, tcp, ticker, stop }))
    }
}

/// Ticks the input every second of its clock until `stop`.
async fn tick<I: LineInput>(input: Arc<Filtered<I>>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = input.clock().sleep(TICK) => input.tick(false),
            _ = stop.cancelled() => return,
        }
    }
}

impl<I: LineInput> SourceRunning for Running<I> {
    /// Stops reading, and returns once what was read has been submitted, the input's own
    /// state last (StatsD's open set windows).
    fn stop(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.stop.cancel();
            if let Some(udp) = self.udp.take() {
                let _ = tokio::task::spawn_blocking(move || udp.stop()).await;
            }
            if let Some(tcp) = self.tcp.take() {
                let _ = tcp.await;
            }
            if let Some(ticker) = self.ticker.take() {
                let _ = ticker.await;
                let input = self.input.clone();
                let _ = tokio::task::spawn_blocking(move || input.tick(true)).await;
            }
        })
    }
}
