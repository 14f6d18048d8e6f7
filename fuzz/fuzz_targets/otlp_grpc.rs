//! The OTLP/gRPC path from a call's body to candidates: the length-prefixed frame (its flag,
//! its length against a small bound, checked from the prefix alone and again on the whole
//! body), gzip within the bound when the flag says so (and the same body under the other
//! compression, so that a flag without `grpc-encoding` is met too), then the OTLP protobuf
//! decoding within the decoded-size budget and the conversion against a fresh cumulative
//! state. It must never panic, and it must hold its promises: the prefix alone decides the
//! frame's length as the whole body does, a message is never over the bound, every refusal
//! names a gRPC code the listener answers with, the answers' `grpc-message` is printable ASCII
//! and their details decode, and every point converted has exactly one outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;

use cw_core::ingest::otlp::budget::Bounds;
use cw_core::ingest::otlp::convert::{Settings, convert_with};
use cw_core::ingest::otlp::grpc::{self, Compression, PREFIX};
use cw_core::ingest::otlp::streams::{self, Streams};
use cw_core::ingest::otlp::wire::code;

const MAX_MESSAGE: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let bounds = Bounds { max_points: 2_000, max_buckets_per_point: 300 };
    // The prefix alone says what the whole body says.
    let whole = grpc::frame_length(data, MAX_MESSAGE);
    for cut in 0..data.len().min(PREFIX + 1) {
        let early = grpc::frame_length(&data[..cut], MAX_MESSAGE);
        if cut < PREFIX {
            assert_eq!(early, Ok(None));
        } else {
            assert_eq!(early, whole);
        }
    }
    if let Ok(Some(total)) = whole {
        assert!(total - PREFIX <= MAX_MESSAGE);
    }
    let flagged = if data.first() == Some(&1) { Compression::Gzip } else { Compression::Identity };
    let other = if flagged == Compression::Gzip { Compression::Identity } else { Compression::Gzip };
    for compression in [flagged, other] {
        if let Ok(message) = grpc::message(data, compression, MAX_MESSAGE) {
            assert!(message.len() <= MAX_MESSAGE);
        }
        let decoded = match grpc::decode(data, compression, MAX_MESSAGE, bounds) {
            Ok(decoded) => decoded,
            Err(f) => {
                assert!([code::INVALID_ARGUMENT, code::RESOURCE_EXHAUSTED].contains(&f.code), "{f:?}");
                let encoded = grpc::percent_encoded(&f.message);
                assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)));
                let details = grpc::status_details(f.code, &f.message, None);
                assert_eq!(grpc::RichStatus::decode(details.as_slice()).map(|s| s.code), Ok(f.code));
                continue;
            }
        };
        let settings = Settings { resource_dimensions: vec!["service.name".into()], started_ms: 1_000 };
        let mut state = Streams::new(streams::Bounds { max_streams: 8, max_bytes: 2_048, idle_ms: 60_000 });
        let c = convert_with(&decoded.request, &decoded.faults, &settings, &mut state, 2_000);
        assert_eq!(c.candidates.len(), c.point_of.len());
        let mut outcomes = vec![0u8; c.points.len()];
        for &(p, _) in &c.refused {
            outcomes[p] += 1;
        }
        let mut published = c.point_of.clone();
        published.dedup();
        for p in published {
            outcomes[p] += 1;
        }
        assert_eq!(outcomes.iter().filter(|&&o| o == 0).count(), c.empty, "each point has one outcome");
        assert!(outcomes.iter().all(|&o| o <= 1));
        let answer = grpc::response(c.refused.len() as i64, String::new());
        assert_eq!(answer.len(), PREFIX + u32::from_be_bytes([answer[1], answer[2], answer[3], answer[4]]) as usize);
    }
});
