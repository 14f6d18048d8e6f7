//! A raw gRPC client over hyper's HTTP/2 (prior knowledge, as gRPC clients speak to `http://`
//! addresses), for the tests that send what no SDK would: truncated frames, huge length
//! prefixes, garbage. It speaks the real wire format: the `MetricsService/Export` path, the
//! length-prefixed message, `grpc-status` in the trailers or in a trailers-only answer.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::header::HeaderMap;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;

pub const EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// An answer: the HTTP status, the headers, the message bytes (prefix included) and the
/// trailers (none for a trailers-only answer).
#[derive(Debug)]
pub struct Answer {
    pub http: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub trailers: Option<HeaderMap>,
}

/// `google.rpc.Status`, `google.protobuf.Any`, `google.rpc.RetryInfo` (details of a failure).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RichStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<Duration>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Duration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Answer {
    fn status_headers(&self) -> &HeaderMap {
        self.trailers.as_ref().filter(|t| t.contains_key("grpc-status")).unwrap_or(&self.headers)
    }

    /// `grpc-status` (from the trailers, or the headers of a trailers-only answer).
    pub fn code(&self) -> i32 {
        let status = self.status_headers().get("grpc-status").unwrap_or_else(|| panic!("no grpc-status: {self:?}"));
        status.to_str().unwrap().parse().unwrap()
    }

    /// `grpc-message`, percent-decoded.
    pub fn message(&self) -> String {
        let raw = self.status_headers().get("grpc-message").map(|v| v.to_str().unwrap()).unwrap_or_default();
        let mut out = Vec::new();
        let bytes = raw.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// `grpc-status-details-bin`, decoded.
    pub fn details(&self) -> RichStatus {
        use base64::Engine;
        let raw = self.status_headers().get("grpc-status-details-bin").expect("details");
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(raw.as_bytes()).unwrap();
        RichStatus::decode(bytes.as_slice()).unwrap()
    }

    /// The delay of the `RetryInfo` in the details, if there is one.
    pub fn retry_delay(&self) -> Option<std::time::Duration> {
        let details = self.details();
        let info = details.details.iter().find(|a| a.type_url == "type.googleapis.com/google.rpc.RetryInfo")?;
        let delay = RetryInfo::decode(info.value.as_slice()).unwrap().retry_delay?;
        Some(std::time::Duration::new(delay.seconds as u64, delay.nanos as u32))
    }

    /// The delay of the `google.rpc.retryinfo-bin` trailer (the Python SDK's), if there is one.
    pub fn retry_info_trailer(&self) -> Option<std::time::Duration> {
        use base64::Engine;
        let raw = self.status_headers().get("google.rpc.retryinfo-bin")?;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(raw.as_bytes()).unwrap();
        let delay = RetryInfo::decode(bytes.as_slice()).unwrap().retry_delay?;
        Some(std::time::Duration::new(delay.seconds as u64, delay.nanos as u32))
    }

    /// The one response message, decoded.
    pub fn response<M: Message + Default>(&self) -> M {
        assert_eq!(self.code(), 0, "{self:?}");
        assert_eq!(self.body[0], 0, "uncompressed");
        let len = u32::from_be_bytes(self.body[1..5].try_into().unwrap()) as usize;
        assert_eq!(len, self.body.len() - 5, "one message: {self:?}");
        M::decode(&self.body[5..]).unwrap()
    }
}

/// `message` with its prefix, uncompressed (`compressed` sets the flag, for gzip).
pub fn frame(message: &[u8], compressed: bool) -> Vec<u8> {
    let mut out = vec![u8::from(compressed)];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// A body that sends its bytes and then never ends (a sender that stalls, or announced far
/// more than it sends).
pub struct Stalled(pub Option<Bytes>);

impl Body for Stalled {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.0.take() {
            Some(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            None => Poll::Pending,
        }
    }
}

/// A body sent as the test sends its parts, ended when the sender is dropped.
pub struct Channel(pub tokio::sync::mpsc::Receiver<Bytes>);

impl Body for Channel {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|part| part.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// One call at `path` with `metadata` besides the content type, on a connection of its own.
pub async fn call_with<B>(addr: SocketAddr, path: &str, metadata: &[(&str, &str)], body: B) -> Answer
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut request = hyper::Request::post(format!("http://{addr}{path}")).header("te", "trailers");
    if !metadata.iter().any(|(k, _)| *k == "content-type") {
        request = request.header("content-type", "application/grpc");
    }
    for (k, v) in metadata {
        request = request.header(*k, *v);
    }
    let response = sender.send_request(request.body(body).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Answer { http: parts.status.as_u16(), headers: parts.headers, body: collected.to_bytes().to_vec(), trailers }
}

/// One Export of `body` (already framed) with `metadata`.
pub async fn call(addr: SocketAddr, metadata: &[(&str, &str)], body: Vec<u8>) -> Answer {
    call_with(addr, EXPORT, metadata, Full::new(Bytes::from(body))).await
}
