//! OTLP on the wire: which JSON bodies are OTLP, decoding `ExportMetricsServiceRequest` from
//! protobuf or the OTLP JSON mapping within the decoded-size budget ([`super::budget`]), and
//! encoding the answers (`ExportMetricsServiceResponse`,
//! or a `google.rpc.Status` for a failure) in the request's own encoding. No HTTP types here,
//! so that the fuzz target can compile it in.

use std::fmt;

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

use super::budget::{self, Bounds, Refusal};
use super::convert::Faults;
use super::json::{self, Stop};

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

/// A decoded request, with the points the decoder already found wrong.
#[derive(Debug, Default)]
pub struct Decoded {
    pub request: ExportMetricsServiceRequest,
    pub faults: Faults,
}

/// The request within `bounds`, or why it is not decoded: not a request (400), or over a
/// bound (413; nothing of it was decoded).
pub fn decode(body: &[u8], encoding: Encoding, bounds: Bounds) -> Result<Decoded, Refusal> {
    match encoding {
        Encoding::Protobuf => {
            match budget::check_protobuf(body, bounds) {
                Err(Some(too_much)) => return Err(Refusal::TooMuch(too_much)),
                // Not a message: the decoder says why (it stops where the walk stopped, so it
                // decodes no more than the walk allowed).
                Err(None) => {
                    let why = match decode_protobuf(body) {
                        Err(e) => e,
                        Ok(_) => "body is not a protobuf ExportMetricsServiceRequest".to_string(),
                    };
                    return Err(Refusal::Malformed(why));
                }
                Ok(()) => {}
            }
            Ok(Decoded { request: decode_protobuf(body).map_err(Refusal::Malformed)?, faults: Faults::new() })
        }
        Encoding::Json => {
            let found = match json::walk(body, bounds) {
                Ok(found) => found,
                Err(Stop::TooMuch(too_much)) => return Err(Refusal::TooMuch(too_much)),
                Err(Stop::Syntax(why)) => {
                    let why = match decode_json(body) {
                        Err(e) => e,
                        Ok(_) => format!("body is not an OTLP JSON ExportMetricsServiceRequest: {why}"),
                    };
                    return Err(Refusal::Malformed(why));
                }
            };
            let mut request = if found.blanks.is_empty() {
                decode_json(body)
            } else {
                decode_json(&json::blanked(body, &found.blanks))
            }
            .map_err(Refusal::Malformed)?;
            json::put_back(&mut request, &found.doubles);
            Ok(Decoded { request, faults: found.faults })
        }
    }
}

fn decode_protobuf(body: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    ExportMetricsServiceRequest::decode(body)
        .map_err(|e| format!("body is not a protobuf ExportMetricsServiceRequest: {e}"))
}

fn decode_json(body: &[u8]) -> Result<ExportMetricsServiceRequest, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let request: ExportMetricsServiceRequest = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| format!("body is not an OTLP JSON ExportMetricsServiceRequest: {}: {}", e.path(), e.inner()))?;
    de.end().map_err(|e| format!("trailing characters after the OTLP JSON document: {e}"))?;
    Ok(request)
}

/// `ExportMetricsServiceResponse`: a partial success when points were rejected.
pub fn response(rejected: i64, message: String, encoding: Encoding) -> Vec<u8> {
    let partial_success = (rejected > 0 || !message.is_empty())
        .then_some(ExportMetricsPartialSuccess { rejected_data_points: rejected, error_message: message });
    let response = ExportMetricsServiceResponse { partial_success };
    match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        // The crate's serde writes an absent partial success as `null`: leave it out instead.
        Encoding::Json => match &response.partial_success {
            None => b"{}".to_vec(),
            Some(p) => serde_json::to_vec(&serde_json::json!({ "partialSuccess": p })).expect("a response serializes"),
        },
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
    pub const OK: i32 = 0;
    pub const CANCELLED: i32 = 1;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNIMPLEMENTED: i32 = 12;
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

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};

    use super::*;

    /// OTLP JSON as the JavaScript exporter writes it: 64-bit integers as strings or
    /// numbers, enums as numbers, lowerCamelCase keys, unknown keys ignored.
    const JSON: &str = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
      "scopeMetrics":[{"scope":{"name":"s"},"metrics":[
        {"name":"hits","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,
          "dataPoints":[{"attributes":[{"key":"n","value":{"intValue":"7"}}],"startTimeUnixNano":"1700000000000000000",
                         "timeUnixNano":1700000001000000000,"asInt":"9007199254740993"}]}},
        {"name":"lat","unit":"ms","histogram":{"aggregationTemporality":1,
          "dataPoints":[{"timeUnixNano":"1700000001000000000","count":"3","sum":12.5,"bucketCounts":["1",2],
                         "explicitBounds":[5],"min":1,"max":9,"someFutureField":true}]}}]}]}]}"#;

    #[test]
    fn otlp_json_int64_as_strings_and_enums_as_numbers() {
        let r = decode(JSON.as_bytes(), Encoding::Json, Bounds::default()).unwrap().request;
        let metrics = &r.resource_metrics[0].scope_metrics[0].metrics;
        let Some(Data::Sum(sum)) = &metrics[0].data else { panic!("{:?}", metrics[0]) };
        assert_eq!((sum.aggregation_temporality, sum.is_monotonic), (2, true));
        let p = &sum.data_points[0];
        assert_eq!(p.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(p.time_unix_nano, 1_700_000_001_000_000_000);
        assert_eq!(p.value, Some(number_data_point::Value::AsInt(9_007_199_254_740_993)), "exact beyond 2^53");
        let Some(Data::Histogram(h)) = &metrics[1].data else { panic!() };
        let p = &h.data_points[0];
        assert_eq!((p.count, p.bucket_counts.clone(), p.min, p.max), (3, vec![1, 2], Some(1.0), Some(9.0)));
        // The same request as protobuf decodes to the same value.
        let bytes = r.encode_to_vec();
        assert_eq!(decode(&bytes, Encoding::Protobuf, Bounds::default()).unwrap().request, r);
    }

    #[test]
    fn undecodable_bodies_say_where() {
        let err = |body: &[u8], encoding| match decode(body, encoding, Bounds::default()).unwrap_err() {
            Refusal::Malformed(why) => why,
            other => panic!("{other:?}"),
        };
        let why = err(br#"{"resourceMetrics":[{"scopeMetrics":3}]}"#, Encoding::Json);
        assert!(why.contains("resourceMetrics[0].scopeMetrics"), "{why}");
        assert!(err(b"\xff\xff\xff", Encoding::Protobuf).starts_with("body is not a protobuf"));
        assert!(err(b"{} x", Encoding::Json).contains("trailing"));
        assert!(err(b"{\"resourceMetrics\": [", Encoding::Json).starts_with("body is not an OTLP JSON"));
    }

    #[test]
    fn otlp_json_is_told_apart_from_our_records_by_its_shape() {
        assert!(is_otlp_json(JSON.as_bytes()));
        assert!(is_otlp_json(br#" {"resource_metrics": []}"#));
        assert!(is_otlp_json(br#"{"metrics": [], "resourceMetrics": []}"#), "a key of ours does not make it ours");
        // Our formats: an array, an envelope; and what is neither stays ours to refuse.
        assert!(!is_otlp_json(br#"[{"name":"a","value":1}]"#));
        assert!(!is_otlp_json(br#"{"namespace":"N","metrics":[{"name":"a","value":1}]}"#));
        assert!(!is_otlp_json(br#"{"metrics":[{"resourceMetrics":1}]}"#), "only top-level keys count");
        assert!(!is_otlp_json(br#"{"resourceMetrics""#), "not JSON");
        assert!(!is_otlp_json(b"{}"));
    }

    #[test]
    fn our_envelope_refuses_an_otlp_document_rather_than_taking_it() {
        use crate::ingest::json::{BodyKind, split_body};
        let err = split_body(JSON.as_bytes(), BodyKind::Json).unwrap_err();
        assert!(err.contains("unknown field `resourceMetrics`"), "{err}");
    }

    #[test]
    fn answers_in_the_requests_encoding() {
        let json = response(2, "metric `x` (sum) dataPoints[0]: why".into(), Encoding::Json);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["partialSuccess"]["rejectedDataPoints"], 2);
        assert_eq!(v["partialSuccess"]["errorMessage"], "metric `x` (sum) dataPoints[0]: why");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&response(0, String::new(), Encoding::Json)).unwrap(),
            serde_json::json!({})
        );
        let proto = response(2, "why".into(), Encoding::Protobuf);
        let decoded = ExportMetricsServiceResponse::decode(proto.as_slice()).unwrap();
        assert_eq!(
            decoded.partial_success,
            Some(ExportMetricsPartialSuccess { rejected_data_points: 2, error_message: "why".into() })
        );
        assert!(response(0, String::new(), Encoding::Protobuf).is_empty());
        let s = Status::decode(status(code::UNAVAILABLE, "full".into(), Encoding::Protobuf).as_slice()).unwrap();
        assert_eq!((s.code, s.message.as_str()), (14, "full"));
        let s: serde_json::Value = serde_json::from_slice(&status(3, "bad".into(), Encoding::Json)).unwrap();
        assert_eq!(s, serde_json::json!({"code": 3, "message": "bad"}));
    }
}
