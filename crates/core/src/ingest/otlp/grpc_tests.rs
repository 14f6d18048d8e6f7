use std::io::Write;

use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric::Data, number_data_point,
};

use super::*;

const MAX: usize = 4 << 20;

fn request(points: usize) -> ExportMetricsServiceRequest {
    let data_points = (0..points)
        .map(|i| NumberDataPoint {
            time_unix_nano: 1_700_000_000_000_000_000,
            value: Some(number_data_point::Value::AsDouble(i as f64)),
            ..Default::default()
        })
        .collect();
    let metric = Metric { name: "m".into(), data: Some(Data::Gauge(Gauge { data_points })), ..Default::default() };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics { metrics: vec![metric], ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn compressed_frame(message: &[u8]) -> Vec<u8> {
    let mut frame = framed(message);
    frame[0] = 1;
    frame
}

fn failure(body: &[u8], compression: Compression) -> Failure {
    decode(body, compression, MAX, Bounds::default()).unwrap_err()
}

#[test]
fn a_framed_request_decodes_as_its_protobuf_plain_or_gzip() {
    let r = request(3);
    let bytes = r.encode_to_vec();
    assert_eq!(decode(&framed(&bytes), Compression::Identity, MAX, Bounds::default()).unwrap().request, r);
    let gzipped = compressed_frame(&gz(&bytes));
    assert_eq!(decode(&gzipped, Compression::Gzip, MAX, Bounds::default()).unwrap().request, r);
    // An uncompressed message in a gzip call is fine: the flag says which each message is.
    assert_eq!(decode(&framed(&bytes), Compression::Gzip, MAX, Bounds::default()).unwrap().request, r);
    // An empty message is an empty request.
    assert_eq!(
        decode(&framed(&[]), Compression::Identity, MAX, Bounds::default()).unwrap().request,
        Default::default()
    );
}

#[test]
fn bad_frames_are_invalid_arguments_naming_the_problem() {
    let bytes = request(2).encode_to_vec();
    let full = framed(&bytes);
    let cases: [(&[u8], Compression, &str); 6] = [
        (&[], Compression::Identity, "fewer than the 5"),
        (&full[..3], Compression::Identity, "fewer than the 5"),
        (&full[..full.len() - 1], Compression::Identity, "truncated"),
        (&[full.clone(), full.clone()].concat(), Compression::Identity, "exactly one"),
        (&compressed_frame(&bytes), Compression::Identity, "no grpc-encoding"),
        (&compressed_frame(b"not gzip"), Compression::Gzip, "not valid gzip"),
    ];
    for (body, compression, what) in cases {
        let f = failure(body, compression);
        assert_eq!((f.code, f.reason), (code::INVALID_ARGUMENT, RefuseReason::MalformedBody), "{what}: {f:?}");
        assert!(f.message.contains(what), "{what}: {}", f.message);
    }
    let mut flag = full.clone();
    flag[0] = 2;
    assert!(failure(&flag, Compression::Identity).message.contains("compressed flag 2"));
    let f = failure(&framed(b"\xff\xff\xff"), Compression::Identity);
    assert_eq!(f.code, code::INVALID_ARGUMENT);
    assert!(f.message.starts_with("body is not a protobuf"), "{}", f.message);
}

#[test]
fn a_length_over_the_bound_is_refused_from_its_prefix_alone() {
    // A 100 MB length prefix, and nothing after it: refused before anything is read.
    let head = [0u8, 0x05, 0xf5, 0xe1, 0x00];
    let f = frame_length(&head, MAX).unwrap_err();
    assert_eq!((f.code, f.reason), (code::RESOURCE_EXHAUSTED, RefuseReason::TooLarge));
    assert!(f.message.contains("100000000 bytes, over grpc_max_message_bytes (4194304 bytes)"), "{}", f.message);
    assert_eq!(frame_length(&head[..4], MAX), Ok(None), "not yet known");
    assert_eq!(frame_length(&[0, 0, 0, 1, 0], MAX), Ok(Some(PREFIX + 256)));
    assert_eq!(failure(&head, Compression::Identity).code, code::RESOURCE_EXHAUSTED);
    // Exactly at the bound is taken.
    let bytes = request(1).encode_to_vec();
    assert!(decode(&framed(&bytes), Compression::Identity, bytes.len(), Bounds::default()).is_ok());
    let f = decode(&framed(&bytes), Compression::Identity, bytes.len() - 1, Bounds::default()).unwrap_err();
    assert_eq!(f.code, code::RESOURCE_EXHAUSTED);
}

#[test]
fn a_gzip_bomb_stops_at_the_bound() {
    let bomb = compressed_frame(&gz(&vec![0u8; 8 << 20]));
    assert!(bomb.len() < 64 * 1024);
    let f = failure(&bomb, Compression::Gzip);
    assert_eq!((f.code, f.reason), (code::RESOURCE_EXHAUSTED, RefuseReason::TooLarge), "{f:?}");
    assert!(f.message.contains("once decompressed"));
    let mut trailing = gz(&request(1).encode_to_vec());
    trailing.extend_from_slice(b"xx");
    assert!(failure(&compressed_frame(&trailing), Compression::Gzip).message.contains("after the gzip stream"));
}

#[test]
fn the_decoded_size_budget_is_otlp_https() {
    let bounds = Bounds { max_points: 10, max_buckets_per_point: 10 };
    let f = decode(&framed(&request(11).encode_to_vec()), Compression::Identity, MAX, bounds).unwrap_err();
    assert_eq!((f.code, f.reason), (code::RESOURCE_EXHAUSTED, RefuseReason::TooManyPoints), "{f:?}");
    assert!(f.message.contains("max_points_per_request"));
    assert!(decode(&framed(&request(10).encode_to_vec()), Compression::Identity, MAX, bounds).is_ok());
}

#[test]
fn compressions_taken() {
    assert_eq!(compression(None), Some(Compression::Identity));
    assert_eq!(compression(Some("identity")), Some(Compression::Identity));
    assert_eq!(compression(Some("gzip")), Some(Compression::Gzip));
    assert_eq!(compression(Some("snappy")), None);
    assert_eq!(compression(Some("zstd")), None);
}

#[test]
fn answers() {
    let framed_response = response(2, "metric `m` (gauge) dataPoints[0]: why".into());
    assert_eq!(framed_response[0], 0);
    let len = u32::from_be_bytes(framed_response[1..5].try_into().unwrap()) as usize;
    assert_eq!(len, framed_response.len() - PREFIX);
    let r = ExportMetricsServiceResponse::decode(&framed_response[PREFIX..]).unwrap();
    let p = r.partial_success.unwrap();
    assert_eq!((p.rejected_data_points, p.error_message.as_str()), (2, "metric `m` (gauge) dataPoints[0]: why"));
    assert_eq!(response(0, String::new()), vec![0, 0, 0, 0, 0], "a full success is an empty message");

    assert_eq!(percent_encoded("a b%c"), "a b%25c");
    assert_eq!(percent_encoded("naïve\n"), "na%C3%AFve%0A");

    let details = RichStatus::decode(status_details(14, "full", Some(Duration::from_millis(1500))).as_slice()).unwrap();
    assert_eq!((details.code, details.message.as_str(), details.details.len()), (14, "full", 1));
    assert_eq!(details.details[0].type_url, RETRY_INFO_TYPE);
    let info = RetryInfo::decode(details.details[0].value.as_slice()).unwrap();
    assert_eq!(info.retry_delay, Some(ProtoDuration { seconds: 1, nanos: 500_000_000 }));
    assert!(RichStatus::decode(status_details(3, "bad", None).as_slice()).unwrap().details.is_empty());
}
