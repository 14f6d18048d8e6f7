//! The OTLP path from protobuf bytes to candidates: `ExportMetricsServiceRequest` decoding,
//! then the conversion of every point kind (twice, so that the second pass meets the
//! cumulative state the first one left: increases, resets, rebases, the stream bound). It
//! must never panic, and what it hands the pipeline must hold its promises: every point has
//! exactly one outcome, at most 30 dimensions, at most 150 values per candidate with as many
//! counts, and every candidate's values pass or fail the pipeline's payload check cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

use cw_core::domain::{limits, payload};
use cw_core::ingest::cumulative;
use cw_core::ingest::otlp::{convert, wire};

use convert::{Settings, convert};
use cumulative::Streams;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = wire::decode(data, wire::Encoding::Protobuf) else { return };
    let settings = Settings { resource_dimensions: vec!["service.name".into(), "host.name".into()], started_ms: 1_000 };
    let mut streams = Streams::new(8, 60_000);
    for now in [2_000, 3_000] {
        let c = convert(&request, &settings, &mut streams, now);
        assert!(streams.len() <= 8);
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
    let _ = wire::response(1, String::new(), wire::Encoding::Json);
});
