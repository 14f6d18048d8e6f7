//! OTLP over gRPC on the wire, without HTTP/2 types (so that the fuzz target compiles it in):
//! a unary `MetricsService/Export` call's body is one length-prefixed message (a compressed
//! flag byte, a big-endian u32 length, the message), gzip when the flag says so and the call
//! named `grpc-encoding: gzip`. The message is then the protobuf `ExportMetricsServiceRequest`
//! of OTLP/HTTP, decoded by [`super::wire::decode`] within the same decoded-size budget. The
//! answers: the framed `ExportMetricsServiceResponse`, or a status with its code and message
//! (percent-encoded for `grpc-message`) and, for `UNAVAILABLE`, a `google.rpc.RetryInfo` in
//! `grpc-status-details-bin`, which the SDKs' exporters read to wait before they retry.

use std::borrow::Cow;
use std::io::Read;
use std::time::Duration;

use prost::Message;

use super::budget::{self, Bounds};
use super::wire::{self, Decoded, Encoding, code};
use crate::reasons::RefuseReason;

/// The one method served.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// The compressed flag and the length that precede a message.
pub const PREFIX: usize = 5;

/// The message compressions taken (`grpc-encoding`), as `grpc-accept-encoding` names them.
pub const ACCEPTED: &str = "gzip,identity";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Identity,
    Gzip,
}

/// The compression a `grpc-encoding` names (none means identity), if it is one taken.
pub fn compression(grpc_encoding: Option<&str>) -> Option<Compression> {
    match grpc_encoding.map(str::trim) {
        None | Some("identity") => Some(Compression::Identity),
        Some("gzip") => Some(Compression::Gzip),
        Some(_) => None,
    }
}

/// A call refused: its gRPC status, and the reason counted in `requests_refused_total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: i32,
    pub message: String,
    pub reason: RefuseReason,
}

impl Failure {
    fn malformed(message: String) -> Failure {
        Failure { code: code::INVALID_ARGUMENT, message, reason: RefuseReason::MalformedBody }
    }

    fn too_large(message: String) -> Failure {
        Failure { code: code::RESOURCE_EXHAUSTED, message, reason: RefuseReason::TooLarge }
    }
}

/// The length of the whole frame (prefix and message) once the prefix has arrived (`None`
/// before): a flag other than 0 or 1, or a length over `max_message`, refuses the call
/// before its message is read.
pub fn frame_length(head: &[u8], max_message: usize) -> Result<Option<usize>, Failure> {
    let Some(prefix) = head.get(..PREFIX) else { return Ok(None) };
    if prefix[0] > 1 {
        return Err(Failure::malformed(format!("gRPC frame: compressed flag {} (it must be 0 or 1)", prefix[0])));
    }
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if len > max_message {
        return Err(Failure::too_large(format!(
            "gRPC frame: the message is {len} bytes, over grpc_max_message_bytes ({max_message} bytes)"
        )));
    }
    Ok(Some(PREFIX + len))
}

/// The one message of a unary call's whole body, decompressed within `max_message`.
pub fn message(body: &[u8], compression: Compression, max_message: usize) -> Result<Cow<'_, [u8]>, Failure> {
    let Some(total) = frame_length(body, max_message)? else {
        return Err(Failure::malformed(format!(
            "gRPC frame: {} bytes, fewer than the 5 of a message's prefix (a unary Export carries one message)",
            body.len()
        )));
    };
    if body.len() < total {
        return Err(Failure::malformed(format!(
            "gRPC frame: truncated, the prefix says {} bytes of message and {} arrived",
            total - PREFIX,
            body.len() - PREFIX
        )));
    }
    if body.len() > total {
        return Err(Failure::malformed(format!(
            "gRPC frame: {} bytes after the message: a unary Export carries exactly one",
            body.len() - total
        )));
    }
    let raw = &body[PREFIX..total];
    match (body[0], compression) {
        (0, _) => Ok(Cow::Borrowed(raw)),
        (_, Compression::Identity) => {
            Err(Failure::malformed("gRPC frame: compressed flag set, but the call has no grpc-encoding".to_string()))
        }
        (_, Compression::Gzip) => gunzip(raw, max_message).map(Cow::Owned),
    }
}

/// One gzip stream, bounded: a small bomb cannot grow past `max`.
fn gunzip(compressed: &[u8], max: usize) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(max));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut decoder = flate2::bufread::GzDecoder::new(compressed);
    (&mut decoder)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| Failure::malformed(format!("gRPC message: not valid gzip: {e}")))?;
    if out.len() > max {
        return Err(Failure::too_large(format!(
            "gRPC message: over grpc_max_message_bytes ({max} bytes) once decompressed"
        )));
    }
    if !decoder.into_inner().is_empty() {
        return Err(Failure::malformed("gRPC message: bytes after the gzip stream".to_string()));
    }
    Ok(out)
}

/// The call's request: its message, decoded as OTLP/HTTP's protobuf is, within `bounds`.
pub fn decode(body: &[u8], compression: Compression, max_message: usize, bounds: Bounds) -> Result<Decoded, Failure> {
    let message = message(body, compression, max_message)?;
    wire::decode(&message, Encoding::Protobuf, bounds).map_err(|refusal| match refusal {
        budget::Refusal::Malformed(why) => Failure::malformed(why),
        budget::Refusal::TooMuch(t) => Failure { code: code::RESOURCE_EXHAUSTED, message: t.message, reason: t.reason },
    })
}

/// The framed `ExportMetricsServiceResponse`: a partial success when points were rejected.
pub fn response(rejected: i64, message: String) -> Vec<u8> {
    framed(&wire::response(rejected, message, Encoding::Protobuf))
}

/// A message with its prefix (uncompressed).
pub fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREFIX + message.len());
    out.push(0);
    out.extend_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// `grpc-message` as the gRPC protocol writes it: bytes outside printable ASCII, and `%`,
/// percent-encoded (UTF-8 first).
pub fn percent_encoded(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `google.rpc.Status` with its details, the value of `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RichStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<Any>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The encoded `google.rpc.RetryInfo` asking to retry after `delay`: a detail of the status,
/// and also the value of the `google.rpc.retryinfo-bin` trailer, which is where the Python
/// SDK looks for it (grpc-go and the collector read the status's details).
pub fn retry_info(delay: Duration) -> Vec<u8> {
    RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    }
    .encode_to_vec()
}

/// The encoded `google.rpc.Status` of a failure, with a `RetryInfo` when the client should
/// retry after `retry_after`.
pub fn status_details(code: i32, message: &str, retry_after: Option<Duration>) -> Vec<u8> {
    let details =
        retry_after.map(|d| Any { type_url: RETRY_INFO_TYPE.to_string(), value: retry_info(d) }).into_iter().collect();
    RichStatus { code, message: message.to_string(), details }.encode_to_vec()
}

#[cfg(test)]
#[path = "grpc_tests.rs"]
mod tests;
