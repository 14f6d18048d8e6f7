//! The gRPC listener over `max_connections`, with a raw HTTP/2 client: a connection over the
//! limit gets its call answered `UNAVAILABLE` with a `RetryInfo`, then `GOAWAY`, rather than
//! a silent close; the answers in progress are bounded, past them a connection is closed
//! unanswered; each is counted by how it was answered.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::grpc_client::{Answer, Channel, EXPORT, call, call_with, frame};
use crate::helpers::{now_ms, until};
use crate::otlp_grpc::{counter, request, spawn};

const REFUSED: &str = "cw_sidecar_connections_refused_total";

fn answered(how: &str) -> String {
    format!("reason=\"max_connections\",answer=\"{how}\"")
}

/// Two calls on one new connection: the answer of the first, and whether the second could
/// be sent at all (not after the server's `GOAWAY`).
async fn two_calls(grpc: std::net::SocketAddr) -> (Result<Answer, hyper::Error>, bool) {
    let stream = tokio::net::TcpStream::connect(grpc).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake::<_, _, Empty<Bytes>>(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let uri = format!("http://{grpc}{EXPORT}");
    let call = || hyper::Request::post(&uri).header("content-type", "application/grpc").body(Empty::new()).unwrap();
    let first = match sender.send_request(call()).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let collected = body.collect().await.unwrap();
            Ok(Answer {
                http: parts.status.as_u16(),
                headers: parts.headers,
                body: collected.to_bytes().to_vec(),
                trailers: None,
            })
        }
        Err(e) => Err(e),
    };
    // The server closes the connection after its GOAWAY.
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await.is_ok();
    let second = sender.send_request(call()).await.is_ok();
    assert!(ended || first.is_err(), "the connection over the limit was left open");
    (first, second)
}

#[tokio::test]
async fn connections_over_max_connections_get_unavailable_then_goaway_and_are_counted() {
    let (app, grpc) = spawn(|c| {
        c.max_connections = 1;
        c.header_read_timeout = Duration::from_secs(2);
    })
    .await;
    // The API's own connection (for /metrics) counts in the same gauge: the baseline.
    let before = app.metric("cw_sidecar_connections_active", "").await;
    // One connection holds the gRPC listener's only slot with a call still arriving.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let held = tokio::spawn(call_with(grpc, EXPORT, &[], Channel(rx)));
    tx.send(vec![0u8, 0].into()).await.unwrap();
    while app.metric("cw_sidecar_connections_active", "").await <= before {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A second connection: its call is answered UNAVAILABLE with a RetryInfo (so SDKs retry
    // after it), then the connection is shut down and no second call goes on it.
    let (first, second) = two_calls(grpc).await;
    let a = first.expect("an answer, not a reset");
    assert_eq!((a.http, a.code()), (200, 14), "{a:?}");
    assert!(a.message().contains("max_connections"), "{}", a.message());
    assert_eq!(a.retry_delay(), Some(Duration::from_secs(1)));
    assert_eq!(a.retry_info_trailer(), Some(Duration::from_secs(1)));
    assert!(!second, "a second call went on the refused connection");
    until("the refusal counted", async || app.metric(REFUSED, &answered("grpc_unavailable")).await == 1.0).await;
    assert_eq!(app.metric("cw_sidecar_connections_active", "").await, before + 1.0, "not counted as open");
    // Silent connections over the limit take every answer's slot (8) until
    // header_read_timeout: the next one is closed unanswered.
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(tokio::net::TcpStream::connect(grpc).await.unwrap());
    }
    let (first, _) = two_calls(grpc).await;
    assert!(first.is_err(), "answered past the bound: {first:?}");
    until("the close counted", async || app.metric(REFUSED, &answered("closed")).await == 1.0).await;
    // The silent ones are closed at header_read_timeout, unanswered.
    until("the silent ones closed", async || app.metric(REFUSED, &answered("closed")).await == 9.0).await;
    assert_eq!(app.metric(REFUSED, &answered("http_503")).await, 0.0);
    // The held call ends (its frame truncated: INVALID_ARGUMENT) and its slot is given back.
    drop(tx);
    assert_eq!(held.await.unwrap().code(), 3);
    while app.metric("cw_sidecar_connections_active", "").await > before {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body = frame(&request(vec![counter("ok", 1.0, now_ms(), vec![])]), false);
    assert_eq!(call(grpc, &[], body).await.code(), 0);
    drop(silent);
    assert!(app.shutdown().await.complete());
}
