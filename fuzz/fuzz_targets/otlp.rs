//! The OTLP path from bytes to candidates, over a sequence of requests against one cumulative
//! state: the input is decoded (protobuf, or OTLP JSON when it starts with `{`) within a small
//! decoded-size budget, then converted four times at later and later times, the second and
//! fourth time changed as senders change their points (values down, NaN, start times back or
//! forward, bucket counts down; which, chosen by the input's last byte), so that later points
//! meet the streams earlier ones left: increases, resets, start times going back, rejected
//! readings, rebases, the count and byte bounds. Each pass is also taken back and converted
//! again, as when the pipeline refuses a request and the client retries: the retry must
//! publish exactly what the first try did. It must never panic, and what it hands the pipeline
//! must hold its promises: every point has exactly one outcome, at most 30 dimensions, at most
//! 150 values per candidate with as many counts, and every candidate's values pass or fail the
//! pipeline's payload check cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

use cw_core::domain::{limits, payload};
use cw_core::ingest::otlp::budget::Bounds;
use cw_core::ingest::otlp::convert::{Converted, Settings, convert_with, take_back};
use cw_core::ingest::otlp::streams::{self, Streams};
use cw_core::ingest::otlp::wire;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};

const MAX_STREAMS: usize = 8;
const MAX_BYTES: usize = 2_048;

fn published(c: &Converted<'_>) -> String {
    format!("{:?}", c.candidates.iter().map(|c| (&c.values, &c.dimensions)).collect::<Vec<_>>())
}

fn check(c: Converted<'_>) {
    assert_eq!(c.candidates.len(), c.point_of.len());
    let mut outcomes = vec![0u8; c.points.len()];
    for &(p, _) in &c.refused {
        outcomes[p] += 1;
    }
    let mut published: Vec<usize> = c.point_of.clone();
    published.dedup();
    for p in published {
        outcomes[p] += 1;
    }
    assert_eq!(outcomes.iter().filter(|&&o| o == 0).count(), c.empty, "each point has one outcome");
    assert!(outcomes.iter().all(|&o| o <= 1));
    for mut candidate in c.candidates {
        assert!(candidate.dimensions.len() <= limits::MAX_DIMENSIONS);
        if let Some(values) = &candidate.values.values {
            assert!(values.len() <= limits::MAX_VALUES_PER_DATUM);
            assert_eq!(Some(values.len()), candidate.values.counts.as_ref().map(Vec::len));
        }
        let _ = payload::Payload::check(&mut candidate.values);
    }
}

/// The request as a sender might send it next: `how` picks the change.
fn changed(request: &ExportMetricsServiceRequest, how: u8) -> ExportMetricsServiceRequest {
    let mut next = request.clone();
    let metrics = next.resource_metrics.iter_mut().flat_map(|r| &mut r.scope_metrics).flat_map(|s| &mut s.metrics);
    for data in metrics.filter_map(|m| m.data.as_mut()) {
        match data {
            Data::Sum(s) => s.data_points.iter_mut().for_each(|p| {
                match how % 4 {
                    0 => p.value = Some(number_data_point::Value::AsDouble(f64::NAN)),
                    1 => p.start_time_unix_nano = p.start_time_unix_nano.saturating_sub(1),
                    2 => p.start_time_unix_nano = p.start_time_unix_nano.saturating_add(1),
                    _ => {
                        if let Some(number_data_point::Value::AsDouble(v)) = &mut p.value {
                            *v -= 1.0;
                        }
                    }
                }
                p.time_unix_nano = p.time_unix_nano.saturating_add(1_000_000_000);
            }),
            Data::Histogram(h) => h.data_points.iter_mut().for_each(|p| {
                if how % 2 == 0 {
                    p.bucket_counts.iter_mut().for_each(|c| *c = c.saturating_sub(1));
                    p.count = p.bucket_counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
                } else {
                    p.start_time_unix_nano = p.start_time_unix_nano.saturating_sub(1);
                }
            }),
            Data::Summary(s) => s.data_points.iter_mut().for_each(|p| p.count = p.count.saturating_sub(u64::from(how))),
            _ => {}
        }
    }
    next
}

fuzz_target!(|data: &[u8]| {
    let settings = Settings { resource_dimensions: vec!["service.name".into(), "host.name".into()], started_ms: 1_000 };
    let mut streams = Streams::new(streams::Bounds { max_streams: MAX_STREAMS, max_bytes: MAX_BYTES, idle_ms: 60_000 });
    let budget = Bounds { max_points: 2_000, max_buckets_per_point: 300 };
    let encoding = if data.first() == Some(&b'{') { wire::Encoding::Json } else { wire::Encoding::Protobuf };
    let Ok(decoded) = wire::decode(data, encoding, budget) else { return };
    let how = data.last().copied().unwrap_or(0);
    let sequence = [
        decoded.request.clone(),
        changed(&decoded.request, how),
        decoded.request.clone(),
        changed(&decoded.request, how >> 2),
    ];
    let mut now = 2_000;
    for (pass, request) in sequence.iter().enumerate() {
        now += 10_000;
        // The decoder's own faults are by position: the changes above move no point.
        let before = (streams.len(), streams.bytes());
        let first = convert_with(request, &decoded.faults, &settings, &mut streams, now);
        assert!(streams.len() <= MAX_STREAMS && streams.bytes() <= MAX_BYTES);
        let tried = published(&first);
        take_back(&mut streams, first.undo, |_| true, now);
        assert_eq!((streams.len(), streams.bytes()), before, "taking a request back leaves the state as it was");
        let retry = convert_with(request, &decoded.faults, &settings, &mut streams, now);
        assert_eq!(published(&retry), tried, "the retry publishes what the first try did");
        check(retry);
        if pass == 2 {
            streams.expire(now + 55_000);
        }
    }
    let _ = wire::response(1, String::new(), wire::Encoding::Json);
});
