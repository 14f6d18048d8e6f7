//! Thin wrappers over the hot path's stages for the micro-benchmarks in `benches/`, which
//! see only the crate's public items. Not an API: hidden from the docs, and free to change
//! with the internals it wraps. Each stage is one call per record, as the pipeline makes it.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::ManualClock;
use crate::ingest::http::submit::submit_body;
use crate::pipeline::{Input, Pipeline, Settings};
use crate::telemetry::Telemetry;
use cw_core::domain::payload::Payload;
use cw_core::ingest::json::{BodyKind, parse_record, split_body};
use cw_core::pipeline::aggregate::plan::Plan;
use cw_core::pipeline::aggregate::{Aggregator, ClosedWindow};
use cw_core::pipeline::candidate::{Candidate, Context};
use cw_core::pipeline::validate::{Defaults, Memo, Sample, validate_with};
use cw_core::publish::batch::into_batches;
use cw_core::publish::datum::{Datum, datums_for};

/// The benches' "now": records without a timestamp fall in this minute.
pub const NOW_MS: i64 = 1_800_000_000_000;

/// A JSON array body (`POST /v1/metrics`) split into its records, unparsed.
pub fn split(body: &[u8]) -> Vec<&[u8]> {
    split_body(body, BodyKind::Json).expect("a JSON array of records").items
}

/// One record parsed into a candidate, as the HTTP input reads it (the same deserializer
/// as its one-pass path, without the array around it).
pub fn parse(item: &[u8]) -> Candidate<'_> {
    parse_record(item).expect("a valid record")
}

/// The configured fallbacks (namespace `Bench`, no default dimensions), and the memo of the
/// last namespace and name that passed, kept from record to record as in one submission.
pub struct Validator {
    defaults: Defaults,
    memo: RefCell<Memo>,
}

impl Default for Validator {
    fn default() -> Self {
        Validator {
            defaults: Defaults { namespace: Some("Bench".into()), ..Default::default() },
            memo: RefCell::default(),
        }
    }
}

impl Validator {
    /// Checks one candidate (its values are taken out of it: hand a fresh one each time).
    pub fn check(&self, candidate: &mut Candidate<'_>) -> bool {
        validate_with(candidate, &Context::default(), &self.defaults, NOW_MS, Some(&mut self.memo.borrow_mut())).is_ok()
    }

    /// The valid records, for the later stages.
    pub fn samples<'s>(&'s self, candidates: &'s mut [Candidate<'_>]) -> Samples<'s> {
        let mut memo = Memo::default();
        Samples(
            candidates
                .iter_mut()
                .filter_map(|c| validate_with(c, &Context::default(), &self.defaults, NOW_MS, Some(&mut memo)).ok())
                .collect(),
        )
    }
}

/// Valid records.
pub struct Samples<'s>(Vec<Sample<'s>>);

impl Samples<'_> {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the series key of record `i` to `out`.
    pub fn encode_key(&self, i: usize, out: &mut Vec<u8>) {
        self.0[i].encode_key(out);
    }

    /// Series keys, windows and payloads, as a submission holds them before aggregation.
    pub fn keyed(self) -> Keyed {
        let mut keys = Vec::new();
        let items = self
            .0
            .into_iter()
            .map(|s| {
                let start = keys.len();
                s.encode_key(&mut keys);
                (start..keys.len(), s.window_start_ms(), s.payload)
            })
            .collect();
        Keyed { keys, items }
    }
}

/// Records ready for the aggregator.
pub struct Keyed {
    keys: Vec<u8>,
    items: Vec<(Range<usize>, i64, Payload)>,
}

impl Keyed {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The map of series to open windows.
#[derive(Default)]
pub struct Aggregation(Aggregator);

impl Aggregation {
    /// Adds record `i` of `keyed` to its series-window (its payload cloned, its plan made,
    /// as a submission does for each record); returns the slots the window grew by.
    pub fn add(&self, keyed: &Keyed, i: usize) -> usize {
        let (key, window, payload) = &keyed.items[i];
        self.0.add(&keyed.keys[key.clone()], *window, Plan::of(payload.clone()))
    }

    pub fn active_series(&self) -> usize {
        self.0.active_series()
    }

    /// Takes out every window, open ones too (as `/v1/flush` does).
    pub fn drain(&self) -> Closed {
        Closed(self.0.drain(None, 0))
    }
}

/// Windows taken out of the aggregator.
pub struct Closed(Vec<ClosedWindow>);

impl Closed {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Windows to datums to PutMetricData requests, as a flush makes them; returns the
    /// number of requests and of datums.
    pub fn batches(&self) -> (usize, usize) {
        let datums: Vec<Datum> = self.0.iter().flat_map(datums_for).collect();
        let n = datums.len();
        (into_batches(datums).len(), n)
    }
}

/// A pipeline as the HTTP input sees it, with a clock that stands still at [`NOW_MS`].
pub struct HttpPipeline(Pipeline);

impl HttpPipeline {
    pub fn new(max_buffered_datums: usize) -> HttpPipeline {
        let settings = Settings {
            defaults: Validator::default().defaults,
            max_buffered: max_buffered_datums,
            window_grace: Duration::from_secs(2),
            retry_after: Duration::from_secs(1),
            series_warning: usize::MAX,
        };
        HttpPipeline(Pipeline::new(settings, Arc::new(Telemetry::default()), ManualClock::new(NOW_MS)))
    }

    /// A `POST /v1/metrics` body read into the pipeline (the HTTP input's whole path after
    /// the body is read); returns the records accepted.
    pub fn submit(&self, body: &[u8]) -> usize {
        match submit_body(&self.0, Input::HTTP, body, BodyKind::Json).map(|f| f.now()) {
            Ok(Ok(accepted)) => accepted.accepted,
            _ => 0,
        }
    }

    /// Empties the buffer.
    pub fn drain(&self) -> usize {
        let closed = self.0.drain(true);
        let slots = closed.iter().map(|c| c.window.slots()).sum();
        self.0.budget().release(slots);
        closed.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The benches never run in CI: this runs each wrapper once, so that a change to the
    /// internals that breaks one is caught by `cargo test`.
    #[test]
    fn every_stage_runs_on_a_small_body() {
        let body = br#"[{"name":"Latency","value":1.5,"unit":"Milliseconds","dimensions":{"Route":"/a"}},
                        {"name":"Latency","value":2.5,"unit":"Milliseconds","dimensions":{"Route":"/b"}},
                        {"name":"Latency","value":3.5,"unit":"Milliseconds","dimensions":{"Route":"/a"}}]"#;
        let mut candidates: Vec<_> = split(body).into_iter().map(parse).collect();
        assert_eq!(candidates.len(), 3);
        let validator = Validator::default();
        assert!(validator.check(&mut candidates[0].clone()));
        let samples = validator.samples(&mut candidates);
        let mut key = Vec::new();
        samples.encode_key(0, &mut key);
        assert!(!key.is_empty());
        let keyed = samples.keyed();
        let aggregation = Aggregation::default();
        let grown: usize = (0..keyed.len()).map(|i| aggregation.add(&keyed, i)).sum();
        assert_eq!((grown, aggregation.active_series()), (2, 2));
        let closed = aggregation.drain();
        assert_eq!((closed.len(), closed.batches()), (2, (1, 2)));

        let pipeline = HttpPipeline::new(1000);
        assert_eq!(pipeline.submit(body), 3);
        assert_eq!(pipeline.drain(), 2);
    }
}
