//! Remote-write 1.0 on the wire: the headers a sender sends, the snappy block around the
//! body, and the `prometheus.WriteRequest` messages (only the fields 1.0 defines: metadata,
//! exemplars and native histograms are unknown fields here, skipped by the decoder).
//!
//! A body is decoded in steps, each bounded before the next allocates: the snappy header's
//! decompressed length against `max_decoded_bytes`, then the decompressed bytes walked
//! ([`super::budget`]) against the series, samples and labels bounds, and only then decoded.

use prost::Message;

use super::budget::{self, Bounds, TooMuch};

/// The stream identifier every framed snappy stream starts with (`snappy-framed`, what
/// `snap::write::FrameEncoder` and `python-snappy`'s stream functions write).
pub const FRAMED_MAGIC: &[u8] = b"\xff\x06\x00\x00sNaPpY";
/// The only `X-Prometheus-Remote-Write-Version` of 1.0.
pub const VERSION: &str = "0.1.0";

#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The headers that say what the body is, as sent (none when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'h> {
    pub content_encoding: Option<&'h str>,
    pub content_type: Option<&'h str>,
    pub version: Option<&'h str>,
}

/// Checks the headers of a remote-write 1.0 request; the problem, named, when they are not.
/// `Content-Encoding: snappy` and `Content-Type: application/x-protobuf` (its parameters
/// other than a 2.0 `proto` ignored) are required; `X-Prometheus-Remote-Write-Version` may be
/// absent (some senders leave it out), and is `0.1.0` when present.
pub fn check_headers(h: &Headers<'_>) -> Result<(), String> {
    match h.content_encoding.map(str::trim) {
        None => {
            return Err("Content-Encoding is missing: remote-write bodies are snappy (Content-Encoding: snappy)".into());
        }
        Some(e) if e.eq_ignore_ascii_case("snappy") => {}
        Some(e) => return Err(format!("Content-Encoding must be snappy for remote-write, got `{e}`")),
    }
    let Some(ct) = h.content_type else {
        return Err("Content-Type is missing: remote-write bodies are application/x-protobuf".into());
    };
    let mut parts = ct.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    if !essence.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(format!("Content-Type must be application/x-protobuf for remote-write, got `{ct}`"));
    }
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("proto")
            && v.trim().trim_matches('"') != "prometheus.WriteRequest"
        {
            return Err(format!("Content-Type `{ct}`: only remote-write 1.0 (prometheus.WriteRequest) is supported"));
        }
    }
    match h.version.map(str::trim) {
        None => Ok(()),
        Some(v) if v == VERSION => Ok(()),
        Some(v) => Err(format!("X-Prometheus-Remote-Write-Version must be {VERSION} (remote-write 1.0), got `{v}`")),
    }
}

/// Why a body was not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not snappy block format around a `WriteRequest` (400).
    Malformed(String),
    /// Decompressed, it would be larger than `max` bytes (413).
    TooLarge { decoded: usize, max: usize },
    /// Over a bound of the decoded-size budget (413).
    TooMuch(TooMuch),
}

/// Decodes a remote-write body within `bounds`; nothing is allocated for a body refused.
pub fn decode(body: &[u8], bounds: Bounds) -> Result<WriteRequest, Refusal> {
    let raw = decompress(body, bounds.max_decoded_bytes)?;
    match budget::check(&raw, bounds) {
        Ok(()) => {}
        Err(Some(too_much)) => return Err(Refusal::TooMuch(too_much)),
        Err(None) => {
            let why = match WriteRequest::decode(raw.as_slice()) {
                Err(e) => e.to_string(),
                Ok(_) => "not a protobuf message".into(),
            };
            return Err(Refusal::Malformed(format!("the body is not a protobuf prometheus.WriteRequest: {why}")));
        }
    }
    WriteRequest::decode(raw.as_slice())
        .map_err(|e| Refusal::Malformed(format!("the body is not a protobuf prometheus.WriteRequest: {e}")))
}

/// The snappy block `body` decompressed, its length checked against `max` first.
pub fn decompress(body: &[u8], max: usize) -> Result<Vec<u8>, Refusal> {
    if body.starts_with(FRAMED_MAGIC) {
        return Err(Refusal::Malformed(
            "the body starts with the snappy stream identifier: framed snappy is not remote-write's block format \
             (compress with snappy's block format, e.g. snappy.Encode in Go, snap::raw in Rust)"
                .into(),
        ));
    }
    let len = snap::raw::decompress_len(body)
        .map_err(|e| Refusal::Malformed(format!("the body is not snappy block format: {e}")))?;
    if len > max {
        return Err(Refusal::TooLarge { decoded: len, max });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Refusal::Malformed(format!("the body is not snappy block format: {e}")))
}

/// A request as a sender encodes it: protobuf, then snappy block format (tests, the corpus).
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    // Compressing a buffer in memory fails only past snappy's 4 GiB input bound.
    snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).unwrap_or_default()
}

/// Whether a sample's value is Prometheus' stale marker: the series ended (its target went
/// away, or it left the exposition).
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == 0x7ff0_0000_0000_0002
}
