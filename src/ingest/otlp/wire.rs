//! OTLP on the wire: which bodies are OTLP, decoding `ExportMetricsServiceRequest` from
//! protobuf or the OTLP JSON mapping, and encoding the answers (`ExportMetricsServiceResponse`,
//! or a `google.rpc.Status` for a failure) in the request's own encoding.

use std::fmt;

use axum::http::{HeaderMap, header};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

/// How an OTLP body (and so its answer) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The encoding named by `Content-Type`, if it is one OTLP uses (`application/x-protobuf`,
/// also spelled `application/protobuf`; `application/json`).
pub fn content_encoding(headers: &HeaderMap) -> Option<Encoding> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    match ct.split(';').next()?.trim().to_ascii_lowercase().as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
        "application/json" => Some(Encoding::Json),
        _ => None,
    }
}

/// Whether a JSON body is an OTLP document rather than our own record format: an object
/// with a top-level `resourceMetrics` key (or `resource_metrics`, which proto3 JSON parsers
/// also accept). Our own envelope refuses unknown keys, so an OTLP document that got there
/// would be refused (400), never taken as records; this only reads the top-level keys.
pub fn is_otlp_json(body: &[u8]) -> bool {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut found = false;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                found |= key == "resourceMetrics" || key == "resource_metrics";
                map.next_value::<IgnoredAny>()?;
            }
            Ok(found)
        }
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return false;
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    (&mut de).deserialize_map(Keys).unwrap_or(false)
}

/// The request, or why it cannot be read (answered 400).
pub fn decode(body: &[u8], encoding: Encoding) -> Result<ExportMetricsServiceRequest, String> {
    match encoding {
        Encoding::Protobuf => ExportMetricsServiceRequest::decode(body)
            .map_err(|e| format!("body is not a protobuf ExportMetricsServiceRequest: {e}")),
        Encoding::Json => {
            let mut de = serde_json::Deserializer::from_slice(body);
            let request: ExportMetricsServiceRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                format!("body is not an OTLP JSON ExportMetricsServiceRequest: {}: {}", e.path(), e.inner())
            })?;
            de.end().map_err(|e| format!("trailing characters after the OTLP JSON document: {e}"))?;
            Ok(request)
        }
    }
}

/// `ExportMetricsServiceResponse`: a partial success when points were rejected.
pub fn response(rejected: i64, message: String, encoding: Encoding) -> Vec<u8> {
    let partial_success =
        (rejected > 0 || !message.is_empty()).then_some(ExportMetricsPartialSuccess { rejected_data_points: rejected, error_message: message });
    let response = ExportMetricsServiceResponse { partial_success };
    match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&response).expect("a response serializes"),
    }
}

/// `google.rpc.Status`, the body of an OTLP failure (`details` left empty).
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// gRPC codes used in [`Status`].
pub mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

pub fn status(code: i32, message: String, encoding: Encoding) -> Vec<u8> {
    let status = Status { code, message };
    match encoding {
        Encoding::Protobuf => status.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&status).expect("a status serializes"),
    }
}
