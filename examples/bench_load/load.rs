//! The protobuf loads (`bench_load proto`, `bench_load proto-count`): OTLP over HTTP/1.1 and
//! over gRPC (HTTP/2), and remote-write, with the bodies of [`super::proto`].
//!
//! HTTP/1.1 senders have a connection each; gRPC senders share HTTP/2 connections, 8 calls in
//! flight on each (as an SDK's channel multiplexes its calls). An HTTP answer other than 2xx,
//! or a gRPC call whose `grpc-status` (trailers, or the headers of a trailers-only answer) is
//! not 0, counts as non-2xx; a transport failure as an error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::{http1, http2};
use hyper::{Request, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::proto::{Bodies, Kind, POINTS};
use super::{Tally, addr, wait_until};

/// gRPC calls in flight per HTTP/2 connection.
const STREAMS_PER_CONNECTION: usize = 8;

enum Conn {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

async fn tcp(uri: &Uri) -> std::io::Result<TokioIo<tokio::net::TcpStream>> {
    // The server may still be binding its listener: a few tries.
    let mut tries = 0;
    let stream = loop {
        match tokio::net::TcpStream::connect(addr(uri)).await {
            Ok(s) => break s,
            Err(_) if tries < 40 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e),
        }
    };
    stream.set_nodelay(true)?;
    Ok(TokioIo::new(stream))
}

async fn connect(uri: &Uri, kind: Kind) -> std::io::Result<Conn> {
    let io = tcp(uri).await?;
    if kind == Kind::OtlpGrpc {
        let (sender, conn) = http2::handshake(TokioExecutor::new(), io).await.map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn::H2(sender))
    } else {
        let (sender, conn) = http1::handshake(io).await.map_err(std::io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn::H1(sender))
    }
}

/// One request: Ok(whether it succeeded) once the whole answer is read.
async fn send(conn: &mut Conn, kind: Kind, uri: &Uri, body: Bytes) -> Result<bool, ()> {
    let request = Request::post(uri.clone()).header("host", "127.0.0.1");
    let request = match kind {
        Kind::OtlpHttp => request.header("content-type", "application/x-protobuf"),
        Kind::OtlpGrpc => request.header("content-type", "application/grpc").header("te", "trailers"),
        Kind::RemoteWrite => request
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0"),
    };
    let request = request.body(Full::new(body)).map_err(|_| ())?;
    let response = match conn {
        Conn::H1(sender) => {
            sender.ready().await.map_err(|_| ())?;
            sender.send_request(request).await.map_err(|_| ())?
        }
        Conn::H2(sender) => {
            sender.ready().await.map_err(|_| ())?;
            sender.send_request(request).await.map_err(|_| ())?
        }
    };
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.map_err(|_| ())?;
    if kind != Kind::OtlpGrpc {
        return Ok(parts.status.is_success());
    }
    let trailers = collected.trailers().filter(|t| t.contains_key("grpc-status"));
    let status = trailers.unwrap_or(&parts.headers).get("grpc-status").and_then(|v| v.to_str().ok());
    Ok(parts.status == 200 && status == Some("0"))
}

/// `connections` senders for `seconds`: at `rate` requests/s over all of them (open loop,
/// latency from each request's scheduled time), or as fast as answered when `rate` is 0
/// (closed loop), stopping after `max_requests` in all. Prints
/// `count N errors E non2xx X rate R p50_us A p99_us B max_us C points P cpu_pct U`
/// (points per second; this process's CPU over the load's time).
pub async fn run(kind: Kind, base: Uri, connections: u64, rate: u64, seconds: u64, max_requests: u64) {
    assert!(connections > 0 && (1..=600).contains(&seconds));
    let uri: Uri = format!("http://127.0.0.1:{}{}", addr(&base).port(), kind.path()).parse().expect("url");
    let mut conns = Vec::new();
    let shared = if kind == Kind::OtlpGrpc { STREAMS_PER_CONNECTION as u64 } else { 1 };
    for c in 0..connections {
        let conn = match conns.last() {
            Some(Conn::H2(last)) if c % shared != 0 => Conn::H2(last.clone()),
            _ => connect(&uri, kind).await.expect("connect"),
        };
        conns.push(conn);
    }
    let total = if rate > 0 { (rate * seconds).min(max_requests) } else { max_requests };
    let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let issued = Arc::new(AtomicU64::new(0));
    let uri = Arc::new(uri);
    let cpu_before = cpu_seconds();
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (c, mut conn) in conns.into_iter().enumerate() {
        let (uri, issued) = (uri.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut bodies = Bodies::new(kind, c);
            let mut tally = Tally::default();
            let mut i = c as u64;
            wait_until(start).await;
            loop {
                let scheduled = if rate > 0 {
                    if i >= total {
                        break;
                    }
                    let at = start + period.mul_f64(i as f64);
                    i += connections;
                    wait_until(at).await;
                    at
                } else {
                    if Instant::now() >= end || issued.fetch_add(1, Ordering::Relaxed) >= total {
                        break;
                    }
                    Instant::now()
                };
                let body = bodies.next_body();
                match send(&mut conn, kind, &uri, body).await {
                    Ok(ok) => {
                        tally.latencies_us.push(scheduled.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        tally.non2xx += u64::from(!ok);
                    }
                    Err(()) => {
                        tally.errors += 1;
                        match connect(&uri, kind).await {
                            Ok(fresh) => conn = fresh,
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }
            }
            tally
        }));
    }
    let all = Tally::join(tasks).await;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let points = all.latencies_us.len() as f64 / elapsed * POINTS as f64;
    println!("{} points {points:.0} cpu_pct {:.0}", all.summary(elapsed), 100.0 * cpu / elapsed);
}

/// This process's CPU time (user and system), in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}
