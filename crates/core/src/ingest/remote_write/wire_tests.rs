use prost::Message;

use super::budget::{Bounds, check};
use super::wire::*;
use crate::reasons::RefuseReason;

fn series(name: &str, samples: &[(f64, i64)]) -> TimeSeries {
    TimeSeries {
        labels: vec![Label { name: "__name__".into(), value: name.into() }],
        samples: samples.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect(),
    }
}

fn headers<'h>(encoding: Option<&'h str>, content_type: Option<&'h str>, version: Option<&'h str>) -> Headers<'h> {
    Headers { content_encoding: encoding, content_type, version }
}

#[test]
fn the_headers_prometheus_sends_pass_and_each_wrong_one_is_named() {
    let ok = headers(Some("snappy"), Some("application/x-protobuf"), Some("0.1.0"));
    assert_eq!(check_headers(&ok), Ok(()));
    assert_eq!(check_headers(&headers(Some("SNAPPY"), Some("application/x-protobuf"), None)), Ok(()));
    let v1 = headers(Some("snappy"), Some("application/x-protobuf;proto=prometheus.WriteRequest"), None);
    assert_eq!(check_headers(&v1), Ok(()));
    let missing = check_headers(&headers(None, Some("application/x-protobuf"), Some("0.1.0"))).unwrap_err();
    assert!(missing.contains("Content-Encoding is missing"), "{missing}");
    let gzip = check_headers(&headers(Some("gzip"), Some("application/x-protobuf"), None)).unwrap_err();
    assert!(gzip.contains("must be snappy") && gzip.contains("gzip"), "{gzip}");
    let json = check_headers(&headers(Some("snappy"), Some("application/json"), None)).unwrap_err();
    assert!(json.contains("application/x-protobuf") && json.contains("application/json"), "{json}");
    assert!(check_headers(&headers(Some("snappy"), None, None)).unwrap_err().contains("Content-Type is missing"));
    let v2 = headers(Some("snappy"), Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"), None);
    assert!(check_headers(&v2).unwrap_err().contains("only remote-write 1.0"));
    let version = check_headers(&headers(Some("snappy"), Some("application/x-protobuf"), Some("2.0.0"))).unwrap_err();
    assert!(version.contains("0.1.0") && version.contains("2.0.0"), "{version}");
}

#[test]
fn a_request_round_trips_through_snappy_block_format() {
    let request = WriteRequest { timeseries: vec![series("up", &[(1.0, 1_000)]), series("x_total", &[(5.0, 2_000)])] };
    let body = encode(&request);
    assert_eq!(decode(&body, Bounds::default()), Ok(request));
    // A request of metadata only (field 3, as Prometheus sends every minute) has no series.
    let metadata = [0x1a, 0x02, 0x08, 0x01];
    let body = snap::raw::Encoder::new().compress_vec(&metadata).unwrap();
    assert_eq!(decode(&body, Bounds::default()), Ok(WriteRequest::default()));
}

#[test]
fn framed_snappy_and_garbage_are_malformed_with_a_reason() {
    let request = WriteRequest { timeseries: vec![series("up", &[(1.0, 1_000)])] };
    let mut framed = Vec::new();
    {
        use std::io::Write;
        let mut w = snap::write::FrameEncoder::new(&mut framed);
        w.write_all(&request.encode_to_vec()).unwrap();
    }
    assert!(framed.starts_with(FRAMED_MAGIC));
    let Err(Refusal::Malformed(why)) = decode(&framed, Bounds::default()) else { panic!("framed accepted") };
    assert!(why.contains("framed snappy is not remote-write's block format"), "{why}");
    let Err(Refusal::Malformed(why)) = decode(b"\x05garbage", Bounds::default()) else { panic!() };
    assert!(why.contains("not snappy block format"), "{why}");
    // Valid snappy around bytes that are no WriteRequest.
    let body = snap::raw::Encoder::new().compress_vec(b"\x0a\xff\xff").unwrap();
    let Err(Refusal::Malformed(why)) = decode(&body, Bounds::default()) else { panic!() };
    assert!(why.contains("not a protobuf prometheus.WriteRequest"), "{why}");
    assert!(matches!(decode(b"", Bounds::default()), Err(Refusal::Malformed(_))));
    // Labels that are not UTF-8.
    let bad = [0x0a, 0x06, 0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe];
    let body = snap::raw::Encoder::new().compress_vec(&bad).unwrap();
    assert!(matches!(decode(&body, Bounds::default()), Err(Refusal::Malformed(_))));
}

#[test]
fn the_decompressed_length_is_checked_before_decompressing() {
    // A header claiming 100 MB, and nothing behind it: refused by its header alone.
    let mut bomb = Vec::new();
    let mut n: u64 = 100 * 1024 * 1024;
    while n >= 0x80 {
        bomb.push((n as u8) | 0x80);
        n >>= 7;
    }
    bomb.push(n as u8);
    let bounds = Bounds { max_decoded_bytes: 1024 * 1024, ..Bounds::default() };
    assert_eq!(decode(&bomb, bounds), Err(Refusal::TooLarge { decoded: 100 * 1024 * 1024, max: 1024 * 1024 }));
    let big = WriteRequest { timeseries: vec![series(&"x".repeat(2000), &[(1.0, 1)])] };
    let bounds = Bounds { max_decoded_bytes: 1000, ..Bounds::default() };
    assert!(matches!(decode(&encode(&big), bounds), Err(Refusal::TooLarge { max: 1000, .. })));
}

#[test]
fn series_samples_and_labels_are_counted_before_decoding() {
    let bounds = Bounds { max_series: 2, max_samples: 3, max_labels: 2, ..Bounds::default() };
    let two = WriteRequest { timeseries: vec![series("a", &[(1.0, 1), (2.0, 2)]), series("b", &[(1.0, 1)])] };
    assert_eq!(check(&two.encode_to_vec(), bounds), Ok(()));
    let three = WriteRequest { timeseries: vec![series("a", &[]), series("b", &[]), series("c", &[])] };
    let too_much = check(&three.encode_to_vec(), bounds).unwrap_err().unwrap();
    assert_eq!(too_much.reason, RefuseReason::TooManySeries);
    assert!(too_much.message.contains("max_series_per_request"), "{}", too_much.message);
    let four =
        WriteRequest { timeseries: vec![series("a", &[(1.0, 1), (2.0, 2)]), series("b", &[(1.0, 1), (2.0, 2)])] };
    let too_much = check(&four.encode_to_vec(), bounds).unwrap_err().unwrap();
    assert_eq!(too_much.reason, RefuseReason::TooManySamples);
    let mut wide = series("a", &[]);
    wide.labels.extend((0..2).map(|i| Label { name: format!("l{i}"), value: "v".into() }));
    let too_much = check(&WriteRequest { timeseries: vec![wide] }.encode_to_vec(), bounds).unwrap_err().unwrap();
    assert_eq!(too_much.reason, RefuseReason::TooManyLabels);
    assert!(too_much.message.starts_with("timeseries[0].labels"), "{}", too_much.message);
    // The refusal comes through decode too, as 413 material.
    let Err(Refusal::TooMuch(t)) = decode(&encode(&three), bounds) else { panic!() };
    assert_eq!(t.reason, RefuseReason::TooManySeries);
}

#[test]
fn the_stale_marker_is_one_nan_among_many() {
    assert!(is_stale_marker(f64::from_bits(0x7ff0_0000_0000_0002)));
    assert!(!is_stale_marker(f64::NAN));
    assert!(!is_stale_marker(1.0));
}

/// The seeds of `fuzz/fuzz_targets/remote_write.rs`: bodies as Prometheus sends them. Written
/// again with `REMOTE_WRITE_CORPUS=write`; checked to decode either way.
#[test]
fn the_fuzz_corpus_is_remote_write() {
    let l = |name: &str, value: &str| Label { name: name.into(), value: value.into() };
    let named = |name: &str, labels: &[(&str, &str)], samples: &[(f64, i64)]| {
        let mut s = series(name, samples);
        s.labels.extend(labels.iter().map(|(k, v)| l(k, v)));
        s
    };
    let job = [("instance", "127.0.0.1:8000"), ("job", "shop")];
    let histogram = |at: i64, n: f64, with_sum: bool| {
        let mut out: Vec<TimeSeries> = [("0.1", n), ("1", 2.0 * n), ("+Inf", 3.0 * n)]
            .iter()
            .map(|(le, v)| named("latency_seconds_bucket", &[job[0], job[1], ("le", le)], &[(*v, at)]))
            .collect();
        out.push(named("latency_seconds_count", &job, &[(3.0 * n, at)]));
        if with_sum {
            out.push(named("latency_seconds_sum", &job, &[(2.55 * n, at)]));
        }
        out
    };
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let seeds: Vec<(&str, WriteRequest)> = vec![
        (
            "gauge_and_counter",
            WriteRequest {
                timeseries: vec![
                    named("up", &job, &[(1.0, 1_000)]),
                    named("http_requests_total", &[job[0], job[1], ("code", "200")], &[(10.0, 1_000), (15.0, 2_000)]),
                ],
            },
        ),
        ("histogram", WriteRequest { timeseries: [histogram(1_000, 1.0, true), histogram(2_000, 2.0, true)].concat() }),
        ("histogram_without_sum", WriteRequest { timeseries: histogram(1_000, 1.0, false) }),
        (
            "summary_and_stale",
            WriteRequest {
                timeseries: vec![
                    named("rpc_seconds", &[job[0], ("quantile", "0.5")], &[(0.2, 1_000)]),
                    named("rpc_seconds_count", &job, &[(4.0, 1_000)]),
                    named("rpc_seconds_sum", &job, &[(1.5, 1_000)]),
                    named("jobs_total", &[("pod", "a")], &[(3.0, 1_000), (stale, 2_000), (1.0, 3_000)]),
                    named("jobs_total", &[("pod", "b")], &[(7.0, 1_000)]),
                ],
            },
        ),
        (
            "odd_labels",
            WriteRequest {
                timeseries: vec![
                    TimeSeries { labels: vec![l("job", "x")], samples: vec![Sample { value: 1.0, timestamp: 1 }] },
                    named("twice", &[("a", "1"), ("a", "2")], &[(1.0, 1)]),
                    named("empty", &[("a", "")], &[(f64::NAN, 1), (-1.0, 2)]),
                    named("bad_bucket", &[("le", "fast")], &[(1.0, 1)]),
                ],
            },
        ),
        ("metadata_only", WriteRequest::default()),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/remote_write");
    if std::env::var_os("REMOTE_WRITE_CORPUS").is_some_and(|v| v == "write") {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, request) in &seeds {
            std::fs::write(dir.join(name), encode(request)).unwrap();
        }
    }
    for (name, request) in &seeds {
        let body = std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("fuzz/corpus/remote_write/{name}: {e}"));
        // Compared as protobuf: a NaN is not equal to itself.
        let decoded = decode(&body, Bounds::default()).map(|r| r.encode_to_vec());
        assert_eq!(decoded, Ok(request.encode_to_vec()), "{name}");
    }
}
