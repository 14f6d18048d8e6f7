//! The OTLP path from protobuf bytes to candidates: `ExportMetricsServiceRequest` decoding,
//! then the conversion of every point kind (twice, so that the second pass meets the
//! cumulative state the first one left: increases, resets, rebases, the stream bound). It
//! must never panic, and what it hands the pipeline must hold its promises: every point has
//! exactly one outcome, at most 30 dimensions, at most 150 values per candidate with as many
//! counts, and every candidate's values pass or fail the pipeline's payload check cleanly.
//!
//! Like the other targets, the input's sources are compiled in here from their files, with
//! the few things they borrow from the crate, so the whole crate is not built with sanitizers.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod domain {
    pub mod dimensions {
        use std::borrow::Cow;
        /// As in `src/domain/dimensions.rs`.
        pub type GivenDimensions<'a> = smallvec::SmallVec<[(Cow<'a, str>, Cow<'a, str>); 4]>;
    }
    pub mod timestamp {
        use std::borrow::Cow;
        /// As in `src/domain/timestamp.rs`.
        #[allow(dead_code)]
        #[derive(Debug, Clone, PartialEq)]
        pub enum GivenTime<'a> {
            EpochMillis(i64),
            Rfc3339(Cow<'a, str>),
        }
    }
    pub(crate) use super::{domain_error as error, domain_units as units, limits, payload};
}

#[allow(dead_code)]
#[path = "../../src/domain/units.rs"]
mod domain_units;
#[allow(dead_code)]
#[path = "../../src/domain/error.rs"]
mod domain_error;
#[allow(dead_code)]
#[path = "../../src/domain/limits.rs"]
mod limits;
#[allow(dead_code)]
#[path = "../../src/domain/payload.rs"]
mod payload;
#[allow(dead_code)]
#[path = "../../src/telemetry/reasons.rs"]
mod reasons;
mod telemetry {
    pub(crate) use super::reasons;
}
#[allow(dead_code)]
#[path = "../../src/pipeline/candidate.rs"]
mod candidate;
mod pipeline {
    pub(crate) use super::candidate;
}
#[allow(dead_code)]
#[path = "../../src/ingest/buckets.rs"]
mod buckets;
#[allow(dead_code)]
#[path = "../../src/ingest/cumulative.rs"]
mod cumulative;
mod ingest {
    pub(crate) use super::{buckets, cumulative};
}
// `convert` finds these as `super::units` and `super::attributes`.
#[allow(dead_code)]
#[path = "../../src/ingest/otlp/attributes.rs"]
mod attributes;
#[allow(dead_code)]
#[path = "../../src/ingest/otlp/units.rs"]
mod units;
#[allow(dead_code)]
#[path = "../../src/ingest/otlp/convert.rs"]
mod convert;
#[allow(dead_code)]
#[path = "../../src/ingest/otlp/wire.rs"]
mod wire;

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
