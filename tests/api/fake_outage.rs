//! The fake CloudWatch's outage: the port stays bound (no other test's server can take it
//! over while it is "down"), new connections are reset, and connections already open fail
//! at their next read or write, as a crashed endpoint's would.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Whether the fake is up; shared by its listener and every connection.
#[derive(Clone, Default)]
pub struct Switch(Arc<AtomicBool>);

impl Switch {
    pub fn up() -> Switch {
        Switch(Arc::new(AtomicBool::new(true)))
    }

    pub fn set(&self, up: bool) {
        self.0.store(up, Ordering::SeqCst);
    }

    fn is_up(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct GatedListener {
    pub inner: TcpListener,
    pub switch: Switch,
}

impl axum::serve::Listener for GatedListener {
    type Io = GatedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (GatedStream, SocketAddr) {
        loop {
            let Ok((stream, addr)) = self.inner.accept().await else { continue };
            if self.switch.is_up() {
                return (GatedStream { inner: stream, switch: self.switch.clone() }, addr);
            }
            // Down: close it at once rather than leave the client waiting.
            drop(stream);
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

pub struct GatedStream {
    inner: TcpStream,
    switch: Switch,
}

fn down() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "the fake CloudWatch is down")
}

impl AsyncRead for GatedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.switch.is_up() {
            return Poll::Ready(Err(down()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for GatedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if !self.switch.is_up() {
            return Poll::Ready(Err(down()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
