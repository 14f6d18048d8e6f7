//! The remote-write path from the body's bytes to candidates: the snappy block, the
//! decoded-size budget walk and `WriteRequest` decoding, then the conversion against a small
//! state, twice (the second time with every timestamp later and every value larger, so that it
//! meets the state the first left: increases, resets, held histograms, the state's bounds),
//! and a rollback. It must never panic, and what it hands the pipeline must hold its promises:
//! on a fresh state every sample has exactly one outcome, at most 30 dimensions and 150
//! values (with as many counts) per candidate, the state within its bounds, and a rollback
//! gives the state back as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;

use cw_core::domain::{limits, payload};
use cw_core::ingest::prometheus::rules::Rules;
use cw_core::ingest::remote_write::budget::Bounds;
use cw_core::ingest::remote_write::convert::{Converted, convert};
use cw_core::ingest::remote_write::state::{self, State};
use cw_core::ingest::remote_write::wire;
use cw_core::reasons::RemoteWriteOutcome as Outcome;

const MAX_SERIES: usize = 16;
const MAX_BYTES: usize = 4096;

fn check(c: &mut Converted<'_>, state: &State) {
    assert_eq!(c.candidates.len(), c.samples_of.len());
    assert!(c.samples_of.iter().sum::<usize>() <= c.outcome(Outcome::Published));
    assert!(state.len() <= MAX_SERIES && state.bytes() <= MAX_BYTES);
    for candidate in &mut c.candidates {
        assert!(candidate.dimensions.len() <= limits::MAX_DIMENSIONS);
        if let Some(values) = &candidate.values.values {
            assert!(values.len() <= limits::MAX_VALUES_PER_DATUM);
            assert_eq!(Some(values.len()), candidate.values.counts.as_ref().map(Vec::len));
        }
        let _ = payload::Payload::check(&mut candidate.values);
    }
}

fuzz_target!(|data: &[u8]| {
    let bounds = Bounds { max_decoded_bytes: 1 << 20, max_series: 1_000, max_samples: 2_000, max_labels: 64 };
    let Ok(request) = wire::decode(data, bounds) else { return };
    let rules = Rules { drop_labels: vec!["pod".into()], ..Rules::default() };
    let mut state = State::new(state::Bounds { max_series: MAX_SERIES, max_bytes: MAX_BYTES, idle_ms: 60_000 });
    let mut first = convert(&request, &rules, &mut state, 1_000);
    check(&mut first, &state);
    let outcomes = [Outcome::Published, Outcome::Baseline, Outcome::Held, Outcome::Ignored, Outcome::Rejected];
    let taken: usize = outcomes.iter().map(|o| first.outcome(*o)).sum();
    assert_eq!(taken, first.outcome(Outcome::Received), "each sample has one outcome");
    state.commit();
    let (len, bytes) = (state.len(), state.bytes());
    let mut later = request.clone();
    for series in &mut later.timeseries {
        for s in &mut series.samples {
            s.timestamp = s.timestamp.saturating_add(15_000);
            s.value *= 1.5;
        }
    }
    let mut second = convert(&later, &rules, &mut state, 2_000);
    check(&mut second, &state);
    state.rollback();
    assert_eq!((state.len(), state.bytes()), (len, bytes), "a rollback gives the state back");
    let mut again = convert(&later, &rules, &mut state, 2_000);
    assert_eq!(again.candidates.len(), second.candidates.len(), "after a rollback, the same again");
    check(&mut again, &state);
    let _ = wire::check_headers(&wire::Headers {
        content_encoding: std::str::from_utf8(data.get(..8).unwrap_or_default()).ok(),
        content_type: Some("application/x-protobuf"),
        version: None,
    });
});
